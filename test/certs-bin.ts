/**
 * `tlslp certs …` for the certs tests: `tlslp` runs the command's main in this process (see
 * cli-run.ts), `tlslpProcess` the built bin (dist/cli/tlslp.js) as a user runs it, for the
 * process contract. `ok` and `refused` check a run of either.
 */
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { expect } from 'vitest';
import { tlslpMain } from '../src/cli/tlslp.js';
import { runCli, type CliRun } from './cli-run.js';

/** The built umbrella bin. */
export const TLSLP = resolve(import.meta.dirname, '..', 'dist', 'cli', 'tlslp.js');

/** How a run ended and what it printed. */
export type Run = CliRun;

/** Run `tlslp ...args` in this process; resolves with its exit code and output, whatever the code. */
export function tlslp(...args: string[]): Promise<Run> {
  return runCli('tlslp', tlslpMain, args);
}

/** Run the built `tlslp` bin with `args`, a process; resolves as {@link tlslp} does. */
export function tlslpProcess(...args: string[]): Promise<Run> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [TLSLP, ...args],
      { env: { ...process.env, NO_COLOR: '1', TLSLP_DEBUG: '' }, timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err ? (err as { code?: unknown }).code : 0;
        done({ code: typeof code === 'number' ? code : 1, stdout, stderr });
      },
    );
  });
}

/** The run succeeded: exit 0 and nothing on stderr. Returns its stdout. */
export async function succeeded(run: Run | Promise<Run>): Promise<string> {
  const r = await run;
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return r.stdout;
}

/**
 * The run failed with exit 2 and one `tlslp: error: …` line on stderr matching `pattern`, no
 * stack. Returns that line.
 */
export async function failed(pattern: RegExp, run: Run | Promise<Run>): Promise<string> {
  const r = await run;
  expect(r.code, r.stdout).toBe(2);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^tlslp: error: /);
  expect(lines[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  return lines[0] as string;
}

/** `tlslp ...args` (in this process) succeeded: exit 0 and nothing on stderr. */
export function ok(...args: string[]): Promise<string> {
  return succeeded(tlslp(...args));
}

/** `tlslp ...args` (in this process) failed as {@link failed} says. */
export function refused(pattern: RegExp, ...args: string[]): Promise<string> {
  return failed(pattern, tlslp(...args));
}
