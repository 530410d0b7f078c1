/**
 * `tlslp/server`: the server, its session loop, adaptive difficulty and metrics. Loads no
 * X.509 code (certificates are `tlslp/certs`; TLS file helpers `tlslp/tls`).
 * @module
 */
export {
  TlslpServer,
  createServer,
  type ResolvedServerOptions,
  type ServerOptions,
  type ServerStats,
  type SessionReport,
  type TlsReloadResult,
} from './server.js';
export { AdaptiveDifficulty, type AdaptiveOptions, type DifficultyChange } from './adaptive.js';
export type { FleetIdentities, IdentityLoadOptions } from './identity-load.js';
export {
  MemoryStore,
  parseStateUrl,
  maskStateUrl,
  STATE_URL_FORM,
  type AcquireReply,
  type AcquireRequest,
  type FleetLoad,
  type IdentityReport,
  type Lease,
  type LoadFigures,
  type LoadReport,
  type SpendRequest,
  type StateUrl,
  type StoreBackend,
} from '../state/index.js';
export type { ResolvedServerTable } from '../options/server.js';
export {
  RELOADABLE_SERVER_OPTIONS,
  type OptionChange,
  type ReloadableOption,
  type ServerReconfiguration,
} from './reconfigure.js';
export type { WarningLimitOptions } from './warn-limit.js';
export {
  ServerMetrics,
  serveHealth,
  serveMetrics,
  type HttpListener,
  type HttpListenerOptions,
  type MetricsText,
  type Readiness,
} from './metrics.js';
export type { ClientIdentity } from './identity.js';
export {
  SERVER_CHANNELS,
  subscribeServer,
  type ConnectionAcceptedEvent,
  type ConnectionRefusedEvent,
  type DifficultyChangedEvent,
  type HandshakeFailedEvent,
  type HandshakesEvent,
  type IdentityBitsChange,
  type IdentityDifficultyEvent,
  type IdentityLoad,
  type RefusalReason,
  type ServerEventHandlers,
  type ServerEvents,
  type SessionEndedEvent,
  type SessionRefusedEvent,
  type SessionStartedEvent,
  type TlsPart,
  type TlsReloadedEvent,
  type WorkAcceptedEvent,
} from './events.js';
export { TUTORIAL_ARG, TUTORIAL_TOKEN } from './plans.js';
export {
  FAIL_REASONS,
  runServerSession,
  type SessionLog,
  type SessionOutcome,
  type SessionPlan,
} from './session.js';
