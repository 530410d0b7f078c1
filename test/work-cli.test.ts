import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CommanderError } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { tlslpMain } from '../src/cli/tlslp.js';
import { workMain } from '../src/cli/work.js';
import { verifyWork } from '../src/protocol/hash.js';
import { closeSolverPool } from '../src/solver/index.js';
import { runCli } from './cli-run.js';
import { type BinRun, type ProgramRun, runProgram, until, useTempDirs } from './helpers.js';

// The bin as users run it: the compiled dist/ (the test suite runs after `npm run build`).
const root = fileURLToPath(new URL('..', import.meta.url));
const bin = fileURLToPath(new URL('../dist/cli/work.js', import.meta.url));
const umbrella = fileURLToPath(new URL('../dist/cli/tlslp.js', import.meta.url));
const tempDir = useTempDirs('tlslp-work-cli-');

/** Run a bin as a process (`node <script> …args`): for what crosses the process boundary. */
function run(
  args: string[],
  onSpawn?: (kill: (signal: NodeJS.Signals) => void) => void,
  script = bin,
  env: NodeJS.ProcessEnv = {},
  nodeFlags: string[] = [],
): Promise<ProgramRun> {
  return runProgram(process.execPath, [...nodeFlags, script, ...args], {
    cwd: root,
    env,
    onSpawn: onSpawn && ((_pid, kill) => onSpawn(kill)),
  });
}

/** Capture what `fn` writes to stdout and stderr. */
async function captured<T>(
  fn: () => Promise<T>,
): Promise<{ value: T; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  try {
    return { value: await fn(), stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

/**
 * Run a bin in this process, as its entry point does (`runMain` around `workMain` or
 * `tlslpMain`, test/cli-run.ts): the same parsing, output and exit code as `run` gives, without
 * a Node start-up per call. The tests of the process boundary itself (argv as the OS passes it,
 * signals, what a failing process prints) keep `run`.
 */
function runHere(args: string[], script = bin): Promise<BinRun> {
  return script === bin ? runCli('tlslp-work', workMain, args) : runCli('tlslp', tlslpMain, args);
}

function parse(stdout: string): { suffix: string; seconds: number } {
  const lines = stdout.split('\n');
  expect(lines[0]).toMatch(/^RESULT:[A-Za-z0-9_-]+$/);
  expect(lines[1]).toMatch(/^Time: \d+\.\d+ seconds$/);
  expect(lines.slice(2).join('')).toBe('');
  return {
    suffix: (lines[0] as string).slice('RESULT:'.length),
    seconds: Number(lines[1]?.split(' ')[1]),
  };
}

/** A usage failure as the bins print it: non-zero, nothing on stdout, one line and no stack on stderr. */
function expectOneLineRefusal(result: BinRun): void {
  expect(result.code).not.toBe(0);
  expect(result.stdout).toBe('');
  const lines = result.stderr.trimEnd().split('\n');
  expect(lines, result.stderr).toHaveLength(1);
  expect(result.stderr).not.toMatch(/\n\s+at /);
}

beforeAll(() => {
  if (!existsSync(bin))
    throw new Error(`${bin} is missing: run npx tsc -p tsconfig.build.json first`);
});

describe('tlslp-work', () => {
  it('names itself as it was called: tlslp-work, or tlslp work through the umbrella', async () => {
    const alone = await runHere(['--help']);
    expect(alone.stdout.split('\n')[0]).toBe('Usage: tlslp-work [options] <token> <n_bits>');
    // The umbrella's own process, once: the name it gives itself when run as a bin.
    const umbrellaHelp = await run(['work', '--help'], undefined, umbrella);
    expect(umbrellaHelp.code).toBe(0);
    expect(umbrellaHelp.stdout.split('\n')[0]).toBe('Usage: tlslp work [options] <token> <n_bits>');
    expect(umbrellaHelp.stdout).toContain('\n  tlslp work gkcjcib');
    const bad = await runHere(['work', '--bogus', 'abc', '1'], umbrella);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toBe("tlslp work: error: unknown option '--bogus'");
  });

  it('solves abc 16 like the original solver', async () => {
    const result = await run(['abc', '16']);
    expect(result.code).toBe(0);
    const { suffix, seconds } = parse(result.stdout);
    expect(verifyWork('abc', suffix, 16)).toBe(true);
    expect(seconds).toBeGreaterThanOrEqual(0);
  });

  it('takes --kernel and --threads, and gives the same suffix', async () => {
    const a = await runHere(['--kernel', 'js', '--threads', '2', 'tokenX', '18']);
    const b = await runHere(['tokenX', '18', '--threads', '1', '-q']);
    expect(a.code).toBe(0);
    expect(b.code).toBe(0);
    expect(parse(a.stdout).suffix).toBe(parse(b.stdout).suffix);
    expect(verifyWork('tokenX', parse(a.stdout).suffix, 18)).toBe(true);
  });

  // Every token the protocol allows, flag-like ones included: the original client runs its
  // solver as `<solver> <token> <n_bits>` with whatever token the server drew.
  const tokens = [
    '-V',
    '-h',
    '--help',
    '--version',
    '-k09kpcnc_jXPyOIFKxLLtNzuBO7_TIulhANPcPoPL5c0y4bDOxRep0dxqErXClm',
    '--',
    '-',
    '_-_',
    '--kernel',
  ];
  it.each(tokens)(
    'takes the token %j as tlslp-work, tlslp work, with and without --',
    async (token) => {
      const calls: Array<[string, string[]]> = [
        [bin, [token, '12']],
        [bin, ['--', token, '12']],
        [bin, ['--kernel', 'js', token, '12']],
        [umbrella, ['work', token, '12']],
        [umbrella, ['work', '--', token, '12']],
      ];
      for (const [script, args] of calls) {
        const result = await runHere(args, script);
        expect(result.code, `${script} ${args.join(' ')}: ${result.stderr}`).toBe(0);
        expect(verifyWork(token, parse(result.stdout).suffix, 12)).toBe(true);
      }
    },
  );

  it('takes a flag-like token as passed to a real process, by either bin', async () => {
    const calls: Array<[string, string[], string]> = [
      [bin, ['-V', '12'], '-V'],
      [umbrella, ['work', '--', '--help', '12'], '--help'],
    ];
    for (const [script, args, token] of calls) {
      const result = await run(args, undefined, script);
      expect(result.code, `${script} ${args.join(' ')}: ${result.stderr}`).toBe(0);
      expect(verifyWork(token, parse(result.stdout).suffix, 12)).toBe(true);
    }
  });

  it('still gives help and version when they are the only argument', async () => {
    for (const script of [bin, umbrella]) {
      const pre = script === umbrella ? ['work'] : [];
      const usage = script === umbrella ? 'Usage: tlslp work ' : 'Usage: tlslp-work ';
      expect((await runHere([...pre, '--help'], script)).stdout).toContain(usage);
      expect((await runHere([...pre, '-h'], script)).stdout).toContain(usage);
      expect((await runHere([...pre, '-V'], script)).stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    }
  });

  it('prints its version', async () => {
    const result = await run(['--version']);
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it.each([
    [[]],
    [['abc']],
    [['abc', 'x']],
    [['abc', '65']],
    [['abc', '-1']],
    [['bad token', '8']],
    [['a'.repeat(129), '8']],
    [['abc', '8', '--kernel', 'gpu']],
    [['abc', '8', '--threads', '0']],
    [['abc', '8', '--bogus']],
    [['abc', '8', 'extra']],
  ])('rejects %j with one line on stderr and no stack trace', async (args) => {
    expectOneLineRefusal(await runHere(args));
  });

  it('rejects bad arguments as a process with one line on stderr and no stack trace', async () => {
    expectOneLineRefusal(await run(['bad token', '8']));
  });

  it.skipIf(process.platform === 'win32')('stops cleanly on Ctrl-C', async () => {
    // The bin prints nothing while it solves: a preload that only watches writes a file once
    // its SIGINT handler is set (it is set just before the solve starts), and Ctrl-C follows.
    const marker = join(await tempDir(), 'sigint-listener');
    const preload = new URL('./fixtures/sigint-marker.mjs', import.meta.url).href;
    const started = performance.now();
    let interruptedAt = 0;
    const result = await run(
      ['abc', '48'],
      (kill) => {
        void until(() => existsSync(marker), 'the SIGINT handler set').then(() => {
          interruptedAt = performance.now();
          kill('SIGINT');
        });
      },
      bin,
      { TLSLP_TEST_SIGINT_MARKER: marker },
      ['--import', preload],
    );
    expect(result.code).toBe(130);
    expect(result.stdout).toBe('');
    expect(result.stderr.trim()).toBe('tlslp-work: interrupted');
    expect(interruptedAt).toBeGreaterThan(started);
    expect(performance.now() - interruptedAt).toBeLessThan(2000);
  });
});

describe('workMain (in process)', () => {
  afterAll(async () => {
    await closeSolverPool();
  });

  /** Run workMain with stdout and stderr captured. */
  async function capture(
    argv: string[],
  ): Promise<{ code: number; stdout: string; stderr: string }> {
    const { value, stdout, stderr } = await captured(() => workMain(argv));
    return { code: value, stdout, stderr };
  }

  it('prints RESULT and Time, and details with --verbose', async () => {
    const listeners = process.listenerCount('SIGINT');
    const result = await capture(['--verbose', '--threads', '2', 'inproc', '18']);
    expect(result.code).toBe(0);
    expect(verifyWork('inproc', parse(result.stdout).suffix, 18)).toBe(true);
    expect(result.stderr).toMatch(
      /tlslp-work: \w+ \(.+\), \d+ thread\(s\), \d+ hashes in [\d.]+ s; kernel [\d.]+ M hashes\/s per thread/,
    );
    // The SIGINT handler is gone afterwards.
    expect(process.listenerCount('SIGINT')).toBe(listeners);
  });

  it('throws a CommanderError for bad arguments', async () => {
    await expect(capture(['abc', '99'])).rejects.toBeInstanceOf(CommanderError);
  });
});
