/**
 * Where log files live by default (XDG Base Directory: the state folder).
 * @module
 */
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';

/**
 * The log folder: `$XDG_STATE_HOME/tlslp/logs`, or `~/.local/state/tlslp/logs` when
 * `XDG_STATE_HOME` is unset, empty or relative (the XDG spec says to ignore relative paths).
 * @param env environment to read (default `process.env`); `HOME` in it is preferred to the OS's idea of home.
 */
export function defaultLogDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_STATE_HOME;
  const home = env.HOME && isAbsolute(env.HOME) ? env.HOME : homedir();
  const base = xdg && isAbsolute(xdg) ? xdg : join(home, '.local', 'state');
  return join(base, 'tlslp', 'logs');
}

/** Path of the log file of a role: `<defaultLogDir(env)>/server.log` or `…/client.log`. */
export function logFilePath(
  role: 'server' | 'client',
  env: NodeJS.ProcessEnv = process.env,
): string {
  return join(defaultLogDir(env), `${role}.log`);
}
