/**
 * The option tables of every command, and their resolvers.
 * @module
 */
import { LOGGER_OPTIONS } from '../logging/options.js';
import {
  CERTS_CLIENT_OPTIONS,
  CERTS_CRL_LIB_OPTIONS,
  CERTS_CRL_OPTIONS,
  CERTS_OPTIONS,
  CERTS_REVOKE_LIB_OPTIONS,
  CERTS_REVOKE_OPTIONS,
  CERTS_SERVER_OPTIONS,
  CERTS_SHOW_OPTIONS,
} from './certs.js';
import { CLIENT_LIB_OPTIONS, CLIENT_OPTIONS } from './client.js';
import { DEMO_OPTIONS } from './demo.js';
import type { OptionTable } from './core.js';
import { SERVER_LIB_OPTIONS, SERVER_OPTIONS } from './server.js';
import { SOLVER_OPTIONS } from './solver.js';
import { WORK_OPTIONS } from './work.js';

export * from './core.js';
export {
  CERTS_CLIENT_OPTIONS,
  CERTS_CRL_CLI_OPTIONS,
  CERTS_CRL_LIB_OPTIONS,
  CERTS_CRL_OPTIONS,
  CERTS_OPTIONS,
  CERTS_REVOKE_CLI_OPTIONS,
  CERTS_REVOKE_LIB_OPTIONS,
  CERTS_REVOKE_OPTIONS,
  CERTS_SERVER_OPTIONS,
  CERTS_SHOW_CLI_OPTIONS,
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
export { WORK_CLI_OPTIONS, WORK_OPTIONS, resolveWorkOptions, type WorkOptions } from './work.js';

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

/**
 * The library's tables, by the function or class that takes their options: an entry is the
 * library's when it sits in one of these (the others are the CLI's own). The JSDoc of the
 * library's option types is written from these entries (`npm run docs:options`).
 */
export const LIBRARY_OPTIONS: Readonly<Record<string, OptionTable>> = {
  TlslpServer: SERVER_LIB_OPTIONS,
  runClient: CLIENT_LIB_OPTIONS,
  solveWork: SOLVER_OPTIONS,
  runDemo: DEMO_OPTIONS,
  makeCertificates: CERTS_OPTIONS,
  issueClientCertificate: CERTS_CLIENT_OPTIONS,
  issueServerCertificate: CERTS_SERVER_OPTIONS,
  revokeCertificate: CERTS_REVOKE_LIB_OPTIONS,
  initCrl: CERTS_CRL_LIB_OPTIONS,
  createLogger: LOGGER_OPTIONS,
};
