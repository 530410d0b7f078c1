/**
 * The original's defaults (docs/protocol.md §6), kept so its users feel at home: a summary
 * read from the option tables, which hold them. The tutorial's fixed token and argument are
 * the session planner's (`TUTORIAL_TOKEN`, `TUTORIAL_ARG` in server/plans.ts).
 * @module
 */
import { CLIENT_OPTIONS, SESSION_SLACK_MS } from './client.js';
import { SERVER_OPTIONS } from './server.js';
import { CERTIFICATES_DIR } from './shared.js';

const S = SERVER_OPTIONS;
const C = CLIENT_OPTIONS;

/** Defaults shared by the server, the client and the CLIs. */
export const DEFAULTS = {
  /** Interface the server listens on (`--host`). */
  serverHost: S.host.default,
  /** Port the server listens on (`--port`). */
  serverPort: S.port.default,
  /** Host the client dials (`--host`); must be in the server certificate. */
  clientHost: C.host.default,
  /** Ports the client tries, in order (`--ports`). */
  clientPorts: C.ports.default as readonly number[],
  /** CA certificate both sides trust (`--ca-cert`). */
  caCert: S.caCert.default,
  /** Server certificate (`--server-cert`). */
  serverCert: S.serverCert.default,
  /** Server private key (`--server-key`). */
  serverKey: S.serverKey.default,
  /** Client certificate (`--client-cert`). */
  clientCert: C.clientCert.default,
  /** Client private key (`--private-key`). */
  clientKey: C.privateKey.default,
  /** Folder `tlslp certs` writes to (`--dir`). */
  certificatesDir: CERTIFICATES_DIR,
  /** Time allowed to solve WORK, in seconds (`--work-timeout`). */
  workTimeoutSeconds: S.workTimeoutMs.default / 1000,
  /** Time allowed for every other step, in seconds (`--other-timeout`). */
  otherTimeoutSeconds: S.otherTimeoutMs.default / 1000,
  /** TLS handshake deadline of the server, in seconds (`--handshake-timeout`). */
  handshakeTimeoutSeconds: S.handshakeTimeoutMs.default / 1000,
  /** Most sessions at once (`--max-connections`). */
  maxConnections: S.maxConnections.default,
  /** Most sessions at once from one IP; 0 = no limit (`--max-per-ip`). */
  maxPerIp: S.maxPerIp.default,
  /** Most connections in their TLS handshake at once (`--max-handshakes`). */
  maxHandshakes: S.maxHandshakes.default,
  /** Most connections in their TLS handshake from one IP (`--max-handshakes-per-ip`). */
  maxHandshakesPerIp: S.maxHandshakesPerIp.default,
  /** Most bytes a client sends before its handshake completes (`--max-handshake-bytes`). */
  maxHandshakeBytes: S.maxHandshakeBytes.default,
  /** Most certificates in a client chain, leaf included (`--max-chain-depth`). */
  maxChainDepth: S.maxChainDepth.default,
  /** Failed handshakes per minute one IP may have before it is refused (`--max-handshake-failures-per-ip`). */
  maxHandshakeFailuresPerIp: S.maxHandshakeFailuresPerIp.default,
  /** WORK difficulty: trailing zero bits (`--n_bits`). */
  nBits: S.nBits.default,
  /** Body requests per session in normal mode. */
  bodyRequests: S.bodyRequests.default,
  /** Most body requests the client answers in one session (`--max-requests`). */
  clientMaxRequests: C.maxRequests.default,
  /** The client's whole-session deadline is the WORK timeout plus this (`--session-timeout`). */
  clientSessionSlackSeconds: SESSION_SLACK_MS / 1000,
  /** Least severe level logged (`--log-level`). */
  logLevel: S.logLevel.default,
} as const;
