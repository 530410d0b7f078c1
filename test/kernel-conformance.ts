/**
 * The one agreement suite every kernel runs (js, both wasm builds, every native variant; all
 * registered by kernel-conformance.test.ts): node:crypto is the reference, so each kernel is
 * held to the same first-hit contract by the same cases. Each kernel's own tests (loading,
 * variants, threads, fallbacks) stay in its file.
 */
import crypto, { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  ALPHABET,
  hitMask,
  prepareJob,
  SCAN_WINDOW,
  suffixFor,
  type PreparedJob,
} from '../src/solver/layout.js';
import type { Kernel } from '../src/solver/types.js';
import { prng, randomToken } from './fixtures/random.js';

/** Whether /proc/cpuinfo lists every one of `flags` (false where there is no such file). */
export function cpuHas(...flags: string[]): boolean {
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    return flags.every((flag) => new RegExp(`\\b${flag}\\b`).test(info));
  } catch {
    return false;
  }
}

/** The PROTOCOL document's worked example token. */
export const PROTOCOL_TOKEN = 'gkcjcibIFynKssuJnJpSrgvawiVjLjEbdFuYQzuWROTeTaSmqFCAzuwkwLCRgIIq';

/** n_bits 0..32 and 40: every mask width a word can have, and one beyond the last word. */
export const N_BITS = [...Array.from({ length: 33 }, (_, i) => i), 40];

/** The kernels hash any ASCII: tokens go beyond the token charset too. */
export const TOKEN_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~+/=!';

/**
 * The lowest nonce with 32 trailing zero bits for token "abc" (found once with the native
 * kernel): its suffix, its nonce halves and the start of its window.
 */
export const ABC_32_BITS = (() => {
  const suffix = 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxAAAAALtiVbr';
  let value = 0n;
  for (const ch of suffix.slice(-11)) value = value * 64n + BigInt(ALPHABET.indexOf(ch));
  const lo = Number(value & 0xffffffffn);
  return { token: 'abc', suffix, hi: Number(value >> 32n), lo, start: lo - (lo % SCAN_WINDOW) };
})();

/**
 * SHA-256 of a latin1 string by node:crypto: the one-shot `crypto.hash` where this Node has it
 * (20.12 and later; about twice as fast on these short messages, which matters over the 2^19
 * reference candidates of a whole-window case), else createHash.
 */
const sha256: (text: string) => Buffer =
  typeof (crypto as { hash?: unknown }).hash === 'function'
    ? (text) =>
        (crypto as unknown as { hash(a: string, d: Buffer, e: 'buffer'): Buffer }).hash(
          'sha256',
          Buffer.from(text, 'latin1'),
          'buffer',
        )
    : (text) => createHash('sha256').update(text, 'latin1').digest();

/** Last digest word of token + suffix for nonces (hi, lo) … (hi, lo + count − 1), by node:crypto. */
export function lastWords(job: PreparedJob, hi: number, lo: number, count: number): Uint32Array {
  const words = new Uint32Array(count);
  for (let i = 0; i < count; i++) {
    words[i] = sha256(job.token + suffixFor(job, hi, lo + i)).readUInt32BE(28);
  }
  return words;
}

/**
 * The first hit for `job.nBits` among nonces (hi, lo) … (hi, lo + count − 1) by node:crypto,
 * hashing only up to it: its offset from `lo`, or −1. What {@link firstHit} over
 * {@link lastWords} gives, without hashing the rest of the range.
 */
export function referenceFirstHit(job: PreparedJob, hi: number, lo: number, count: number): number {
  const mask = hitMask(job.nBits);
  for (let i = 0; i < count; i++) {
    const word = sha256(job.token + suffixFor(job, hi, lo + i)).readUInt32BE(28);
    if ((word & mask) >>> 0 === 0) return i;
  }
  return -1;
}

/**
 * What a kernel must return for `nBits` over words[from, from + count): the offset (from
 * `from`) of the first word whose low `nBits` bits are zero, or −1.
 */
export function firstHit(
  words: Uint32Array,
  nBits: number,
  from = 0,
  count = words.length - from,
): number {
  const mask = hitMask(nBits);
  for (let i = 0; i < count; i++) {
    if (((words[from + i] as number) & mask) >>> 0 === 0) return i;
  }
  return -1;
}

/** A range of nonces with its node:crypto words, scanned in many sub-ranges. */
interface Fixture {
  job: PreparedJob;
  hi: number;
  lo: number;
  words: Uint32Array;
}

const RANGE = 160;

/**
 * Tokens of every length 1..128 (random content), each with a range of nonces: alternating
 * aligned window starts and starts inside a window that cross 64- and 4096-candidate
 * boundaries (the points where nonce characters 9 and 8 change), and varied hi halves.
 */
function makeFixtures(): Fixture[] {
  const random = prng(0x5eed);
  const his = [0, 1, 0x3f, 0x40, 0x12345678, 0xffffffff];
  const fixtures: Fixture[] = [];
  for (let length = 1; length <= 128; length++) {
    const job = prepareJob(randomToken(random, length, TOKEN_CHARS), 0);
    const hi = his[length % his.length] as number;
    const window = Math.floor(random() * 0x4000) * SCAN_WINDOW;
    let offset = 0;
    if (length % 3 === 1) offset = 4096 * (1 + Math.floor(random() * 60)) - 70;
    if (length % 3 === 2) offset = SCAN_WINDOW - RANGE; // ends exactly at the window's end
    const lo = (window + offset) >>> 0;
    fixtures.push({ job, hi, lo, words: lastWords(job, hi, lo, RANGE) });
  }
  return fixtures;
}

// The node:crypto references are computed once per test file and shared by every kernel in it
// (kernel-conformance.test.ts runs them all, so once per run).
let fixtures: Fixture[] | undefined;
function getFixtures(): Fixture[] {
  fixtures ??= makeFixtures();
  return fixtures;
}

/** n_bits for whole-window scans: hits stop near 18 bits in 2^18 nonces; 32 and 40 for the misses. */
const WINDOW_N_BITS = [...Array.from({ length: 21 }, (_, i) => i), 32, 40];

/** Two whole windows (the last of the nonce space) with their words, for high n_bits. */
let windows: Array<{ token: string; words: Uint32Array }> | undefined;
const WINDOW_HI = 0xffffffff;
const WINDOW_LO = (2 ** 32 - SCAN_WINDOW) >>> 0;
function getWindows(): Array<{ token: string; words: Uint32Array }> {
  const random = prng(2);
  windows ??= [7, 64].map((length) => {
    const token = randomToken(random, length);
    return { token, words: lastWords(prepareJob(token, 0), WINDOW_HI, WINDOW_LO, SCAN_WINDOW) };
  });
  return windows;
}

/** Scan [from, from + count) of a fixture with `k`; throws naming the case when node:crypto disagrees. */
function check(k: Kernel, f: Fixture, nBits: number, from: number, count: number): void {
  const job = { ...f.job, nBits };
  const got = k.scan(job, f.hi, f.lo + from, count);
  const want = firstHit(f.words, nBits, from, count);
  if (got !== want) {
    throw new Error(
      `${k.name} ${k.detail}: token length ${job.token.length} nBits ${nBits} hi ${f.hi} ` +
        `lo ${f.lo + from} count ${count}: got ${got}, node:crypto says ${want}`,
    );
  }
}

/**
 * Registers the agreement tests for `kernel` under the current describe block. `kernel` is a
 * function so that a kernel which cannot load here is only asked for inside a (skipped) block.
 */
export function kernelConformance(kernel: () => Kernel): void {
  it('agrees with node:crypto for tokens of length 1..128 and n_bits 0..32, 40', () => {
    const k = kernel();
    for (const f of getFixtures()) {
      for (const nBits of N_BITS) check(k, f, nBits, 0, RANGE);
    }
  });

  it('agrees with node:crypto on sub-ranges of every start and short length', () => {
    // Short counts and shifted starts put hits (and the batch tail) at every lane/stream.
    const k = kernel();
    for (const f of getFixtures().filter((_, i) => i % 4 === 0)) {
      for (const nBits of [0, 1, 2, 3, 4, 6]) {
        for (let from = 0; from < 24; from++) {
          for (const count of [1, 2, 3, 4, 5, 7, 8, 9, 11, 16, 17, 33, 47, 48, 49, 65, 100, 136])
            check(k, f, nBits, from, count);
        }
      }
    }
  });

  it('returns the first hit in order when later lanes, groups and batches hit too', () => {
    // Many hits per batch (n_bits 1..6) from every start modulo 64: the first hit must come
    // back wherever it falls, so over all cases it falls at every position of a 64-candidate
    // run (every lane of every 16-lane group and both halves of a 32-candidate batch).
    const k = kernel();
    const positions = new Set<number>();
    for (const f of getFixtures().filter((_, i) => i % 2 === 0)) {
      for (let nBits = 1; nBits <= 6; nBits++) {
        for (let from = 0; from < 64; from += 1 + (nBits % 3)) {
          check(k, f, nBits, from, RANGE - from);
          const want = firstHit(f.words, nBits, from, RANGE - from);
          if (want >= 0) positions.add((f.lo + from + want) % 64);
        }
      }
    }
    expect(positions.size).toBe(64);
  });

  it('agrees with node:crypto at the edges of a window', () => {
    // The fixtures of every third length end exactly at the end of a 2^18 window.
    const k = kernel();
    const atEnd = getFixtures().filter((f) => (f.lo % SCAN_WINDOW) + RANGE === SCAN_WINDOW);
    expect(atEnd.length).toBeGreaterThan(0);
    for (const f of atEnd) {
      for (const nBits of [0, 1, 2, 3, 5, 8, 32]) {
        for (let count = 1; count <= 70; count++) check(k, f, nBits, RANGE - count, count);
      }
    }
    // The first candidate of a window alone, and its last one.
    const job = prepareJob('window edge', 2);
    const [first] = lastWords(job, 9, 3 * SCAN_WINDOW, 1);
    expect(k.scan(job, 9, 3 * SCAN_WINDOW, 1)).toBe(
      ((first as number) & hitMask(2)) === 0 ? 0 : -1,
    );
    const [last] = lastWords(job, 9, 4 * SCAN_WINDOW - 1, 1);
    expect(k.scan(job, 9, 4 * SCAN_WINDOW - 1, 1)).toBe(
      ((last as number) & hitMask(2)) === 0 ? 0 : -1,
    );
  });

  // 2^19 node:crypto hashes for the reference, then up to 2 × 23 whole windows with the
  // kernel (the js one at a few M hashes/s): longer than the 20 s default on a busy machine.
  it(
    'agrees over a whole window, where hits at higher n_bits occur, and resumes after a hit',
    { timeout: 60_000 },
    () => {
      const k = kernel();
      for (const { token, words } of getWindows()) {
        for (const nBits of WINDOW_N_BITS) {
          const job = prepareJob(token, nBits);
          const expected = firstHit(words, nBits);
          expect(k.scan(job, WINDOW_HI, WINDOW_LO, SCAN_WINDOW), `${token} n_bits ${nBits}`).toBe(
            expected,
          );
          // Resuming after a hit finds the next one, as callers do after a false positive.
          if (expected >= 0 && expected + 1 < SCAN_WINDOW) {
            const rest = SCAN_WINDOW - expected - 1;
            expect(k.scan(job, WINDOW_HI, WINDOW_LO + expected + 1, rest)).toBe(
              firstHit(words, nBits, expected + 1),
            );
          }
        }
      }
    },
  );

  it('returns −1 for an empty range and 0 for n_bits 0', () => {
    const k = kernel();
    const job = prepareJob('abc', 0);
    expect(k.scan(job, 0, 5, 0)).toBe(-1);
    expect(k.scan(job, 0, 5, 1)).toBe(0);
    expect(k.scan({ ...job, nBits: 40 }, 0, 0, 64)).toBe(-1);
  });

  it('finds the known lowest 32-bit solution of "abc", and reports it at 40 bits too', () => {
    // At 32 bits the last digest word is zero, which is also a 40-bit candidate.
    const k = kernel();
    const { suffix, hi, lo, start } = ABC_32_BITS;
    expect(lastWords(prepareJob('abc', 0), hi, lo, 1)[0]).toBe(0);
    for (const nBits of [32, 40]) {
      const job = prepareJob('abc', nBits);
      expect(suffixFor(job, hi, lo)).toBe(suffix);
      expect(k.scan(job, hi, start, SCAN_WINDOW)).toBe(lo - start);
    }
  });

  it('finds the PROTOCOL test vector a 20-bit solution that node:crypto confirms', () => {
    const k = kernel();
    const job = prepareJob(PROTOCOL_TOKEN, 20);
    let found: string | undefined;
    for (let lo = 0; found === undefined && lo < 64 * SCAN_WINDOW; lo += SCAN_WINDOW) {
      const offset = k.scan(job, 0, lo, SCAN_WINDOW);
      if (offset >= 0) found = suffixFor(job, 0, lo + offset);
    }
    expect(found).toBeDefined();
    const digest = createHash('sha256')
      .update(PROTOCOL_TOKEN + (found as string))
      .digest();
    expect(digest.readUInt32BE(28) & 0xfffff).toBe(0);
    expect(found).toMatch(/^x*[A-Za-z0-9_-]{11}$/);
  });
}

/**
 * A describe block running the conformance suite for `title`, or skipped visibly when the
 * kernel cannot run here, the reason in its title (never an early return that passes).
 */
export function describeKernel(
  title: string,
  skipReason: string | undefined,
  kernel: () => Kernel,
): void {
  const name =
    skipReason === undefined
      ? `${title} agrees with node:crypto`
      : `${title} (skipped: ${skipReason})`;
  describe.skipIf(skipReason !== undefined)(name, () => kernelConformance(kernel));
}
