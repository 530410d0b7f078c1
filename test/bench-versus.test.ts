import { execFile } from 'node:child_process';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { useTempDirs } from './helpers.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
const tempDir = useTempDirs('tlslp-versus-');

/**
 * A solver with the original's interface, in Node: counts suffixes up from `start` until
 * SHA-256(token + suffix) has n_bits trailing zero bits (`wrong` prints a bad one instead).
 */
function fakeSolver(kind: 'right' | 'wrong'): string {
  return `#!${process.execPath}
const { createHash } = require('node:crypto');
const [token, bits] = [process.argv[2], Number(process.argv[3])];
const zeros = (d) => { let n = 0; for (let i = d.length - 1; i >= 0; i--) { if (d[i] === 0) { n += 8; continue; } for (let b = d[i]; (b & 1) === 0; b >>= 1) n++; break; } return n; };
let i = 0;
let suffix = 'fake' + i;
while (${kind === 'right' ? 'true' : 'false'} && zeros(createHash('sha256').update(token + suffix).digest()) < bits) suffix = 'fake' + ++i;
if (${kind === 'wrong' ? 'true' : 'false'}) { while (zeros(createHash('sha256').update(token + suffix).digest()) >= bits) suffix = 'fake' + ++i; }
console.log('RESULT:' + suffix);
console.log('Time: 0.001 seconds');
`;
}

async function writeSolver(kind: 'right' | 'wrong'): Promise<string> {
  const path = join(await tempDir(), `solver-${kind}.cjs`);
  await writeFile(path, fakeSolver(kind));
  await chmod(path, 0o755);
  return path;
}

describe('bench/work.mjs --versus', () => {
  it('runs both solvers on the same seeded tokens and prints both medians', async () => {
    const solver = await writeSolver('right');
    const args = ['bench/work.mjs', '--versus', solver, '--versus-runs', '2'];
    const { stdout } = await run(process.execPath, [...args, '--versus-bits', '4,8', '--json'], {
      cwd: root,
      timeout: 60_000,
    });
    const lines = stdout.trimEnd().split('\n');
    const result = JSON.parse(lines.at(-1) as string) as {
      mode: string;
      versus: string;
      nodeStartMedianSeconds: number;
      rows: Array<{
        nBits: number;
        runs: number;
        oursMedianSeconds: number;
        theirsMedianSeconds: number;
        ratio: number;
        oursSeconds: number[];
        theirsSeconds: number[];
      }>;
      kernel: string;
      command: string;
    };
    expect(result.mode).toBe('versus');
    expect(result.versus).toBe(solver);
    expect(result.rows.map((r) => r.nBits)).toEqual([4, 8]);
    for (const row of result.rows) {
      expect(row.oursSeconds).toHaveLength(2);
      expect(row.theirsSeconds).toHaveLength(2);
      expect(row.oursMedianSeconds).toBeGreaterThan(0);
      expect(row.theirsMedianSeconds).toBeGreaterThan(0);
      expect(row.ratio).toBeCloseTo(row.oursMedianSeconds / row.theirsMedianSeconds, 6);
    }
    expect(result.nodeStartMedianSeconds).toBeGreaterThan(0);
    expect(['native', 'wasm', 'js']).toContain(result.kernel);
    expect(result.command).toContain(`--versus ${solver}`);
    // The table and the command line are printed before the JSON line.
    expect(stdout).toMatch(/n_bits\s+runs\s+ours median s\s+theirs median s\s+ours\/theirs/);
    expect(stdout).toContain(`command: node bench/work.mjs --versus ${solver}`);
  }, 90_000);

  it('fails when a solver prints a suffix that does not solve the challenge', async () => {
    const solver = await writeSolver('wrong');
    const failure = await run(
      process.execPath,
      ['bench/work.mjs', '--versus', solver, '--versus-runs', '1', '--versus-bits', '6'],
      { cwd: root, timeout: 60_000 },
    ).then(
      () => null,
      (err: unknown) => err as { code: number; stderr: string },
    );
    expect(failure?.code).toBe(1);
    expect(failure?.stderr).toMatch(/theirs: suffix 'fake\d+' for \S+ has \d+ < \d+ zero bits/);
  }, 90_000);

  it('gives both solvers the same tokens for the same seed', async () => {
    const versus = new URL('../bench/versus.mjs', import.meta.url).href;
    const { seededTokens } = (await import(versus)) as {
      seededTokens: (seed: number, count: number) => string[];
    };
    const a = seededTokens(5, 3);
    expect(a).toEqual(seededTokens(5, 3));
    expect(a).not.toEqual(seededTokens(6, 3));
    for (const token of a) expect(token).toMatch(/^[A-Za-z0-9_-]{64}$/);
  });
});
