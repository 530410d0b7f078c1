/**
 * Fleet state: the limits a fleet of servers shares through a store (Redis or Valkey with
 * `--state`, or the cluster primary with `--workers N`), with local fallback.
 * @module
 */
export type {
  AcquireReply,
  AcquireRequest,
  FleetLoad,
  IdentityReport,
  Lease,
  LoadFigures,
  LoadReport,
  SpendRequest,
  StoreBackend,
} from './backend.js';
export { CircuitBreaker, type BreakerOptions, type BreakerState } from './breaker.js';
export {
  FleetState,
  LEASE_TTL_MS,
  STATE_DEADLINE_MS,
  type Admission,
  type FleetStateOptions,
  type StateOp,
} from './fleet.js';
export { MemoryStore } from './memory.js';
export { PrimaryStore, WorkerStateHost } from './ipc.js';
export { RedisStore, type RedisStoreOptions } from './redis.js';
export { STATE_URL_FORM, maskStateUrl, parseStateUrl, type StateUrl } from './url.js';
