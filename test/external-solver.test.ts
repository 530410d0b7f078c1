import { chmod, mkdtemp, readFile, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, SolverError } from '../src/errors/index.js';
import { verifyWork } from '../src/protocol/hash.js';
import { checkSolverPath, parseSolverOutput, runExternalSolver } from '../src/solver/external.js';
import { until } from './helpers.js';

let dir: string;

/** A solver with the original's interface, written in Node so it runs anywhere. */
const SOLVER = `#!${process.execPath}
const { createHash } = require('node:crypto');
const [token, bits] = process.argv.slice(2);
const n = Number(bits);
for (let i = 0; ; i++) {
  const suffix = i.toString(36);
  const d = createHash('sha256').update(token + suffix).digest();
  let z = 0;
  for (let j = 31; j >= 0; j--) { const b = d[j]; if (b === 0) { z += 8; continue; } z += 31 - Math.clz32(b & -b); break; }
  if (z >= n) { console.log('RESULT:' + suffix); console.log('Time: 0.01 seconds'); break; }
}
`;

async function script(name: string, body: string, mode = 0o755): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, body);
  await chmod(path, mode);
  return path;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tlslp-solver-'));
  await chmod(dir, 0o700);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('external solver (docs/protocol.md §5)', () => {
  it('runs a solver with the original interface and returns a valid suffix', async () => {
    const path = await script('good.js', SOLVER);
    const r = await runExternalSolver(path, 'abc', 10, { timeoutMs: 20_000 });
    expect(verifyWork('abc', r.suffix, 10)).toBe(true);
    expect(r.seconds).toBeGreaterThan(0);
  });

  it('passes arguments as a list, without a shell, in a minimal environment', async () => {
    const path = await script(
      'echo.js',
      `#!${process.execPath}\nconsole.log('RESULT:ok'); console.error(JSON.stringify({ argv: process.argv.slice(2), env: Object.keys(process.env).sort() }));\nprocess.exit(3);`,
    );
    process.env.TLSLP_TEST_SECRET = 'do-not-leak';
    const err = await runExternalSolver(path, 'a$(touch_x)', 5, { timeoutMs: 10_000 }).catch(
      (e: unknown) => e,
    );
    delete process.env.TLSLP_TEST_SECRET;
    expect(err).toBeInstanceOf(SolverError);
    const detail = JSON.parse(String((err as Error).message).replace(/^.*?: /, '')) as {
      argv: string[];
      env: string[];
    };
    expect(detail.argv).toEqual(['a$(touch_x)', '5']);
    expect(detail.env).not.toContain('TLSLP_TEST_SECRET');
    expect(detail.env.filter((k) => !['PATH', 'LANG'].includes(k))).toEqual([]);
  });

  it('kills a solver that overruns its timeout', async () => {
    const pidFile = join(dir, 'pid');
    const path = await script(
      'slow.js',
      `#!${process.execPath}\nrequire('node:fs').writeFileSync(${JSON.stringify(pidFile)}, String(process.pid));\nsetInterval(() => {}, 1000);`,
    );
    const err = await runExternalSolver(path, 'abc', 10, { timeoutMs: 500 }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SolverError);
    expect((err as SolverError).code).toBe('TLSLP_ERR_SOLVER_TIMEOUT');
    const pid = Number(await readFile(pidFile, 'utf8'));
    expect(() => process.kill(pid, 0)).toThrow(/ESRCH/);
  });

  it('stops the solver when aborted', async () => {
    // A solver that never finishes and says when it runs, so the abort reaches a live process.
    const started = join(dir, 'forever.started');
    const path = await script(
      'forever.js',
      `#!${process.execPath}\nrequire('node:fs').writeFileSync(${JSON.stringify(started)}, '');\nsetInterval(() => {}, 1000);`,
    );
    const controller = new AbortController();
    const running = runExternalSolver(path, 'abc', 10, {
      timeoutMs: 60_000,
      signal: controller.signal,
    }).catch((e: unknown) => e);
    await until(() => existsSync(started), 'the solver running');
    controller.abort();
    const err = await running;
    expect((err as SolverError).code).toBe('TLSLP_ERR_SOLVE_ABORTED');
  });

  it('rejects output without a RESULT line, with a bad suffix, or a failing exit', async () => {
    const none = await script('none.js', `#!${process.execPath}\nconsole.log('hello');`);
    await expect(runExternalSolver(none, 'abc', 1, { timeoutMs: 10_000 })).rejects.toMatchObject({
      code: 'TLSLP_ERR_SOLVER_OUTPUT',
    });
    const bad = await script('bad.js', `#!${process.execPath}\nconsole.log('RESULT:a b;rm');`);
    await expect(runExternalSolver(bad, 'abc', 1, { timeoutMs: 10_000 })).rejects.toMatchObject({
      code: 'TLSLP_ERR_SOLVER_OUTPUT',
    });
    const fails = await script(
      'fails.js',
      `#!${process.execPath}\nconsole.error('boom'); process.exit(2);`,
    );
    await expect(runExternalSolver(fails, 'abc', 1, { timeoutMs: 10_000 })).rejects.toThrow(
      /exit 2.*boom/,
    );
  });

  it('parses exactly the RESULT: line', () => {
    expect(parseSolverOutput('noise\nRESULT:TlVR_\nTime: 1.2 seconds\n')).toBe('TlVR_');
    expect(() => parseSolverOutput('result:abc\n')).toThrow(SolverError);
    expect(() => parseSolverOutput('RESULT:\n')).toThrow(SolverError);
  });
});

describe('solver path hardening', () => {
  it('follows a symlink (npm .bin) to the real file, which gets the checks', async () => {
    const target = await script('real.js', SOLVER);
    const link = join(dir, 'link.js');
    await symlink(target, link);
    await expect(checkSolverPath(link)).resolves.toBe(await realpath(target));
    const open = await script('open.js', SOLVER, 0o757);
    const toOpen = join(dir, 'link-open.js');
    await symlink(open, toOpen);
    await expect(checkSolverPath(toOpen)).rejects.toThrow(
      /link-open\.js \(a link to .*open\.js\): writable by others/,
    );
  });

  it('refuses a symlink in a folder others may write to', async () => {
    const target = await script('real2.js', SOLVER);
    const open = await mkdtemp(join(dir, 'open-link-'));
    await chmod(open, 0o777);
    const link = join(open, 'link.js');
    await symlink(target, link);
    await expect(checkSolverPath(link)).rejects.toThrow(/link in a folder others may write to/);
  });

  it('refuses a file that is not executable', async () => {
    const path = await script('noexec.js', SOLVER, 0o644);
    await expect(checkSolverPath(path)).rejects.toThrow(/not executable/);
  });

  it('refuses a world-writable file', async () => {
    const path = await script('ww.js', SOLVER, 0o757);
    await expect(checkSolverPath(path)).rejects.toThrow(/writable by others/);
  });

  it('refuses a file in a world-writable folder', async () => {
    const open = await mkdtemp(join(dir, 'open-'));
    await chmod(open, 0o777);
    const path = join(open, 's.js');
    await writeFile(path, SOLVER, { mode: 0o755 });
    await expect(checkSolverPath(path)).rejects.toThrow(/folder is writable by others/);
  });

  it('refuses a missing file and a folder', async () => {
    await expect(checkSolverPath(join(dir, 'missing'))).rejects.toBeInstanceOf(ConfigError);
    await expect(checkSolverPath(dir)).rejects.toThrow(/not a regular file/);
  });
});
