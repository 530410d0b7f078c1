import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { trailingZeroBits } from '../src/protocol/hash.js';

const run = promisify(execFile);
const bin = (name: string): string =>
  fileURLToPath(new URL(`../dist/cli/${name}.js`, import.meta.url));

interface WorkJson {
  token: string;
  nBits: number;
  suffix: string;
  hashes: number;
  seconds: number;
  kernel: string;
  kernelDetail: string;
  kernelRates?: Record<string, number>;
  threads: number;
}

/** Trailing zero bits of SHA-256(token + suffix), hashed here with node:crypto. */
function zeroBits(token: string, suffix: string): number {
  return trailingZeroBits(
    createHash('sha256')
      .update(token + suffix)
      .digest(),
  );
}

describe('tlslp work --json', () => {
  for (const [name, args] of [
    ['tlslp-work', [bin('work')]],
    ['tlslp work', [bin('tlslp'), 'work']],
  ] as const) {
    it(`${name} prints one JSON object with the kernel and its variant`, async () => {
      const token = 'jsonToken-0123456789';
      const { stdout } = await run(process.execPath, [...args, '--json', token, '14'], {
        timeout: 60_000,
      });
      const lines = stdout.trimEnd().split('\n');
      expect(lines).toHaveLength(1);
      const out = JSON.parse(lines[0] as string) as WorkJson;
      expect(out).toMatchObject({ token, nBits: 14, threads: 1 });
      expect(zeroBits(token, out.suffix)).toBeGreaterThanOrEqual(14);
      expect(['native', 'wasm', 'js']).toContain(out.kernel);
      expect(out.kernelDetail.length).toBeGreaterThan(0);
      expect(out.hashes).toBeGreaterThan(0);
      if (out.kernelRates !== undefined) {
        // Measured variants: the one that ran is among them, every rate a positive number.
        expect(Object.keys(out.kernelRates)).toContain(out.kernelDetail);
        for (const rate of Object.values(out.kernelRates)) expect(rate).toBeGreaterThan(0);
      }
    });
  }
});
