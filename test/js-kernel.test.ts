import { createHash } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import {
  hasTrailingZeroBits,
  trailingZeroBits,
  verifyWork,
  workDigest,
} from '../src/protocol/hash.js';
import { createJsKernel } from '../src/solver/kernels/js.js';
import {
  ALPHABET,
  hitMask,
  prepareJob,
  SCAN_WINDOW,
  suffixFor,
  type PreparedJob,
} from '../src/solver/layout.js';
import { scanBatch } from '../src/solver/batch.js';
import { prng, randomToken } from './fixtures/random.js';

const kernel = createJsKernel();
const N_BITS = [...Array.from({ length: 21 }, (_, i) => i), 32, 40];

/** Last digest word of every candidate (hi, lo) … (hi, lo + count − 1), by node:crypto. */
function lastWords(job: PreparedJob, hi: number, lo: number, count: number): Uint32Array {
  const words = new Uint32Array(count);
  for (let i = 0; i < count; i++) {
    words[i] = createHash('sha256')
      .update(job.token + suffixFor(job, hi, lo + i), 'latin1')
      .digest()
      .readUInt32BE(28);
  }
  return words;
}

/** What a kernel must return for `nBits` over those candidates. */
function firstHit(words: Uint32Array, nBits: number): number {
  const mask = hitMask(nBits);
  return words.findIndex((w) => (w & mask) === 0);
}

describe('js kernel', () => {
  it('is named js / scalar', () => {
    expect(kernel.name).toBe('js');
    expect(kernel.detail).toBe('scalar');
  });

  it('answers its very first scan in a thread exactly (the warm-up leaves nothing behind)', async () => {
    vi.resetModules();
    const fresh = (await import('../src/solver/kernels/js.js')).createJsKernel();
    // A window and job unlike the warm-up's, with hits at 6 bits; then the next window.
    const token = 'first-call-token';
    const hi = 0x2468ace0;
    const lo = 77 * SCAN_WINDOW + 1000;
    const words = lastWords(prepareJob(token, 0), hi, lo, 300);
    expect(fresh.scan(prepareJob(token, 6), hi, lo, 300)).toBe(firstHit(words, 6));
    const next = lastWords(prepareJob(token, 0), hi, lo + SCAN_WINDOW, 300);
    expect(fresh.scan(prepareJob(token, 6), hi, lo + SCAN_WINDOW, 300)).toBe(firstHit(next, 6));
  });

  it('agrees with node:crypto for tokens of every length 1..128 and n_bits 0..20, 32, 40', () => {
    const random = prng(1);
    for (let length = 1; length <= 128; length++) {
      const token = randomToken(random, length);
      const hi = Math.floor(random() * 2 ** 32);
      const count = 200;
      // Anywhere inside a window, the range staying inside it.
      const lo =
        (Math.floor(random() * 2 ** 14) * SCAN_WINDOW +
          Math.floor(random() * (SCAN_WINDOW - count))) >>>
        0;
      const words = lastWords(prepareJob(token, 0), hi, lo, count);
      for (const nBits of N_BITS) {
        const job = prepareJob(token, nBits);
        expect(kernel.scan(job, hi, lo, count), `len ${length} n_bits ${nBits}`).toBe(
          firstHit(words, nBits),
        );
      }
    }
  });

  it('agrees over a whole window, where hits at higher n_bits occur', () => {
    const random = prng(2);
    for (const length of [7, 64]) {
      const token = randomToken(random, length);
      const hi = 0xffffffff;
      const lo = (2 ** 32 - SCAN_WINDOW) >>> 0; // the very last window of the nonce space
      const words = lastWords(prepareJob(token, 0), hi, lo, SCAN_WINDOW);
      for (const nBits of N_BITS) {
        const job = prepareJob(token, nBits);
        const expected = firstHit(words, nBits);
        expect(kernel.scan(job, hi, lo, SCAN_WINDOW), `len ${length} n_bits ${nBits}`).toBe(
          expected,
        );
        // Resuming after a hit finds the next one, as callers do after a false positive.
        if (expected >= 0 && expected + 1 < SCAN_WINDOW) {
          const rest = kernel.scan(job, hi, lo + expected + 1, SCAN_WINDOW - expected - 1);
          const next = firstHit(words.subarray(expected + 1), nBits);
          expect(rest).toBe(next);
        }
      }
    }
  });

  it('handles ranges at the edges of a window and single candidates', () => {
    const job0 = prepareJob('edge', 0);
    const window = 5 * SCAN_WINDOW;
    const words = lastWords(job0, 9, window + SCAN_WINDOW - 64, 64);
    for (const nBits of [0, 1, 2, 3, 4, 5, 6]) {
      const job = prepareJob('edge', nBits);
      expect(kernel.scan(job, 9, window + SCAN_WINDOW - 64, 64)).toBe(firstHit(words, nBits));
      for (let i = 0; i < 64; i += 9) {
        const single = kernel.scan(job, 9, window + SCAN_WINDOW - 64 + i, 1);
        expect(single).toBe(((words[i] as number) & hitMask(nBits)) === 0 ? 0 : -1);
      }
    }
    expect(kernel.scan(job0, 0, 0, 0)).toBe(-1);
  });

  it('finds the known lowest 32-bit solution of a token (and reports it at 40 bits too)', () => {
    // Lowest nonce with 32 trailing zero bits for token "abc", found once with the native
    // kernel; at 32 bits the last digest word is zero, which is also a 40-bit candidate.
    const token = 'abc';
    const suffix = 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxAAAAALtiVbr';
    expect(trailingZeroBits(workDigest(token, suffix))).toBeGreaterThanOrEqual(32);
    const nonce = suffix.slice(-11);
    let value = 0n;
    for (const ch of nonce) value = value * 64n + BigInt(ALPHABET.indexOf(ch));
    const hi = Number(value >> 32n);
    const lo = Number(value & 0xffffffffn);
    const start = lo - (lo % SCAN_WINDOW);
    for (const nBits of [32, 40]) {
      const job = prepareJob(token, nBits);
      expect(suffixFor(job, hi, lo)).toBe(suffix);
      expect(kernel.scan(job, hi, start, SCAN_WINDOW)).toBe(lo - start);
    }
    // scanBatch re-verifies: a 32-bit hit is a solution at 32 bits, a false positive at 40.
    const at32 = scanBatch(kernel, prepareJob(token, 32), hi, start, SCAN_WINDOW);
    expect(at32.verified?.suffix).toBe(suffix);
    expect(at32.hitOffset).toBe(lo - start);
    const exact = trailingZeroBits(workDigest(token, suffix));
    const at40 = scanBatch(kernel, prepareJob(token, 40), hi, start, SCAN_WINDOW);
    if (exact >= 40) expect(at40.verified?.suffix).toBe(suffix);
    else {
      expect(at40).toMatchObject({ hitOffset: -1, hashes: SCAN_WINDOW, stopped: false });
      expect(at40.verified).toBeUndefined();
    }
  });

  it('scanBatch spans several windows and stops when asked', () => {
    const job = prepareJob('batch', 12);
    const lo = 3 * SCAN_WINDOW - 1000;
    const result = scanBatch(kernel, job, 0, lo, 4000, undefined, 512);
    const words = lastWords(prepareJob('batch', 0), 0, lo, 4000);
    const expected = firstHit(words, 12);
    expect(result.hitOffset).toBe(expected);
    if (expected >= 0) expect(verifyWork('batch', result.verified?.suffix ?? '', 12)).toBe(true);
    let calls = 0;
    const stopped = scanBatch(
      kernel,
      prepareJob('batch', 64),
      0,
      0,
      10_000,
      () => ++calls > 2,
      1000,
    );
    expect(stopped).toMatchObject({ hitOffset: -1, hashes: 2000, stopped: true });
  });
});

describe('protocol test vectors (checked with the verifier the solver uses)', () => {
  const T = 'gkcjcibIFynKssuJnJpSrgvawiVjLjEbdFuYQzuWROTeTaSmqFCAzuwkwLCRgIIq';
  it.each([
    [T, 'TlVR_', 28],
    [T, 'TlVR', 2],
    [T, 'B9PD', 20],
    [T, 'ZGQ', 17],
    ['abc', 'KZ3T', 21],
    ['abc', 'VGm', 16],
  ])('sha256(%s + %s) has %i trailing zero bits', (token, suffix, bits) => {
    const digest = workDigest(token, suffix);
    expect(trailingZeroBits(digest)).toBe(bits);
    expect(hasTrailingZeroBits(digest, bits)).toBe(true);
    expect(hasTrailingZeroBits(digest, bits + 1)).toBe(false);
  });

  it('sha256(T + TlVR_) ends in 90000000', () => {
    expect(workDigest(T, 'TlVR_').toString('hex').endsWith('90000000')).toBe(true);
  });
});
