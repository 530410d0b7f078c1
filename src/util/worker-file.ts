/**
 * Where a worker thread's entry file is, from the module that starts it.
 * @module
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The worker entry `file` next to the module at `moduleUrl` when built, else its build under
 * dist/ (when running from the TypeScript sources, as vitest does); `found` is null when
 * neither exists.
 */
export function workerEntry(
  file: string,
  moduleUrl: string,
): { found: string | null; path: string; built: string } {
  const here = new URL(file, moduleUrl);
  const path = fileURLToPath(here);
  const built = path.replace(/([\\/])src([\\/])(?!.*[\\/]src[\\/])/, '$1dist$2');
  if (existsSync(path)) return { found: here.href, path, built };
  if (built !== path && existsSync(built)) return { found: built, path, built };
  return { found: null, path, built };
}
