/**
 * The original's defaults (PROTOCOL §6), kept so its users feel at home.
 * @module
 */

/** Defaults shared by the server, the client and the CLIs. */
export const DEFAULTS = {
  serverHost: 'localhost',
  serverPort: 1234,
  clientHost: 'localhost',
  clientPorts: [3115, 7883, 8235, 38154, 1234, 55532] as readonly number[],
  caCert: 'certificates/ca_cert.pem',
  serverCert: 'certificates/server-cert.pem',
  serverKey: 'certificates/server-key.pem',
  clientCert: 'certificates/client_cert.pem',
  clientKey: 'certificates/ec_private_key.pem',
  certificatesDir: 'certificates',
  workTimeoutSeconds: 1800,
  otherTimeoutSeconds: 10,
  handshakeTimeoutSeconds: 10,
  nBits: 28,
  bodyRequests: 20,
  logLevel: 'INFO',
  /** The original's fixed token: tutorial mode only, or `--token`. */
  tutorialToken: 'gkcjcibIFynKssuJnJpSrgvawiVjLjEbdFuYQzuWROTeTaSmqFCAzuwkwLCRgIIq',
  /** The original's fixed body argument: tutorial mode only, or `--random-string`. */
  tutorialArg: 'LGTk',
  randomTokenLength: 64,
  randomArgLength: 8,
} as const;
