/**
 * The option tables of every command, and their resolvers.
 * @module
 */
import {
  CERTS_CLIENT_OPTIONS,
  CERTS_CRL_OPTIONS,
  CERTS_OPTIONS,
  CERTS_REVOKE_OPTIONS,
  CERTS_SERVER_OPTIONS,
  CERTS_SHOW_OPTIONS,
} from './certs.js';
import { CLIENT_OPTIONS } from './client.js';
import { DEMO_OPTIONS } from './demo.js';
import type { OptionTable } from './core.js';
import { SERVER_OPTIONS } from './server.js';
import { WORK_OPTIONS } from './work.js';

export * from './core.js';
export {
  CERTS_CLIENT_OPTIONS,
  CERTS_CRL_OPTIONS,
  CERTS_OPTIONS,
  CERTS_REVOKE_OPTIONS,
  CERTS_SERVER_OPTIONS,
  CERTS_SHOW_OPTIONS,
  resolveCertsOptions,
  type CertsOptions,
} from './certs.js';
export {
  CLIENT_CLI_OPTIONS,
  CLIENT_LIB_OPTIONS,
  CLIENT_OPTIONS,
  resolveClientCommand,
  resolveClientOptions,
} from './client.js';
export {
  SERVER_CLI_OPTIONS,
  SERVER_LIB_OPTIONS,
  SERVER_OPTIONS,
  resolveServerCommand,
  resolveServerOptions,
} from './server.js';
export { DEMO_OPTIONS, resolveDemoOptions, type DemoTableOptions } from './demo.js';
export { SOLVER_OPTIONS, resolveSolverOptions } from './solver.js';
export { WORK_OPTIONS, resolveWorkOptions, type WorkOptions } from './work.js';

/** The names of the commands with a table (a subcommand as `certs-client`). */
export type CommandName =
  | 'server'
  | 'client'
  | 'work'
  | 'demo'
  | 'certs'
  | 'certs-client'
  | 'certs-server'
  | 'certs-show'
  | 'certs-revoke'
  | 'certs-crl';

/** Each command's table, by the name the docs' markers use (`options:server:start`). */
export const COMMAND_OPTIONS: Readonly<Record<CommandName, OptionTable>> = {
  server: SERVER_OPTIONS,
  client: CLIENT_OPTIONS,
  work: WORK_OPTIONS,
  demo: DEMO_OPTIONS,
  certs: CERTS_OPTIONS,
  'certs-client': CERTS_CLIENT_OPTIONS,
  'certs-server': CERTS_SERVER_OPTIONS,
  'certs-show': CERTS_SHOW_OPTIONS,
  'certs-revoke': CERTS_REVOKE_OPTIONS,
  'certs-crl': CERTS_CRL_OPTIONS,
};
