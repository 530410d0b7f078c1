import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadWasmKernel, wasmSimdSupported } from '../src/solver/kernels/wasm.js';
import {
  hitMask,
  prepareJob,
  SCAN_WINDOW,
  suffixFor,
  type PreparedJob,
} from '../src/solver/layout.js';
import type { Kernel } from '../src/solver/types.js';
import { prng, randomToken } from './fixtures/random.js';
import { lastWords, referenceFirstHit } from './kernel-conformance.js';

const root = fileURLToPath(new URL('..', import.meta.url));

/** The reference scan: node:crypto over the candidates up to the first hit (the conformance suite's reference). */
const referenceScan = referenceFirstHit;

/** The last digest word of one candidate, by node:crypto. */
const lastWord = (job: PreparedJob, hi: number, lo: number): number =>
  lastWords(job, hi, lo, 1)[0] as number;

function load(simd: boolean): Kernel {
  const result = loadWasmKernel({ simd });
  if (result.kernel === null) throw new Error(result.reason);
  return result.kernel;
}

const builds = [
  { simd: true, detail: 'simd128' },
  { simd: false, detail: 'scalar' },
] as const;

describe('loadWasmKernel', () => {
  it('detects SIMD128 on this runtime and loads it by default', () => {
    expect(wasmSimdSupported()).toBe(true);
    const result = loadWasmKernel();
    expect(result.kernel?.name).toBe('wasm');
    expect(result.kernel?.detail).toBe('simd128');
  });

  it.each(builds)('loads the $detail build on request', ({ simd, detail }) => {
    const kernel = load(simd);
    expect(kernel.name).toBe('wasm');
    expect(kernel.detail).toBe(detail);
  });
});

// The conformance suite over both builds: kernel-conformance.test.ts.

describe.each(builds)('wasm kernel ($detail)', ({ simd }) => {
  const kernel = load(simd);

  it('returns the first hit in nonce order for every start and count within a lane group', () => {
    // 2 bits: most groups of four hold several hits, so lane order and range edges matter.
    for (const length of [44, 45, 55, 56, 64, 119, 128]) {
      const job = prepareJob(randomToken(prng(length), length), 2);
      for (let start = 0; start < 8; start++) {
        for (let count = 1; count <= 9; count++) {
          const lo = 0x40000 * 5 + start;
          expect(kernel.scan(job, 9, lo, count)).toBe(referenceScan(job, 9, lo, count));
        }
      }
    }
  });

  it('finds hits deep in a window and at its last nonce', () => {
    const job = prepareJob('deep-window-token', 12);
    const hi = 0xdeadbeef;
    const lo = 0x12340000;
    const first = referenceScan(job, hi, lo, SCAN_WINDOW);
    expect(first).toBeGreaterThan(0);
    expect(kernel.scan(job, hi, lo, SCAN_WINDOW)).toBe(first);
    // Find a window whose only hit in its last 4 nonces is the very last nonce.
    const mask = hitMask(job.nBits);
    let found = false;
    for (let w = 0; w < 20000 && !found; w++) {
      const last = lo + w * SCAN_WINDOW + SCAN_WINDOW - 1;
      if ((lastWord(job, hi, last) & mask) !== 0) continue;
      if (referenceScan(job, hi, last - 3, 3) !== -1) continue;
      expect(kernel.scan(job, hi, last - 3, 4)).toBe(3);
      expect(kernel.scan(job, hi, last - 3, 3)).toBe(-1);
      found = true;
    }
    expect(found).toBe(true);
  });

  it('recomputes its per-call constants for every window of the same job', () => {
    const job = prepareJob('same-job-other-windows', 5);
    const windows = [
      [1, 3 * SCAN_WINDOW],
      [2, 3 * SCAN_WINDOW],
      [2, 9 * SCAN_WINDOW],
      [1, 3 * SCAN_WINDOW],
    ] as const;
    for (const [hi, base] of windows) {
      const lo = base + 123;
      expect(kernel.scan(job, hi, lo, 200)).toBe(referenceScan(job, hi, lo, 200));
    }
  });

  it('handles count 0 and re-loads the job when it changes', () => {
    const a = prepareJob('first-job', 4);
    const b = prepareJob('second-job-with-another-length', 4);
    expect(kernel.scan(a, 0, 0, 0)).toBe(-1);
    for (let lo = 0; lo < 400; lo += 37) {
      expect(kernel.scan(a, 3, lo, 41)).toBe(referenceScan(a, 3, lo, 41));
      expect(kernel.scan(b, 3, lo, 41)).toBe(referenceScan(b, 3, lo, 41));
    }
  });

  it('splits a range that crosses windows (and the 2^32 carry into hi)', () => {
    const job = prepareJob('crossing', 40);
    expect(kernel.scan(job, 5, 2 ** 32 - 50, 100)).toBe(referenceScan(job, 5, 2 ** 32 - 50, 100));
    const easy = prepareJob('crossing', 6);
    for (let lo = SCAN_WINDOW - 40; lo < SCAN_WINDOW; lo += 7) {
      expect(kernel.scan(easy, 5, lo, 200)).toBe(referenceScan(easy, 5, lo, 200));
    }
    const mask = hitMask(easy.nBits);
    let carry = -1;
    for (let i = 0; i < 500 && carry < 0; i++) {
      if ((lastWord(easy, 6, i) & mask) === 0) carry = i;
    }
    const before = referenceScan(easy, 5, 2 ** 32 - 3, 3);
    const expected = before >= 0 ? before : 3 + carry;
    expect(kernel.scan(easy, 5, 2 ** 32 - 3, 503)).toBe(expected);
  });
});

describe('PROTOCOL test vector', () => {
  const token = 'gkcjcibIFynKssuJnJpSrgvawiVjLjEbdFuYQzuWROTeTaSmqFCAzuwkwLCRgIIq';

  it('both builds find the same 20-bit solution and node:crypto confirms it', () => {
    const job = prepareJob(token, 20);
    const solutions = builds.map(({ simd }) => {
      const kernel = load(simd);
      for (let lo = 0; lo < 2 ** 26; lo += SCAN_WINDOW) {
        const found = kernel.scan(job, 0, lo, SCAN_WINDOW);
        if (found >= 0) return suffixFor(job, 0, lo + found);
      }
      throw new Error('no solution in 2^26 nonces');
    });
    expect(solutions[0]).toBe(solutions[1]);
    const suffix = solutions[0] as string;
    expect(suffix).toMatch(/^[A-Za-z0-9_-]+$/);
    const digest = createHash('sha256')
      .update(token + suffix)
      .digest();
    // At least 20 trailing zero bits of the digest read as a big-endian integer.
    expect(digest.readUInt32BE(28) & 0xfffff).toBe(0);
  });
});

describe('build-wasm', () => {
  // Compiles both builds with AssemblyScript: longer than the 20 s default on a busy machine.
  it('rebuilds byte-identical to the committed binaries', { timeout: 60_000 }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'tlslp-wasm-'));
    try {
      execFileSync(process.execPath, [join(root, 'scripts/build-wasm.mjs'), '--out-dir', dir], {
        stdio: 'pipe',
      });
      for (const file of ['tlslp-simd.wasm', 'tlslp-scalar.wasm']) {
        const rebuilt = readFileSync(join(dir, file));
        const committed = readFileSync(join(root, 'wasm/build', file));
        expect(rebuilt.equals(committed), file).toBe(true);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
