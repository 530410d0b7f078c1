/**
 * The original's defaults (docs/protocol.md §6), kept so its users feel at home: a summary
 * read from the option tables, which hold them. Every value here is a table's default, and
 * each field's comment is that entry's description, written by `npm run docs:options` (a
 * hand-written text here would be a second description to keep in step). The tutorial's fixed
 * token and argument are the session planner's (`TUTORIAL_TOKEN`, `TUTORIAL_ARG` in
 * server/plans.ts).
 * @module
 */
import { CERTS_OPTIONS } from './certs.js';
import { CLIENT_OPTIONS, SESSION_SLACK_MS } from './client.js';
import { SERVER_OPTIONS } from './server.js';

const S = SERVER_OPTIONS;
const C = CLIENT_OPTIONS;
const R = CERTS_OPTIONS;

/** Defaults shared by the server, the client and the CLIs. */
export const DEFAULTS = {
  /** Interface to listen on (`--host`). */
  serverHost: S.host.default,
  /** Port to listen on (0 = any free port) (`--port`). */
  serverPort: S.port.default,
  /** Server host; must match the server certificate (`--host`). */
  clientHost: C.host.default,
  /** Ports tried in order (`--ports`). */
  clientPorts: C.ports.default as readonly number[],
  /** CA certificate that issues client certificates (PEM) (`--ca-cert`). */
  caCert: S.caCert.default,
  /** Server certificate (PEM) (`--server-cert`). */
  serverCert: S.serverCert.default,
  /** Server private key (PEM) (`--server-key`). */
  serverKey: S.serverKey.default,
  /** Client certificate (PEM) (`--client-cert`). */
  clientCert: C.clientCert.default,
  /** Client private key (PEM) (`--private-key`). */
  clientKey: C.privateKey.default,
  /** Folder the certificates are written to (`--dir`). */
  certificatesDir: R.dir.default,
  /** Time allowed to solve WORK (`--work-timeout`, in seconds). */
  workTimeoutSeconds: S.workTimeoutMs.default / 1000,
  /** Time allowed for every other reply (`--other-timeout`, in seconds). */
  otherTimeoutSeconds: S.otherTimeoutMs.default / 1000,
  /**
   * TLS handshake deadline, from the TCP accept; past half of `--max-handshakes` it shrinks (to 1 s
   * when full) (`--handshake-timeout`, in seconds).
   */
  handshakeTimeoutSeconds: S.handshakeTimeoutMs.default / 1000,
  /** Most sessions at once; past it new connections are closed before TLS (`--max-connections`). */
  maxConnections: S.maxConnections.default,
  /** Most sessions at once from one IP address (0 = no limit) (`--max-per-ip`). */
  maxPerIp: S.maxPerIp.default,
  /**
   * Most connections still in their TLS handshake; past half, the handshake deadline shrinks (to 1
   * s when full) (`--max-handshakes`).
   */
  maxHandshakes: S.maxHandshakes.default,
  /**
   * Most connections still in their TLS handshake from one IP address (`--max-handshakes-per-ip`).
   */
  maxHandshakesPerIp: S.maxHandshakesPerIp.default,
  /**
   * Most bytes a client sends before its handshake completes; cut before its chain is checked (0 =
   * no limit) (`--max-handshake-bytes`).
   */
  maxHandshakeBytes: S.maxHandshakeBytes.default,
  /**
   * Most certificates in a client chain, leaf and root included (0 = no limit)
   * (`--max-chain-depth`).
   */
  maxChainDepth: S.maxChainDepth.default,
  /**
   * Failures per minute one IP may have before it is refused before TLS: failed handshakes and
   * sessions dropped before WORK is solved; a burst of 5 (0 = no limit)
   * (`--max-handshake-failures-per-ip`).
   */
  maxHandshakeFailuresPerIp: S.maxHandshakeFailuresPerIp.default,
  /**
   * WORK difficulty, 0..64 trailing zero bits; `auto`: follows the load between `--min-bits` and
   * `--max-bits` (`--n_bits`).
   */
  nBits: S.nBits.default,
  /** Body requests per session in normal mode (`bodyRequests`). */
  bodyRequests: S.bodyRequests.default,
  /**
   * Most body requests answered in one session (the protocol sends 20); past it the client stops,
   * exit 1 (`--max-requests`).
   */
  clientMaxRequests: C.maxRequests.default,
  /** The client's whole-session deadline is the WORK timeout plus this (`--session-timeout`). */
  clientSessionSlackSeconds: SESSION_SLACK_MS / 1000,
  /**
   * Least severe level logged: `DEBUG`, `INFO`, `WARNING`, `ERROR`, `CRITICAL` (case-insensitive;
   * `WARN`, `FATAL` too) (`--log-level`).
   */
  logLevel: S.logLevel.default,
} as const;
