import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ConfigError, SolverError } from '../src/errors/index.js';
import { verifyWork } from '../src/protocol/hash.js';
import {
  availableKernels,
  closeSolverPool,
  selectKernel,
  solveWork,
  type KernelName,
  type SolveProgress,
} from '../src/solver/index.js';
import { NONCE_CHARS, prepareJob, suffixFor } from '../src/solver/layout.js';
import { measureKernel } from '../src/solver/measure.js';
import {
  solverPoolStarted,
  solverPoolState,
  solverPoolWarm,
  startSolverPool,
} from '../src/solver/pool.js';
import { CONTROL_ABORT, CONTROL_HIT } from '../src/solver/batch.js';
import runBatch from '../src/solver/worker.js';
import { prng, randomToken } from './fixtures/random.js';
import { until } from './helpers.js';

/** The lowest solving nonce, by brute force with node:crypto (small n_bits only). */
function lowestSuffix(token: string, nBits: number): string {
  const job = prepareJob(token, nBits);
  for (let lo = 0; ; lo++) {
    const suffix = suffixFor(job, 0, lo);
    if (verifyWork(token, suffix, nBits)) return suffix;
  }
}

/** Wait for a promise to settle, and how long that took after `since`. */
async function settle(
  promise: Promise<unknown>,
  since: () => number,
): Promise<{ error: unknown; ms: number }> {
  try {
    await promise;
    return { error: null, ms: since() };
  } catch (error) {
    return { error, ms: since() };
  }
}

/**
 * Process CPU time (all threads) used over `ms` of wall time. The wait is the measurement
 * itself (CPU burnt over a span of time), not a stand-in for an event, so it stays.
 */
async function cpuOver(ms: number): Promise<number> {
  const before = process.cpuUsage();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000;
}

let available: KernelName[] = [];

beforeAll(async () => {
  available = (await availableKernels()).filter((k) => k.available).map((k) => k.name);
});

afterAll(async () => {
  await closeSolverPool();
});

describe('solveWork', () => {
  it('solves random tokens of lengths 1..128 at n_bits 0..20, all verified by node:crypto', async () => {
    const random = prng(7);
    for (let nBits = 0; nBits <= 20; nBits++) {
      // A handful of lengths per difficulty keeps the file fast; across all n_bits every
      // region of 1..128 (and both sides of the 64-byte block boundaries) is covered.
      const lengths = [1 + ((nBits * 37) % 128), 55 + (nBits % 3), 64 - (nBits % 2), 128 - nBits];
      lengths.push(1 + Math.floor(random() * 128));
      for (const length of lengths) {
        const token = randomToken(random, length);
        const result = await solveWork(token, nBits);
        expect(verifyWork(token, result.suffix, nBits), `${token} ${nBits}`).toBe(true);
        expect(result.suffix).toMatch(/^[A-Za-z0-9_-]+$/);
        expect(result.suffix.length).toBeLessThanOrEqual(128);
        expect(result.suffix.length).toBeGreaterThanOrEqual(NONCE_CHARS);
        expect(result.hashes).toBeGreaterThan(0);
        expect(result.kernel).toBe(available[0]);
      }
    }
  });

  it('returns the lowest-nonce solution', async () => {
    const random = prng(11);
    for (let nBits = 0; nBits <= 10; nBits++) {
      const token = randomToken(random, 1 + Math.floor(random() * 128));
      const result = await solveWork(token, nBits);
      expect(result.suffix).toBe(lowestSuffix(token, nBits));
    }
  });

  it('is deterministic across thread counts and kernels', async () => {
    // Lowest solutions at nonce 141 136, 296 740 and 649 678: in the second, third and fifth
    // js batches (2^17 nonces) and the first, second and third wasm ones (2^18), so that pool
    // threads scan past them and later batches are dispatched after earlier ones finish. The
    // pool's search is the same for every kernel; each kernel's scans past its first batch
    // (other hi and lo halves) are the conformance suite's.
    const cases: Array<[string, number]> = [
      ['abc', 20],
      ['gkcjcibIFynKssuJnJpSrgvawiVjLjEbdFuYQzuWROTeTaSmqFCAzuwkwLCRgIIq', 17],
      ['V', 17],
    ];
    for (const [token, nBits] of cases) {
      const reference = await solveWork(token, nBits, { kernel: 'js', threads: 1 });
      expect(verifyWork(token, reference.suffix, nBits)).toBe(true);
      expect(reference.threads).toBe(1);
      // Below 2^22 a solve only takes the pool when its threads are up: start them.
      await startSolverPool('js', 2);
      const pooled = await solveWork(token, nBits, { kernel: 'js', threads: 2 });
      expect(pooled.threads).toBe(2);
      expect(pooled.suffix).toBe(reference.suffix);
      for (const kernel of available) {
        for (const threads of [1, 2, 3]) {
          // js on 1 and on 2 (pool) threads are the two solves above.
          if (kernel === 'js' && threads < 3) continue;
          const other = await solveWork(token, nBits, { kernel, threads });
          expect(other.suffix, `${kernel} x${threads}`).toBe(reference.suffix);
          expect(other.kernel).toBe(kernel);
        }
      }
      expect((await solveWork(token, nBits)).suffix).toBe(reference.suffix);
    }
  });

  for (const kernel of ['js', 'wasm', 'native'] as const) {
    it(`runs the ${kernel} kernel when forced`, async (ctx) => {
      const info = (await availableKernels()).find((k) => k.name === kernel);
      // js must always work, wasm unless its module is not built yet; native needs a compiler.
      if (info && !info.available && (kernel === 'native' || /not found/.test(info.reason))) {
        ctx.skip();
      }
      expect(info?.available, info && !info.available ? info.reason : '').toBe(true);
      for (const threads of [1, 2]) {
        const result = await solveWork('forced', 17, { kernel, threads });
        expect(result.kernel).toBe(kernel);
        expect(result.kernelDetail.length).toBeGreaterThan(0);
        expect(verifyWork('forced', result.suffix, 17)).toBe(true);
      }
    });
  }

  it('rejects bad arguments with ConfigError', async () => {
    const bad: Array<[unknown, unknown, object?]> = [
      ['', 8],
      ['a'.repeat(129), 8],
      ['a b', 8],
      ['tök', 8],
      [42, 8],
      ['abc', -1],
      ['abc', 65],
      ['abc', 1.5],
      ['abc', Number.NaN],
      ['abc', '8'],
      ['abc', 8, { threads: 0 }],
      ['abc', 8, { threads: 1.5 }],
      ['abc', 8, { kernel: 'gpu' }],
      ['abc', 8, { progressIntervalMs: 0 }],
    ];
    for (const [token, nBits, options] of bad) {
      const call = solveWork(token as string, nBits as number, options);
      await expect(call, JSON.stringify([token, nBits, options])).rejects.toBeInstanceOf(
        ConfigError,
      );
    }
    await expect(solveWork('a b', 8)).rejects.toMatchObject({
      code: 'TLSLP_ERR_BAD_TOKEN',
      option: 'token',
      message: 'token must be 1..128 characters of [A-Za-z0-9_-]',
    });
    await expect(solveWork('abc', 65)).rejects.toMatchObject({
      code: 'TLSLP_ERR_BAD_N_BITS',
      option: 'nBits',
      message: 'nBits must be a whole number 0..64, not 65',
    });
  });

  it('accepts the extremes: 128-character tokens, n_bits 0 and 1-character tokens', async () => {
    const long = 'A'.repeat(128);
    const zero = await solveWork(long, 0);
    expect(verifyWork(long, zero.suffix, 0)).toBe(true);
    expect(zero.suffix.length).toBeLessThanOrEqual(128);
    expect((await solveWork('-', 12)).suffix).toBe(lowestSuffix('-', 12));
  });

  it('reports progress with sane fields', async () => {
    const events: SolveProgress[] = [];
    // Threads up first, so that this 19-bit solve (lowest solution at nonce 1 433 486, eleven
    // js batches) runs on the pool: below 2^22 a cold pool is not started.
    await startSolverPool('js', 2);
    const result = await solveWork('progress', 19, {
      kernel: 'js',
      threads: 2,
      progressIntervalMs: 20,
      onProgress: (p) => events.push(p),
    });
    expect(result.threads).toBe(2);
    expect(verifyWork('progress', result.suffix, 19)).toBe(true);
    expect(events.length).toBeGreaterThan(0);
    let last = 0;
    for (const p of events) {
      expect(p.hashes).toBeGreaterThan(last);
      last = p.hashes;
      expect(p.elapsedMs).toBeGreaterThan(0);
      expect(p.hashesPerSecond).toBeGreaterThan(0);
      expect(Number.isFinite(p.hashesPerSecond)).toBe(true);
      expect(p.expectedHashes).toBe(2 ** 19);
      expect(p.etaSeconds).toBeGreaterThanOrEqual(0);
      expect(Number.isFinite(p.etaSeconds)).toBe(true);
    }
    expect(last).toBeLessThanOrEqual(result.hashes);
  });

  it('reports progress on the calling thread too', async () => {
    const events: SolveProgress[] = [];
    await solveWork('progress1', 20, {
      kernel: 'js',
      threads: 1,
      progressIntervalMs: 10,
      onProgress: (p) => events.push(p),
    });
    expect(events.length).toBeGreaterThan(0);
    expect(events[0]?.expectedHashes).toBe(2 ** 20);
  });
});

describe('reported rates', () => {
  it("reports the kernel's own rate, which time outside the kernel cannot lower", async () => {
    // One thread on the calling thread: kernel time is part of wall time, so the kernel
    // rate is at least hashes over wall time (and a short solve's wall time is mostly set-up).
    const token = randomToken(prng(7), 64);
    const r = await solveWork(token, 14, { threads: 1, kernel: 'js' });
    expect(verifyWork(token, r.suffix, 14)).toBe(true);
    expect(r.kernelHashesPerSecond).toBeGreaterThan(0);
    expect(r.kernelHashesPerSecond).toBeGreaterThanOrEqual(r.hashesPerSecond);
  });
});

describe('cancellation', () => {
  for (const threads of [2, 1]) {
    it(`stops every thread promptly when aborted (threads: ${threads})`, async () => {
      const controller = new AbortController();
      let hashed = 0;
      const solve = solveWork('cancelme', 40, {
        threads,
        signal: controller.signal,
        progressIntervalMs: 20,
        onProgress: (p) => (hashed = p.hashes),
      });
      // Abort a solve that is hashing: its first progress report with hashes done.
      await until(() => hashed > 0, 'the solve hashing', 10_000);
      const abortedAt = performance.now();
      controller.abort();
      const { error, ms } = await settle(solve, () => performance.now() - abortedAt);
      expect(error).toBeInstanceOf(SolverError);
      expect((error as SolverError).code).toBe('TLSLP_ERR_SOLVE_ABORTED');
      // Generous bound for a loaded CI machine; batches are sized for well under 100 ms.
      expect(ms).toBeLessThan(1000);
      // Nothing keeps hashing: the pool is idle and the process burns (almost) no CPU.
      expect(solverPoolState().busy).toBe(false);
      expect(await cpuOver(500)).toBeLessThan(250);
    });
  }

  it('rejects at once when the signal is already aborted', async () => {
    const signal = AbortSignal.abort();
    await expect(solveWork('abc', 30, { signal })).rejects.toMatchObject({
      code: 'TLSLP_ERR_SOLVE_ABORTED',
    });
    await expect(solveWork('abc', 8, { signal, threads: 1 })).rejects.toMatchObject({
      code: 'TLSLP_ERR_SOLVE_ABORTED',
    });
  });

  it('works with AbortSignal.timeout (the WORK timeout)', async () => {
    const started = performance.now();
    await expect(
      solveWork('timeout', 44, { signal: AbortSignal.timeout(200) }),
    ).rejects.toMatchObject({
      code: 'TLSLP_ERR_SOLVE_ABORTED',
    });
    expect(performance.now() - started).toBeLessThan(1500);
    expect(solverPoolState().busy).toBe(false);
  });

  it('solves normally after a cancelled solve', async () => {
    const result = await solveWork('after', 18, { threads: 2 });
    expect(verifyWork('after', result.suffix, 18)).toBe(true);
  });
});

describe('where a solve runs', () => {
  it('solves a small job (below 2^22 expected hashes) on the calling thread, no pool started', async () => {
    await closeSolverPool();
    const token = randomToken(prng(21), 64);
    const result = await solveWork(token, 21, { threads: 2 });
    expect(result.threads).toBe(1);
    expect(solverPoolStarted()).toBe(false);
    expect(verifyWork(token, result.suffix, 21)).toBe(true);
  });

  it('starts the pool for a large job, and keeps it for the next one', async () => {
    await closeSolverPool();
    const token = randomToken(prng(22), 64);
    const result = await solveWork(token, 22, { threads: 2 });
    expect(result.threads).toBe(2);
    expect(solverPoolStarted()).toBe(true);
    expect(solverPoolWarm()).toBe(true);
    expect(verifyWork(token, result.suffix, 22)).toBe(true);
    // The pool's threads are up now: a mid-size job uses them, and gets the same answer.
    const mid = randomToken(prng(23), 64);
    const pooled = await solveWork(mid, 18, { threads: 2 });
    expect(pooled.threads).toBe(2);
    expect(pooled.suffix).toBe((await solveWork(mid, 18, { threads: 1 })).suffix);
    expect(verifyWork(mid, pooled.suffix, 18)).toBe(true);
  });

  it('starts the pool ahead of a solve, each thread with its kernel loaded', async () => {
    await closeSolverPool();
    await startSolverPool(available[0] ?? 'js', 2);
    expect(solverPoolState().threads).toBe(2);
    expect(solverPoolState().busy).toBe(false);
    await closeSolverPool();
    expect(solverPoolStarted()).toBe(false);
  });
});

describe('pool internals', () => {
  it('runs a batch task as a worker would, honouring the control words', async () => {
    const job = prepareJob('batchtask', 8);
    const free = await runBatch({ job, kernel: 'js', hi: 0, lo: 0, count: 1 << 12 });
    expect(free.verified?.suffix).toBe(lowestSuffix('batchtask', 8));
    const control = new Int32Array(new SharedArrayBuffer(8));
    Atomics.store(control, CONTROL_HIT, 3); // batch 2 already hit
    const later = await runBatch({
      job,
      kernel: 'js',
      hi: 0,
      lo: 0,
      count: 1 << 12,
      index: 3,
      control,
    });
    expect(later).toEqual({ hitOffset: -1, hashes: 0, stopped: true, kernelMs: 0 });
    const lower = await runBatch({
      job,
      kernel: 'js',
      hi: 0,
      lo: 0,
      count: 1 << 12,
      index: 1,
      control,
    });
    expect(lower.verified?.suffix).toBe(free.verified?.suffix);
    Atomics.store(control, CONTROL_ABORT, 1);
    expect(
      (await runBatch({ job, kernel: 'js', hi: 0, lo: 0, count: 64, index: 0, control })).stopped,
    ).toBe(true);
  });

  it('measures a fixed number of candidates on one thread and on the pool', async () => {
    const one = await measureKernel('js', 1, 1 << 16);
    expect(one).toMatchObject({
      kernel: 'js',
      kernelDetail: 'scalar',
      threads: 1,
      hashes: 1 << 16,
    });
    expect(one.hashesPerSecond).toBeGreaterThan(0);
    // Two js batches (2^17 each): one per thread.
    const two = await measureKernel('js', 2, 1 << 18);
    expect(two).toMatchObject({ kernel: 'js', threads: 2, hashes: 1 << 18 });
  });

  it('fails cleanly when the pool is closed under a running solve, and recovers', async () => {
    let hashed = 0;
    const outcome = solveWork('closing', 40, {
      threads: 2,
      progressIntervalMs: 20,
      onProgress: (p) => (hashed = p.hashes),
    }).then(
      () => null,
      (error: unknown) => error,
    );
    // Close the pool under a solve whose threads are hashing (a progress report with hashes).
    await until(() => hashed > 0, 'the solve hashing', 10_000);
    await closeSolverPool();
    expect(await outcome).toMatchObject({ code: 'TLSLP_ERR_WORKER_FAILED' });
    const result = await solveWork('closing', 18, { threads: 2 });
    expect(verifyWork('closing', result.suffix, 18)).toBe(true);
  });
});

describe('kernel selection', () => {
  it('gives the fastest available kernel for auto, and js always', () => {
    expect(selectKernel('auto').kernel.name).toBe(available[0]);
    expect(selectKernel('js').kernel.name).toBe('js');
  });

  it('falls back once with a reason, and refuses an unavailable kernel by name', async () => {
    vi.resetModules();
    vi.stubEnv('TLSLP_DISABLE_KERNELS', 'native,wasm');
    try {
      const fresh = await import('../src/solver/kernels/index.js');
      const errors = await import('../src/errors/index.js');
      await fresh.loadKernels();
      const first = fresh.selectKernel('auto');
      expect(first.kernel.name).toBe('js');
      expect(first.fallbackReason).toMatch(
        /^native kernel unavailable \(.+\); wasm kernel unavailable \(.+\); using js$/,
      );
      expect(fresh.selectKernel('auto').fallbackReason).toBeUndefined();
      expect(() => fresh.selectKernel('native')).toThrow(errors.ConfigError);
      expect(() => fresh.selectKernel('wasm')).toThrow(
        /wasm kernel unavailable: disabled by TLSLP_DISABLE_KERNELS/,
      );
      const kinds = await fresh.availableKernels();
      expect(kinds.map((k) => [k.name, k.available])).toEqual([
        ['native', false],
        ['wasm', false],
        ['js', true],
      ]);
    } finally {
      vi.unstubAllEnvs();
      vi.resetModules();
    }
  });

  it('rejects an unknown kernel name', () => {
    expect(() => selectKernel('gpu' as KernelName)).toThrow(ConfigError);
  });
});

describe('test helpers', () => {
  it('lowestSuffix agrees with a direct hash', () => {
    const suffix = lowestSuffix('abc', 4);
    const digest = createHash('sha256').update(`abc${suffix}`).digest();
    expect((digest[31] as number) & 15).toBe(0);
  });
});
