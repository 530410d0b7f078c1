/**
 * The original's defaults (docs/protocol.md §6), kept so its users feel at home.
 * @module
 */

/** Defaults shared by the server, the client and the CLIs. */
export const DEFAULTS = {
  /** Interface the server listens on (`--host`). */
  serverHost: 'localhost',
  /** Port the server listens on (`--port`). */
  serverPort: 1234,
  /** Host the client dials (`--host`); must be in the server certificate. */
  clientHost: 'localhost',
  /** Ports the client tries, in order (`--ports`). */
  clientPorts: [3115, 7883, 8235, 38154, 1234, 55532] as readonly number[],
  /** CA certificate both sides trust (`--ca-cert`). */
  caCert: 'certificates/ca_cert.pem',
  /** Server certificate (`--server-cert`). */
  serverCert: 'certificates/server-cert.pem',
  /** Server private key (`--server-key`). */
  serverKey: 'certificates/server-key.pem',
  /** Client certificate (`--client-cert`). */
  clientCert: 'certificates/client_cert.pem',
  /** Client private key (`--private-key`). */
  clientKey: 'certificates/ec_private_key.pem',
  /** Folder `tlslp certs` writes to (`--dir`). */
  certificatesDir: 'certificates',
  /** Time allowed to solve WORK, in seconds (`--work-timeout`). */
  workTimeoutSeconds: 1800,
  /** Time allowed for every other step, in seconds (`--other-timeout`). */
  otherTimeoutSeconds: 10,
  /** TLS handshake deadline of the server, in seconds (`--handshake-timeout`). */
  handshakeTimeoutSeconds: 10,
  /** Most sessions at once (`--max-connections`). */
  maxConnections: 10_000,
  /** Most sessions at once from one IP; 0 = no limit (`--max-per-ip`). */
  maxPerIp: 0,
  /** Most connections in their TLS handshake at once (`--max-handshakes`). */
  maxHandshakes: 1000,
  /** Most connections in their TLS handshake from one IP (`--max-handshakes-per-ip`). */
  maxHandshakesPerIp: 32,
  /** Most bytes a client sends before its handshake completes (`--max-handshake-bytes`). */
  maxHandshakeBytes: 16_384,
  /** Most certificates in a client chain, leaf included (`--max-chain-depth`). */
  maxChainDepth: 4,
  /** Failed handshakes per minute one IP may have before it is refused (`--max-handshake-failures-per-ip`). */
  maxHandshakeFailuresPerIp: 30,
  /** WORK difficulty: trailing zero bits (`--n_bits`). */
  nBits: 28,
  /** Body requests per session in normal mode. */
  bodyRequests: 20,
  /** Most body requests the client answers in one session (`--max-requests`). */
  clientMaxRequests: 100,
  /** The client's whole-session deadline is the WORK timeout plus this (`--session-timeout`). */
  clientSessionSlackSeconds: 120,
  /** Least severe level logged (`--log-level`). */
  logLevel: 'INFO',
  /** The original's fixed token: tutorial mode only, or `--token`. */
  tutorialToken: 'gkcjcibIFynKssuJnJpSrgvawiVjLjEbdFuYQzuWROTeTaSmqFCAzuwkwLCRgIIq',
  /** The original's fixed body argument: tutorial mode only, or `--random-string`. */
  tutorialArg: 'LGTk',
  /** Length of the fresh random token of each connection. */
  randomTokenLength: 64,
  /** Length of the fresh random argument of each body request. */
  randomArgLength: 8,
} as const;
