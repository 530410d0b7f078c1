/**
 * The option tables of every command, and their resolvers.
 * @module
 */
import { CERTS_OPTIONS } from './certs.js';
import { CLIENT_OPTIONS } from './client.js';
import type { OptionTable } from './core.js';
import { SERVER_OPTIONS } from './server.js';
import { WORK_OPTIONS } from './work.js';

export * from './core.js';
export { CERTS_OPTIONS, resolveCertsOptions, type CertsOptions } from './certs.js';
export { CLIENT_OPTIONS, resolveClientCommand, resolveClientOptions } from './client.js';
export { SERVER_OPTIONS, resolveServerCommand, resolveServerOptions } from './server.js';
export { SOLVER_OPTIONS, resolveSolverOptions } from './solver.js';
export { WORK_OPTIONS, resolveWorkOptions, type WorkOptions } from './work.js';

/** Each command's table, by the name the docs' markers use (`options:server:start`). */
export const COMMAND_OPTIONS: Readonly<
  Record<'server' | 'client' | 'work' | 'certs', OptionTable>
> = {
  server: SERVER_OPTIONS,
  client: CLIENT_OPTIONS,
  work: WORK_OPTIONS,
  certs: CERTS_OPTIONS,
};
