import { describe, expect, it, vi } from 'vitest';
import {
  hasTrailingZeroBits,
  trailingZeroBits,
  verifyWork,
  workDigest,
} from '../src/protocol/hash.js';
import { createJsKernel } from '../src/solver/kernels/js.js';
import { prepareJob, SCAN_WINDOW } from '../src/solver/layout.js';
import { scanBatch } from '../src/solver/batch.js';
import { ABC_32_BITS, firstHit, lastWords } from './kernel-conformance.js';

// The conformance suite over this kernel: kernel-conformance.test.ts.
const kernel = createJsKernel();

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

  it('scanBatch re-verifies a kernel hit: a solution at 32 bits, a false positive at 40', () => {
    // The lowest 32-bit nonce of "abc" (the conformance suite checks every kernel finds it):
    // its last digest word is zero, a candidate at 40 bits too, which scanBatch must refuse
    // unless the digest really has 40 trailing zero bits.
    const { token, suffix, hi, lo, start } = ABC_32_BITS;
    const at32 = scanBatch(kernel, prepareJob(token, 32), hi, start, SCAN_WINDOW);
    expect(at32.verified?.suffix).toBe(suffix);
    expect(at32.hitOffset).toBe(lo - start);
    const exact = trailingZeroBits(workDigest(token, suffix));
    expect(exact).toBeGreaterThanOrEqual(32);
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
