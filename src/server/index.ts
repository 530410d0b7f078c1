/**
 * `tlslp/server`: the server, its session loop, adaptive difficulty and metrics. Loads no
 * X.509 code (certificates are `tlslp/certs`; TLS file helpers `tlslp/tls`).
 * @module
 */
export {
  TlslpServer,
  createServer,
  type ServerOptions,
  type ServerStats,
  type SessionReport,
} from './server.js';
export { AdaptiveDifficulty, type AdaptiveOptions, type DifficultyChange } from './adaptive.js';
export { ServerMetrics, serveMetrics } from './metrics.js';
export {
  FAIL_REASONS,
  runServerSession,
  type SessionLog,
  type SessionOutcome,
  type SessionPlan,
} from './session.js';
