// @ts-check
// A folder for PATH that holds what bin/tlslp needs (sh, readlink, uname) and no node: a
// `tlslp work <token> <n_bits>` run with only it on PATH succeeds only on the native solver
// program. Used by scripts/pack-check.mjs and bench/versus.mjs.
import { existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Make `dir` (created if missing) such a folder and return it. Throws when a tool is in
 * neither /bin nor /usr/bin.
 * @param {string} dir
 */
export function pathWithoutNode(dir) {
  mkdirSync(dir, { recursive: true });
  for (const tool of ['sh', 'readlink', 'uname']) {
    const found = ['/bin', '/usr/bin'].map((d) => join(d, tool)).find((p) => existsSync(p));
    if (!found) throw new Error(`${tool} not found in /bin or /usr/bin`);
    if (!existsSync(join(dir, tool))) symlinkSync(found, join(dir, tool));
  }
  return dir;
}
