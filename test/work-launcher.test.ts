/**
 * bin/tlslp, the sh fast path beside the Node bins (a file to hand a client as its
 * work_challenge, or to link under any name): the original solver's two-operand form runs
 * the native solver program without starting Node, with the library's very answer; every
 * other form runs the Node CLI.
 */
import { existsSync, readFileSync } from 'node:fs';
import { symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { verifyWork } from '../src/protocol/hash.js';
import { closeSolverPool, solveWork } from '../src/solver/index.js';
import { runExternalSolver } from '../src/solver/external.js';
import { prng, randomToken } from './fixtures/random.js';
import { type ProgramRun, runProgram, until, useTempDirs } from './helpers.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const launcher = join(root, 'bin/tlslp');
const solver = join(root, 'native/build/Release/tlslp-solve');
const tempDir = useTempDirs('tlslp-launcher-');

/** Run `file` with `args`; `env` replaces the named variables. */
function run(
  file: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
  onSpawn?: (pid: number, kill: (signal: NodeJS.Signals) => void) => void,
): Promise<ProgramRun> {
  return runProgram(file, args, { env, onSpawn });
}

function resultLine(stdout: string): string | undefined {
  return stdout.split('\n').find((l) => l.startsWith('RESULT:'));
}

/**
 * A folder holding the commands the launcher needs (sh, readlink, uname) and no `node`, to put
 * on PATH: what runs there ran without Node.
 */
async function pathWithoutNode(): Promise<string> {
  const dir = await tempDir();
  for (const tool of ['sh', 'readlink', 'uname']) {
    const found = ['/bin', '/usr/bin'].map((d) => join(d, tool)).find((p) => existsSync(p));
    if (!found) throw new Error(`${tool} not found`);
    await symlink(found, join(dir, tool));
  }
  return dir;
}

/** The launcher as a user links it: `<dir>/<name>` → bin/tlslp. */
async function linked(name: 'tlslp' | 'tlslp-work' | 'work_challenge'): Promise<string> {
  const path = join(await tempDir(), name);
  await symlink(launcher, path);
  return path;
}

afterAll(closeSolverPool);

describe.skipIf(!existsSync(solver))('bin/tlslp: the native fast path of tlslp work', () => {
  // Lengths around the block boundaries of the suffix layout (filler 44 - length mod 64).
  const random = prng(20261202);
  const cases = [1, 43, 44, 45, 64, 107, 108, 128].flatMap((length, i) => {
    const token = randomToken(random, length);
    return [i % 4, 9 + i, 16 + (i % 7)].map((nBits) => ({ token, nBits }));
  });

  it.each(cases)(
    'tlslp work $token $nBits prints the suffix the library finds (the lowest nonce)',
    async ({ token, nBits }) => {
      const expected = await solveWork(token, nBits, { threads: 1 });
      const r = await run(launcher, ['work', token, String(nBits)]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(resultLine(r.stdout)).toBe(`RESULT:${expected.suffix}`);
      expect(r.stdout).toMatch(/^RESULT:\S+\nTime: \d+\.\d{6} seconds\n$/);
      expect(verifyWork(token, expected.suffix, nBits)).toBe(true);
    },
  );

  it('a threaded solve (2^22 expected hashes and up) still finds the lowest nonce', async () => {
    const token = 'gkcjcibIFynKssuJnJpSrgvawiVjLjEbdFuYQzuWROTeTaSmqFCAzuwkwLCRgIIq';
    const expected = await solveWork(token, 22);
    const r = await run(await linked('tlslp-work'), [token, '22']);
    expect(r.code).toBe(0);
    expect(resultLine(r.stdout)).toBe(`RESULT:${expected.suffix}`);
  });

  it('runs without Node, through links to it, under either name', async () => {
    const PATH = await pathWithoutNode();
    for (const [bin, args] of [
      [await linked('tlslp'), ['work', 'abc', '12']],
      [await linked('tlslp-work'), ['abc', '12']],
    ] as const) {
      const r = await run(bin, [...args], { PATH });
      expect(r.code, r.stderr).toBe(0);
      expect(resultLine(r.stdout)).toBe(`RESULT:${(await solveWork('abc', 12)).suffix}`);
    }
  });

  it("a link named work_challenge (the original's name): its arguments choose the mode", async () => {
    const link = await linked('work_challenge');
    const expected = `RESULT:${(await solveWork('abc', 12)).suffix}`;
    // The native fast path, no Node on PATH.
    const fast = await run(link, ['abc', '12'], { PATH: await pathWithoutNode() });
    expect(fast.code, fast.stderr).toBe(0);
    expect(resultLine(fast.stdout)).toBe(expected);
    // The Node CLI, handed the same two operands.
    const slow = await run(link, ['abc', '12'], { TLSLP_NO_NATIVE: '1' });
    expect(slow.code, slow.stderr).toBe(0);
    expect(resultLine(slow.stdout)).toBe(expected);
    // Without sh (Windows): the Node entry point takes the same form.
    const bare = await run(process.execPath, [join(root, 'dist/cli/tlslp.js'), 'abc', '12']);
    expect(resultLine(bare.stdout)).toBe(expected);
    // A tlslp command stays one.
    const version = await run(link, ['--version']);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    // tlslp-client --work-binary takes such a link (the checks apply to the real file).
    const solved = await runExternalSolver(link, 'abc', 12, { timeoutMs: 10_000 });
    expect(`RESULT:${solved.suffix}`).toBe(expected);
  });

  it('hands every other form to the Node CLI (which is not on this PATH)', async () => {
    const PATH = await pathWithoutNode();
    const work = await linked('tlslp-work');
    const tlslp = await linked('tlslp');
    const handedOver: Array<[string, string[], NodeJS.ProcessEnv]> = [
      [tlslp, ['work', '--json', 'abc', '8'], {}],
      [tlslp, ['work', 'abc', '65'], {}],
      [tlslp, ['work', 'abc', '08'], {}],
      [tlslp, ['work', 'a.c', '8'], {}],
      [tlslp, ['work', 'x'.repeat(129), '8'], {}],
      [tlslp, ['--version'], {}],
      [work, ['--', '-V', '8'], {}],
      [work, ['abc'], {}],
      [work, ['abc', '8'], { TLSLP_NATIVE_VARIANT: 'portable' }],
      [work, ['abc', '8'], { TLSLP_NO_NATIVE: '1' }],
    ];
    for (const [bin, args, env] of handedOver) {
      const r = await run(bin, args, { ...env, PATH });
      // sh: node: not found (127): the launcher exec'd node for this one.
      expect([r.code, r.stderr], args.join(' ')).toEqual([127, expect.stringMatching(/node/)]);
    }
  });

  it('the forms it hands over behave as the Node CLI', async () => {
    const json = await run(launcher, ['work', '--json', 'abc', '8']);
    expect(JSON.parse(json.stdout)).toMatchObject({ token: 'abc', nBits: 8, kernel: 'native' });
    const bad = await run(launcher, ['work', 'abc', '65']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('n_bits must be between 0 and 64');
    const dashed = await run(await linked('tlslp-work'), ['--', '-V', '8']);
    expect(resultLine(dashed.stdout)).toBe(`RESULT:${(await solveWork('-V', 8)).suffix}`);
    const version = await run(launcher, ['--version']);
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
    expect(version.stdout.trim()).toBe(pkg.version);
  });

  it('Ctrl-C stops a long solve: "interrupted", exit 130, nothing on stdout', async () => {
    const r = await run(launcher, ['work', 'abc', '60'], {}, (pid, kill) => {
      // Signal once the program has its handler (SigCgt bit 2 is SIGINT), not before.
      void until(() => {
        try {
          if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'tlslp-solve') return false;
          const status = readFileSync(`/proc/${pid}/status`, 'utf8');
          const caught = /^SigCgt:\s*([0-9a-f]+)$/m.exec(status)?.[1] ?? '0';
          return (BigInt(`0x${caught}`) & 2n) !== 0n;
        } catch {
          return false;
        }
      }, 'the solver catching SIGINT').then(() => kill('SIGINT'));
    });
    expect(r).toEqual({ code: 130, signal: null, stdout: '', stderr: 'tlslp-work: interrupted\n' });
  });

  it('the program itself refuses bad arguments in one line, exit 2', async () => {
    for (const args of [[], ['abc'], ['a b', '8'], ['abc', '65'], ['abc', '-1'], ['abc', '8x']]) {
      const r = await run(solver, args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/^tlslp-work: [^\n]+\(usage: tlslp-solve <token> <n_bits>[^\n]*\n$/);
      expect(r.stdout).toBe('');
    }
  });
});
