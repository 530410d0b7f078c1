/**
 * How the PKI functions write files: a new file is created exclusively (an existing one is never
 * replaced by accident), a replaced one atomically (a reader sees the old or the new, never half).
 * @module
 */
import { randomBytes } from 'node:crypto';
import { rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { exists, writePrivately } from './generate.js';
import { ConfigError } from '../errors/index.js';

/** A file to write: its path, text and mode. */
export interface FileToWrite {
  path: string;
  data: string;
  mode: number;
}

/**
 * Write `files`, refusing (before writing anything) when one already exists, unless `force`.
 * New files are created with O_EXCL, so a file appearing meanwhile is not overwritten either;
 * should that happen, the files written so far are removed again.
 * @param options.forceable whether the caller has a `force` (the error then says so)
 * @throws ConfigError `TLSLP_ERR_CERT_EXISTS` (with `forceable`) or `TLSLP_ERR_CLIENT_CERT_EXISTS`
 *   naming the existing file(s), `TLSLP_ERR_CERT_WRITE` on a write failure.
 */
export async function writeNewFiles(
  files: readonly FileToWrite[],
  options: { force?: boolean; forceable?: boolean } = {},
): Promise<void> {
  if (!options.force) {
    const existing: string[] = [];
    for (const f of files) if (await exists(f.path)) existing.push(f.path);
    if (existing.length > 0) throw existsError(existing, options);
  }
  const written: string[] = [];
  let current = '';
  try {
    for (const f of files) {
      current = f.path;
      await writePrivately(f.path, f.data, f.mode, { exclusive: !options.force });
      written.push(f.path);
    }
  } catch (err) {
    if (!options.force) await Promise.all(written.map((p) => unlink(p).catch(() => {})));
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw existsError([(err as NodeJS.ErrnoException).path ?? '?'], options);
    }
    throw new ConfigError(
      'TLSLP_ERR_CERT_WRITE',
      { path: current, reason: (err as Error).message },
      { cause: err },
    );
  }
}

/**
 * Replace `path` with `data` atomically: write a temporary file beside it, then rename it over.
 * @throws ConfigError `TLSLP_ERR_CERT_WRITE` on a failure (the old file is left as it was).
 */
export async function writeAtomically(path: string, data: string, mode: number): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    // Synced first: a crash after the rename must not leave an empty file in place.
    await writePrivately(tmp, data, mode, { exclusive: true, sync: true });
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw new ConfigError(
      'TLSLP_ERR_CERT_WRITE',
      { path, reason: (err as Error).message },
      { cause: err },
    );
  }
}

function existsError(paths: string[], options: { forceable?: boolean }): ConfigError {
  const files = paths.join(', ');
  return options.forceable
    ? new ConfigError('TLSLP_ERR_CERT_EXISTS', {
        option: 'force',
        files,
        several: paths.length > 1,
      })
    : new ConfigError('TLSLP_ERR_CLIENT_CERT_EXISTS', { option: 'name', files });
}
