import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { loadNativeKernel, nativeKernelVariants } from '../src/solver/kernels/native.js';
import { hitMask, prepareJob, SCAN_WINDOW } from '../src/solver/layout.js';
import type { Kernel } from '../src/solver/types.js';
import { prng, randomToken } from './fixtures/random.js';
import { cpuHas, firstHit, lastWords, PROTOCOL_TOKEN, TOKEN_CHARS } from './kernel-conformance.js';

const ADDON_PATH = fileURLToPath(
  new URL('../native/build/Release/tlslp_kernel.node', import.meta.url),
);

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

// The conformance suite over every variant this CPU runs: kernel-conformance.test.ts.

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
    const want = firstHit(lastWords(job, 3, 777, 4000), 6);
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
