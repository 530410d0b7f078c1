import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { loadNativeKernel, nativeKernelVariants } from '../src/solver/kernels/native.js';
import {
  hitMask,
  prepareJob,
  SCAN_WINDOW,
  suffixFor,
  type PreparedJob,
} from '../src/solver/layout.js';
import type { Kernel } from '../src/solver/types.js';
import { prng, randomToken } from './fixtures/random.js';

const ADDON_PATH = fileURLToPath(
  new URL('../native/build/Release/tlslp_kernel.node', import.meta.url),
);
const PROTOCOL_TOKEN = 'gkcjcibIFynKssuJnJpSrgvawiVjLjEbdFuYQzuWROTeTaSmqFCAzuwkwLCRgIIq';
const N_BITS = [...Array.from({ length: 33 }, (_, i) => i), 40];

const ENV_VARS = ['TLSLP_NO_NATIVE', 'TLSLP_NATIVE_SCALAR', 'TLSLP_NATIVE_VARIANT'] as const;
const savedEnv = ENV_VARS.map((name) => [name, process.env[name]] as const);

/** Put the kernel-selection variables back as the test run found them. */
function restoreEnv(): void {
  for (const [name, value] of savedEnv) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
}

/** loadNativeKernel() with the kernel-selection variables set as given (others unset). */
function loadWith(
  env: Partial<Record<(typeof ENV_VARS)[number], string>>,
): ReturnType<typeof loadNativeKernel> {
  for (const name of ENV_VARS) {
    const value = env[name];
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  try {
    return loadNativeKernel();
  } finally {
    restoreEnv();
  }
}

// Skip only where the addon was genuinely not built; a built but broken addon must fail.
const built = existsSync(ADDON_PATH);
const loaded = loadWith({});
const variants = nativeKernelVariants();
const kernel: Kernel | undefined = loaded.kernel ?? variants[0];

// The kernel hashes any ASCII: test it beyond the token charset too.
const TOKEN_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~+/=!';

/** Last digest word of token + suffix for nonces (hi, lo) … (hi, lo + count − 1), by node:crypto. */
function lastWords(job: PreparedJob, hi: number, lo: number, count: number): Uint32Array {
  const words = new Uint32Array(count);
  for (let i = 0; i < count; i++) {
    const digest = createHash('sha256')
      .update(job.token + suffixFor(job, hi, lo + i))
      .digest();
    words[i] = digest.readUInt32BE(28);
  }
  return words;
}

/** The offset of the first word in words[from, from + count) with (word & mask) === 0, or −1. */
function firstHit(words: Uint32Array, from: number, count: number, nBits: number): number {
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

let fixtures: Fixture[] | undefined;
function getFixtures(): Fixture[] {
  fixtures ??= makeFixtures();
  return fixtures;
}

/** Scan [from, from + count) of a fixture with `k` and compare with node:crypto. */
function check(k: Kernel, f: Fixture, nBits: number, from: number, count: number): void {
  const job = { ...f.job, nBits };
  const got = k.scan(job, f.hi, f.lo + from, count);
  const want = firstHit(f.words, from, count, nBits);
  if (got !== want) {
    throw new Error(
      `${k.detail}: token length ${job.token.length} nBits ${nBits} hi ${f.hi} lo ${f.lo + from} ` +
        `count ${count}: got ${got}, node:crypto says ${want}`,
    );
  }
}

/** Whether /proc/cpuinfo lists every one of `flags` (false where there is no such file). */
function cpuHas(...flags: string[]): boolean {
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    return flags.every((flag) => new RegExp(`\\b${flag}\\b`).test(info));
  } catch {
    return false;
  }
}
const hasShaNi = (): boolean => cpuHas('sha_ni');

describe('native kernel loading', () => {
  it('TLSLP_NO_NATIVE=1 disables it with a reason', () => {
    const result = loadWith({ TLSLP_NO_NATIVE: '1' });
    expect(result.kernel).toBeNull();
    if (result.kernel === null) expect(result.reason).toMatch(/TLSLP_NO_NATIVE/);
  });

  it.skipIf(!built)('loads the built addon and passes its self-test', () => {
    expect(loaded.kernel === null ? loaded.reason : 'loaded').toBe('loaded');
    expect(variants.length).toBeGreaterThanOrEqual(1);
  });

  it.skipIf(!built)('describes itself and picks the variant measured fastest', () => {
    expect(kernel?.name).toBe('native');
    expect(kernel?.detail).toMatch(/^(sha-ni|avx512|avx512-vec|avx2|portable) x\d+$/);
    const rates = kernel?.rates ?? {};
    expect(rates[kernel?.detail ?? '']).toBe(Math.max(...Object.values(rates)));
    expect(variants.map((v) => v.detail)).toContain(kernel?.detail);
    expect(variants.some((v) => v.detail.startsWith('portable'))).toBe(true);
  });

  it.skipIf(!built)('TLSLP_NATIVE_SCALAR=1 selects the portable variant', () => {
    const result = loadWith({ TLSLP_NATIVE_SCALAR: '1' });
    expect(result.kernel?.detail).toMatch(/^portable x\d+$/);
  });

  it.skipIf(!built)('TLSLP_NATIVE_VARIANT selects any variant this CPU runs', () => {
    for (const variant of variants) {
      // The whole name picks exactly that variant; its first word, one of that family.
      expect(loadWith({ TLSLP_NATIVE_VARIANT: variant.detail }).kernel?.detail).toBe(
        variant.detail,
      );
      const family = `${variant.detail.split(' ')[0] as string} `;
      expect(loadWith({ TLSLP_NATIVE_VARIANT: family }).kernel?.detail).toMatch(
        new RegExp(`^${family}`),
      );
    }
    // An unknown variant leaves the default.
    expect(loadWith({ TLSLP_NATIVE_VARIANT: 'no-such' }).kernel?.detail).toBe(
      loaded.kernel?.detail,
    );
  });
});

describe.skipIf(!built)('native kernel', () => {
  it('runs every variant this CPU supports', () => {
    expect(variants.length).toBeGreaterThanOrEqual(1);
    if (hasShaNi()) expect(variants.some((v) => v.detail.startsWith('sha-ni'))).toBe(true);
    if (cpuHas('avx512f', 'avx512vl')) {
      expect(variants.some((v) => v.detail.startsWith('avx512 '))).toBe(true);
    }
    // Every variant the addon exports is tested below.
    const addon = createRequire(import.meta.url)(ADDON_PATH) as { variants: object };
    expect(variants.map((v) => v.detail).sort()).toEqual(Object.keys(addon.variants).sort());
  });

  describe.each(variants.map((v) => [v.detail, v] as const))('%s', (_detail, variant) => {
    it('agrees with node:crypto for tokens of length 1..128 and n_bits 0..32, 40', () => {
      for (const f of getFixtures()) {
        for (const nBits of N_BITS) check(variant, f, nBits, 0, RANGE);
      }
    });

    it('agrees with node:crypto on sub-ranges of every start and short length', () => {
      // Short counts and shifted starts put hits (and the batch tail) at every lane/stream.
      for (const f of getFixtures().filter((_, i) => i % 4 === 0)) {
        for (const nBits of [0, 1, 2, 3, 4, 6]) {
          for (let from = 0; from < 24; from++) {
            for (const count of [1, 2, 3, 4, 5, 7, 8, 9, 11, 16, 17, 33, 47, 48, 49, 65, 100, 136])
              check(variant, f, nBits, from, count);
          }
        }
      }
    });

    it('returns the first hit in order when later lanes, groups and batches hit too', () => {
      // Many hits per batch (n_bits 1..6) from every start modulo 64: the first hit must come
      // back wherever it falls, so over all cases it falls at every position of a 64-candidate
      // run (every lane of every 16-lane group and both halves of a 32-candidate batch).
      const positions = new Set<number>();
      for (const f of getFixtures().filter((_, i) => i % 2 === 0)) {
        for (let nBits = 1; nBits <= 6; nBits++) {
          for (let from = 0; from < 64; from += 1 + (nBits % 3)) {
            check(variant, f, nBits, from, RANGE - from);
            const want = firstHit(f.words, from, RANGE - from, nBits);
            if (want >= 0) positions.add((f.lo + from + want) % 64);
          }
        }
      }
      expect(positions.size).toBe(64);
    });

    it('agrees with node:crypto at the edges of a window', () => {
      // The fixtures of every third length end exactly at the end of a 2^18 window.
      const atEnd = getFixtures().filter((f) => (f.lo % SCAN_WINDOW) + RANGE === SCAN_WINDOW);
      expect(atEnd.length).toBeGreaterThan(0);
      for (const f of atEnd) {
        for (const nBits of [0, 1, 2, 3, 5, 8, 32]) {
          for (let count = 1; count <= 70; count++) check(variant, f, nBits, RANGE - count, count);
        }
      }
      // The first candidate of a window alone, and a whole window, against a full scan.
      const job = prepareJob('window edge', 2);
      const [first] = lastWords(job, 9, 3 * SCAN_WINDOW, 1);
      expect(variant.scan(job, 9, 3 * SCAN_WINDOW, 1)).toBe(
        ((first as number) & hitMask(2)) === 0 ? 0 : -1,
      );
      const [last] = lastWords(job, 9, 4 * SCAN_WINDOW - 1, 1);
      expect(variant.scan(job, 9, 4 * SCAN_WINDOW - 1, 1)).toBe(
        ((last as number) & hitMask(2)) === 0 ? 0 : -1,
      );
    });

    it('returns −1 for an empty range and 0 for n_bits 0', () => {
      const job = prepareJob('abc', 0);
      expect(variant.scan(job, 0, 5, 0)).toBe(-1);
      expect(variant.scan(job, 0, 5, 1)).toBe(0);
      expect(variant.scan({ ...job, nBits: 40 }, 0, 0, 64)).toBe(-1);
    });

    it('finds the PROTOCOL test vector a 20-bit solution', () => {
      const job = prepareJob(PROTOCOL_TOKEN, 20);
      let found: string | undefined;
      for (let lo = 0; found === undefined && lo < 64 * SCAN_WINDOW; lo += SCAN_WINDOW) {
        const offset = variant.scan(job, 0, lo, SCAN_WINDOW);
        if (offset >= 0) found = suffixFor(job, 0, lo + offset);
      }
      expect(found).toBeDefined();
      const digest = createHash('sha256')
        .update(PROTOCOL_TOKEN + (found as string))
        .digest();
      expect(digest.readUInt32BE(28) & 0xfffff).toBe(0);
      expect(found).toMatch(/^x*[A-Za-z0-9_-]{11}$/);
    });
  });

  it('all variants agree on first hits over whole windows (n_bits 12..22)', () => {
    // node:crypto checks each hit; the variants are independent implementations, so their
    // agreement also covers the misses before it.
    const random = prng(7);
    for (const nBits of [12, 14, 16, 18, 20, 22]) {
      const job = prepareJob(
        randomToken(random, 1 + Math.floor(random() * 128), TOKEN_CHARS),
        nBits,
      );
      const hi = Math.floor(random() * 2 ** 32);
      const lo = Math.floor(random() * 2 ** 14) * SCAN_WINDOW;
      const start = Math.floor(random() * 1000);
      const results = variants.map((v) => v.scan(job, hi, lo + start, SCAN_WINDOW - start));
      expect(
        new Set(results).size,
        `${variants.map((v) => v.detail).join(', ')}: ${results.join(', ')}`,
      ).toBe(1);
      const offset = results[0] as number;
      if (offset >= 0) {
        const [word] = lastWords(job, hi, lo + start + offset, 1);
        expect((word as number) & hitMask(nBits)).toBe(0);
      }
    }
  });

  it('accepts jobs whose arrays arrived as plain arrays', () => {
    const job = prepareJob('cloned job', 3);
    const plain = {
      ...job,
      midstate: Array.from(job.midstate) as unknown as Uint32Array,
      tail: Array.from(job.tail) as unknown as Uint8Array,
    };
    expect((kernel as Kernel).scan(plain, 9, 1000, 500)).toBe(
      (kernel as Kernel).scan(job, 9, 1000, 500),
    );
  });

  it('throws on bad input instead of crashing', () => {
    const k = kernel as Kernel;
    const job = prepareJob('validate', 8);
    expect(() => k.scan({ ...job, tail: job.tail.subarray(1) }, 0, 0, 1)).toThrow(TypeError);
    expect(() => k.scan({ ...job, midstate: new Uint32Array(7) }, 0, 0, 1)).toThrow(TypeError);
    expect(() => k.scan({ ...job, messageLength: job.messageLength + 1 }, 0, 0, 1)).toThrow(
      RangeError,
    );
    expect(() => k.scan(job, 0, 0, SCAN_WINDOW + 1)).toThrow(RangeError);
    expect(() => k.scan(job, 0, SCAN_WINDOW - 2, 3)).toThrow(RangeError);
    expect(() => k.scan(job, -1, 0, 1)).toThrow(RangeError);
    expect(() => k.scan(job, 0, 2 ** 32, 1)).toThrow(RangeError);
    expect(() => k.scan(job, 0.5, 0, 1)).toThrow(RangeError);
    expect(() => k.scan(job, 0, Number.NaN, 1)).toThrow(RangeError);
    expect(() => k.scan({ ...job, nBits: -1 }, 0, 0, 1)).toThrow(RangeError);
    expect(() => k.scan(job, '0' as unknown as number, 0, 1)).toThrow(TypeError);

    const addon = createRequire(import.meta.url)(ADDON_PATH) as {
      scan: (...args: unknown[]) => number;
    };
    expect(() => addon.scan()).toThrow(TypeError);
    expect(() => addon.scan(job.midstate, job.tail, job.messageLength, 8, 0, 0)).toThrow(TypeError);
    expect(() => addon.scan(new Int32Array(8), job.tail, job.messageLength, 8, 0, 0, 1)).toThrow(
      TypeError,
    );
    expect(() => addon.scan(job.midstate, 'tail', job.messageLength, 8, 0, 0, 1)).toThrow(
      TypeError,
    );
    expect(
      addon.scan(job.midstate, Buffer.from(job.tail), job.messageLength, 8, 0, 0, 1),
    ).toBeTypeOf('number');
  });

  it('TLSLP_NATIVE_SCALAR=1 makes the addon itself default to the portable variant', () => {
    const job = prepareJob(PROTOCOL_TOKEN, 6);
    const args = [
      Array.from(job.midstate),
      Array.from(job.tail),
      job.messageLength,
      6,
      3,
      777,
      4000,
    ];
    const script =
      'const a = require(process.argv[1]); const [m, t, ...rest] = JSON.parse(process.argv[2]);' +
      'console.log(JSON.stringify([a.detail, a.scan(new Uint32Array(m), new Uint8Array(t), ...rest)]));';
    const run = (env: NodeJS.ProcessEnv): [string, number] =>
      JSON.parse(
        execFileSync(process.execPath, ['-e', script, ADDON_PATH, JSON.stringify(args)], {
          env: { ...process.env, ...env },
          encoding: 'utf8',
        }),
      ) as [string, number];
    const want = firstHit(lastWords(job, 3, 777, 4000), 0, 4000, 6);
    const [scalarDetail, scalarResult] = run({ TLSLP_NATIVE_SCALAR: '1' });
    expect(scalarDetail).toMatch(/^portable x\d+$/);
    expect(scalarResult).toBe(want);
    const [bestDetail, bestResult] = run({ TLSLP_NATIVE_SCALAR: '' });
    expect(variants.map((v) => v.detail)).toContain(bestDetail);
    expect(bestResult).toBe(want);
  });

  it('loads and scans in worker threads', async () => {
    const job = prepareJob('worker token', 5);
    const code =
      'const { parentPort, workerData: d } = require("node:worker_threads");' +
      'const a = require(d.path);' +
      'parentPort.postMessage(a.scan(d.midstate, d.tail, d.messageLength, 5, 1, 2, 3000));';
    const results = await Promise.all(
      [0, 1].map(
        () =>
          new Promise<number>((resolve, reject) => {
            const worker = new Worker(code, {
              eval: true,
              workerData: {
                path: ADDON_PATH,
                midstate: job.midstate,
                tail: job.tail,
                messageLength: job.messageLength,
              },
            });
            worker.once('message', (value: number) => resolve(value));
            worker.once('error', reject);
          }),
      ),
    );
    const want = (kernel as Kernel).scan(job, 1, 2, 3000);
    expect(results).toEqual([want, want]);
  });
});
