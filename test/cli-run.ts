/**
 * A CLI main run in this process, as its bin runs it (through `runMain`, which prints the one
 * `<prog>: error: …` line and sets the exit code), with what it writes to stdout and stderr
 * captured. For tests whose subject is a command's behaviour: a bin process costs a node
 * start and a fresh load of its modules (the X.509 code alone is a third of a second of CPU)
 * on every run. The process contract itself (exit status, one error line, no stack trace) is
 * still tested on the real bins, a few runs per bin.
 */
import { runMain } from '../src/cli/common.js';

/** How a run ended and what it printed. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Where and how to run it: `cwd` and `env` are set for the run and put back after it. */
export interface CliRunOptions {
  cwd?: string;
  /** Variables to set; `undefined` removes one. */
  env?: Record<string, string | undefined>;
}

// stdout, stderr, the exit code, the working folder and the environment are the process's:
// one run at a time.
let queue: Promise<unknown> = Promise.resolve();

/**
 * Run `main(args)` under `runMain(prog, …)` with NO_COLOR set (as the bin tests run the bins)
 * and TLSLP_DEBUG cleared; resolves with its exit code and output, whatever the code.
 */
export function runCli(
  prog: string,
  main: (argv: string[]) => Promise<number>,
  args: string[],
  options: CliRunOptions = {},
): Promise<CliRun> {
  const run = queue.then(() => runNow(prog, main, args, options));
  queue = run.catch(() => undefined);
  return run;
}

async function runNow(
  prog: string,
  main: (argv: string[]) => Promise<number>,
  args: string[],
  options: CliRunOptions,
): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const writer =
    (into: string[]) =>
    (chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
      into.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      const done = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
      done?.();
      return true;
    };
  const env = { NO_COLOR: '1', TLSLP_DEBUG: undefined, ...options.env };
  const savedEnv = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  const setEnv = (values: Record<string, string | undefined>): void => {
    for (const [k, v] of Object.entries(values)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
  const cwd = process.cwd();
  const savedExitCode = process.exitCode;
  const { stdout, stderr } = process;
  const writes = [stdout.write, stderr.write] as const;
  const listeners = stdout.listeners('error');
  stdout.write = writer(out);
  stderr.write = writer(err);
  setEnv(env);
  process.exitCode = undefined;
  try {
    if (options.cwd !== undefined) process.chdir(options.cwd);
    await runMain(prog, () => main(args));
    const code = process.exitCode as number | string | undefined;
    return { code: Number(code ?? 0), stdout: out.join(''), stderr: err.join('') };
  } finally {
    [stdout.write, stderr.write] = writes;
    // runMain's EPIPE handler on stdout, added on each run.
    for (const l of stdout.listeners('error'))
      if (!listeners.includes(l)) stdout.off('error', l as (e: Error) => void);
    setEnv(savedEnv);
    process.chdir(cwd);
    process.exitCode = savedExitCode;
  }
}
