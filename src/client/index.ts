/**
 * `tlslp/client`: the client, one session's loop, and behaviour profiles. Loads no X.509
 * code (certificates are `tlslp/certs`); TLS file helpers are `tlslp/tls`.
 * @module
 */
export {
  builtinSolver,
  connectTls,
  externalSolver,
  runClient,
  type ClientEvent,
  type ClientOptions,
  type ClientResult,
  type PeerCertificateInfo,
} from './client.js';
export {
  runClientSession,
  type ClientSessionOptions,
  type ClientSessionResult,
  type SessionEvent,
  type WorkSolution,
  type WorkSolver,
} from './session.js';
export {
  DEFAULT_PROFILE,
  loadProfile,
  makeProfile,
  type LoadProfileOptions,
  type Profile,
} from './profile.js';
