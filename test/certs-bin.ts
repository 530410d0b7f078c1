/** `tlslp certs …` run as a user runs it (the built bin, a process each), for the certs tests. */
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { expect } from 'vitest';

/** The built umbrella bin. */
export const TLSLP = resolve(import.meta.dirname, '..', 'dist', 'cli', 'tlslp.js');

/** How a run ended and what it printed. */
export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run `tlslp ...args`; resolves with its exit code and output, whatever the code. */
export function tlslp(...args: string[]): Promise<Run> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [TLSLP, ...args],
      { env: { ...process.env, NO_COLOR: '1' }, timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err ? (err as { code?: unknown }).code : 0;
        done({ code: typeof code === 'number' ? code : 1, stdout, stderr });
      },
    );
  });
}

/** Succeeded: exit 0 and nothing on stderr. */
export async function ok(...args: string[]): Promise<string> {
  const r = await tlslp(...args);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return r.stdout;
}

/** Failed with exit 2 and one `tlslp: error: …` line on stderr matching `pattern`, no stack. */
export async function refused(pattern: RegExp, ...args: string[]): Promise<string> {
  const r = await tlslp(...args);
  expect(r.code, r.stdout).toBe(2);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^tlslp: error: /);
  expect(lines[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  return lines[0] as string;
}
