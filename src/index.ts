/**
 * tlslp: the TLS Line Protocol. A mutual-TLS server and client that speak a small line
 * protocol (HELLO → WORK proof of work → info requests → DONE), and a fast solver.
 *
 * @example Run a server and a client in one process
 * ```ts
 * import { TlslpServer, closeSolverPool, generateCertificateSet, runClient } from 'tlslp';
 *
 * const certs = await generateCertificateSet();
 * const server = new TlslpServer({
 *   host: '127.0.0.1', port: 0, nBits: 16,
 *   simulateFailures: false, // no drawn FAIL: the session ends in DONE/OK
 *   tls: { cert: certs.serverCert, key: certs.serverKey, ca: certs.caCert },
 * });
 * const { port } = await server.listen();
 * try {
 *   const result = await runClient({
 *     host: '127.0.0.1', ports: [port],
 *     tls: { ca: certs.caCert, cert: certs.clientCert, key: certs.clientKey },
 *   });
 *   console.log(result.answered);
 * } finally {
 *   await server.close();
 *   await closeSolverPool();
 * }
 * ```
 * @packageDocumentation
 */
export * from './errors.js';
export { DEFAULTS } from './defaults.js';
export { VERSION } from './version.js';

export { LineDecoder, MAX_LINE_BYTES, encodeLine } from './protocol/framing.js';
export {
  BODY_COMMANDS,
  DONE_REPLY,
  HELLO_REPLY,
  MAX_N_BITS,
  MAX_TOKEN_LENGTH,
  formatBodyReply,
  formatServerMessage,
  isBodyCommand,
  isValidArg,
  isValidNBits,
  isValidSuffix,
  isValidToken,
  parseBodyReply,
  parseServerMessage,
  parseSuffixReply,
  splitCommand,
  type BodyCommand,
  type BodyReply,
  type ServerMessage,
} from './protocol/messages.js';
export {
  checksum,
  hasTrailingZeroBits,
  trailingZeroBits,
  verifyWork,
  workDigest,
} from './protocol/hash.js';
export { drawBodyCommand, randomToken, type BodyDraw } from './protocol/random.js';

export {
  SocketLineChannel,
  describeSocketError,
  type ChannelOptions,
  type LineChannel,
} from './transport/channel.js';
export {
  assertInsecureAllowed,
  isLoopbackHost,
  readPem,
  readTlsFiles,
  type PemFile,
  type TlsMaterial,
} from './tls.js';

export {
  TlslpServer,
  createServer,
  type ResolvedServerOptions,
  type ServerOptions,
  type ServerStats,
  type SessionReport,
} from './server/server.js';
export {
  AdaptiveDifficulty,
  type AdaptiveOptions,
  type DifficultyChange,
} from './server/adaptive.js';
export { ServerMetrics, serveMetrics } from './server/metrics.js';
export {
  SERVER_CHANNELS,
  subscribeServer,
  type ConnectionAcceptedEvent,
  type ConnectionRefusedEvent,
  type DifficultyChangedEvent,
  type HandshakeFailedEvent,
  type HandshakesEvent,
  type RefusalReason,
  type ServerEventHandlers,
  type ServerEvents,
  type SessionEndedEvent,
  type SessionStartedEvent,
  type WorkAcceptedEvent,
} from './server/events.js';
export {
  FAIL_REASONS,
  runServerSession,
  type SessionLog,
  type SessionOutcome,
  type SessionPlan,
} from './server/session.js';

export {
  builtinSolver,
  connectTls,
  externalSolver,
  runClient,
  type ClientEvent,
  type ClientOptions,
  type ClientResult,
} from './client/client.js';
export {
  runClientSession,
  type ClientSessionOptions,
  type ClientSessionResult,
  type SessionEvent,
  type WorkSolution,
  type WorkSolver,
} from './client/session.js';
export { DEFAULT_PROFILE, loadProfile, makeProfile, type Profile } from './client/profile.js';

export * from './solver/index.js';
export {
  checkSolverPath,
  parseSolverOutput,
  runExternalSolver,
  type ExternalSolveResult,
  type ExternalSolverOptions,
} from './solver/external.js';

// Named, not `export *`: certs.ts also exports @internal helpers for src/pki.
export {
  CERT_FILE_NAMES,
  generateCertificateSet,
  makeCertificates,
  readCertificateSet,
  writeCertificateSet,
  type CertificateSet,
  type GenerateOptions,
  type WrittenCertificates,
} from './certs.js';
export * from './pki/index.js';
export * from './logging.js';
export { runDemo, type DemoOptions, type DemoResult } from './demo.js';
