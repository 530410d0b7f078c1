/**
 * Run an external solver with the original's interface (docs/protocol.md §5):
 * `<solver> <token> <n_bits>` prints `RESULT:<suffix>` and exits 0.
 * Hardened: no shell, minimal environment, bounded time and output, killed on timeout or
 * abort, only trusted files run.
 * @module
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access, lstat, realpath, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { ConfigError, SolverError } from '../errors/index.js';
import { isValidSuffix } from '../protocol/messages.js';

/** Options of {@link runExternalSolver}. */
export interface ExternalSolverOptions {
  /** Kill the solver after this long (the WORK timeout). */
  timeoutMs: number;
  /** Kills the solver when it fires. */
  signal?: AbortSignal;
}

/** What an external solve gives back. */
export interface ExternalSolveResult {
  /** The suffix from the `RESULT:` line (charset checked). */
  suffix: string;
  /** Wall-clock time from start to exit. */
  seconds: number;
}

const MAX_OUTPUT_BYTES = 64 * 1024;

/** A folder others may write to (a sticky one like /tmp still lets them swap a name). */
async function othersMayWrite(dir: string): Promise<boolean> {
  return ((await stat(dir)).mode & 0o002) !== 0;
}

/**
 * Refuse a solver path that is not a regular file, not executable, or writable by others
 * (the file or its folder). A symlink (npm's `node_modules/.bin/tlslp-work`) is followed to
 * the real file, which gets those checks; the link's own folder must not be writable by
 * others either, as the link could then be swapped. Resolves with the real file's path,
 * the one to run.
 * @throws ConfigError naming what to fix.
 */
export async function checkSolverPath(path: string): Promise<string> {
  const given = resolve(path);
  let full: string;
  let info;
  try {
    full = await realpath(given);
    info = await lstat(full);
  } catch {
    throw new ConfigError('TLSLP_ERR_SOLVER_PATH', {
      option: 'workBinary',
      path,
      missing: true,
    });
  }
  const linked = full !== given;
  const shown = linked ? `${path} (a link to ${full})` : path;
  if (linked && (await othersMayWrite(dirname(given))))
    throw new ConfigError('TLSLP_ERR_SOLVER_PATH', {
      option: 'workBinary',
      path,
      link: true,
    });
  path = shown;
  if (!info.isFile())
    throw new ConfigError('TLSLP_ERR_SOLVER_PATH', {
      option: 'workBinary',
      path,
      notFile: true,
    });
  if ((info.mode & 0o111) === 0)
    throw new ConfigError('TLSLP_ERR_SOLVER_PATH', {
      option: 'workBinary',
      path,
      noExecBit: true,
    });
  try {
    await access(full, constants.X_OK);
  } catch {
    throw new ConfigError('TLSLP_ERR_SOLVER_PATH', {
      option: 'workBinary',
      path,
      notExecutable: true,
    });
  }
  if (info.mode & 0o002)
    throw new ConfigError('TLSLP_ERR_SOLVER_PATH', {
      option: 'workBinary',
      path,
      othersWrite: true,
    });
  // A sticky world-writable folder (like /tmp) still lets others swap the file's name; refuse it too.
  if (await othersMayWrite(dirname(full)))
    throw new ConfigError('TLSLP_ERR_SOLVER_PATH', {
      option: 'workBinary',
      path,
      folderOthersWrite: true,
    });
  return full;
}

/** Pick the suffix from the solver's output: exactly the `RESULT:` line. */
export function parseSolverOutput(stdout: string): string {
  const line = stdout.split('\n').find((l) => l.startsWith('RESULT:'));
  if (line === undefined) throw new SolverError('TLSLP_ERR_SOLVER_OUTPUT', { noResult: true });
  const suffix = line.slice('RESULT:'.length).replace(/\r$/, '');
  if (!isValidSuffix(suffix)) throw new SolverError('TLSLP_ERR_SOLVER_OUTPUT', { badSuffix: true });
  return suffix;
}

/**
 * Run the solver at `path` for `WORK token nBits`. The suffix is checked for its charset
 * here; the caller checks that it solves the challenge.
 */
export async function runExternalSolver(
  path: string,
  token: string,
  nBits: number,
  options: ExternalSolverOptions,
): Promise<ExternalSolveResult> {
  const file = await checkSolverPath(path);
  const started = process.hrtime.bigint();
  const child = spawn(file, [token, String(nBits)], {
    shell: false,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: '/usr/local/bin:/usr/bin:/bin', LANG: 'C' },
    // Own process group, so a timeout kills whatever the solver started too.
    detached: true,
  });
  let stdout = '';
  let stderr = '';
  let overflow = false;
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    if (stdout.length + d.length > MAX_OUTPUT_BYTES) overflow = true;
    else stdout += d;
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    if (stderr.length < 4096) stderr += d;
  });

  const kill = (): void => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    } catch {
      child.kill('SIGKILL');
    }
  };
  let stopped: 'timeout' | 'aborted' | null = null;
  const timer = setTimeout(() => {
    stopped = 'timeout';
    kill();
  }, options.timeoutMs);
  const onAbort = (): void => {
    stopped = 'aborted';
    kill();
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) onAbort();

  const [code, sig] = await new Promise<[number | null, NodeJS.Signals | null]>(
    (resolveExit, rejectExit) => {
      child.once('error', (err) =>
        rejectExit(
          new SolverError('TLSLP_ERR_SOLVER_START', { reason: err.message }, { cause: err }),
        ),
      );
      child.once('close', (c, s) => resolveExit([c, s]));
    },
  ).finally(() => {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
  });

  if (stopped === 'timeout')
    throw new SolverError('TLSLP_ERR_SOLVER_TIMEOUT', { seconds: options.timeoutMs / 1000 });
  if (stopped === 'aborted')
    throw new SolverError('TLSLP_ERR_SOLVE_ABORTED', { solverStopped: true });
  if (overflow) throw new SolverError('TLSLP_ERR_SOLVER_OUTPUT', { tooMuch: true });
  if (code !== 0) {
    throw new SolverError('TLSLP_ERR_SOLVER_EXIT', {
      signal: sig ?? undefined,
      exitCode: code ?? 'none',
      stderr: stderr.trim().split('\n')[0],
    });
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { suffix: parseSolverOutput(stdout), seconds };
}
