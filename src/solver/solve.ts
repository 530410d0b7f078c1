/**
 * {@link solveWork}: find the lowest-nonce suffix for `WORK token nBits`, on the calling
 * thread for small jobs and on the pool of worker threads otherwise.
 *
 * The search is deterministic: nonces are numbered 0, 1, 2, … (the 64-bit (hi, lo) pair in
 * order) and the answer is always the lowest nonce that solves the challenge, whatever the
 * kernel, the thread count or where it ran.
 * @module
 */
import { availableParallelism } from 'node:os';
import { SolverError } from '../errors/index.js';
import { abortError, type SearchLimits } from './batch.js';
import {
  loadKernels,
  refreshNativeChoice,
  selectKernel,
  type KernelChoice,
} from './kernels/index.js';

/** Solves expecting at least 2^this hashes may re-measure the native variants first. */
const REMEASURE_MIN_BITS = 26;
/** How old the last measurement of the native variants may be before a long solve. */
const REMEASURE_AFTER_MS = 60_000;
import { prepareJob, type PreparedJob } from './layout.js';
import { searchHere } from './local.js';
import { searchPool, solverPoolWarm } from './pool.js';
import { ProgressMeter, type SolveProgress } from './progress.js';
import type { Kernel, KernelName } from './types.js';
import { validateSolve } from './validate.js';

/** Options of {@link solveWork}. */
export interface SolveOptions {
  /** Which kernel to use; `auto` (the default) takes the fastest that loads. */
  kernel?: KernelChoice;
  /** Threads to use; default one per core. 1 runs on the calling thread. */
  threads?: number;
  /** Cancels the solve: the promise rejects with a SolverError whose code is `ABORTED`. */
  signal?: AbortSignal;
  /** Called about every {@link SolveOptions.progressIntervalMs} while the solve runs. */
  onProgress?: (progress: SolveProgress) => void;
  /** Milliseconds between progress reports (default 250). */
  progressIntervalMs?: number;
}

/** A solved challenge. */
export interface SolveResult {
  /** The suffix: SHA-256(token + suffix) has at least nBits trailing zero bits. */
  suffix: string;
  /** Candidates hashed (including work other threads did in parallel). */
  hashes: number;
  /** Wall-clock time of the solve. */
  seconds: number;
  /** `hashes / seconds`: wall time, so a short solve includes start-up and thread wake-up. */
  hashesPerSecond: number;
  /**
   * Hashes per second of time spent inside the kernel, per thread: the kernel's own speed,
   * the figure to compare between short solves (0 when nothing was hashed).
   */
  kernelHashesPerSecond: number;
  /** The kernel that ran. */
  kernel: KernelName;
  /** What the kernel ran on, e.g. `sha-ni`, `simd128`, `scalar`. */
  kernelDetail: string;
  /**
   * Native kernel only, when it measured them as it loaded: M hashes/s on one thread of
   * every variant this CPU can run (`kernelDetail` is the one chosen).
   */
  kernelRates?: Readonly<Record<string, number>>;
  /** Threads used (1 when the solve ran on the calling thread). */
  threads: number;
  /** Why `auto` fell back to a slower kernel (reported on the first such solve only). */
  fallbackReason?: string;
}

/** Jobs expecting at most 2^this candidates always run on the calling thread. */
const CALLING_THREAD_MAX_BITS = 16;
/**
 * Jobs expecting fewer than 2^22 candidates also run on the calling thread unless the pool's
 * threads are already up: starting them (a V8 isolate and a kernel load each) costs more
 * than the tens of milliseconds such a job takes on one thread.
 */
const COLD_POOL_MIN_BITS = 22;
const DEFAULT_PROGRESS_INTERVAL_MS = 250;

/** Would a solve of `nBits` with `threads` run on the pool, as things stand now? */
export function runsOnPool(nBits: number, threads: number): boolean {
  if (threads === 1 || nBits <= CALLING_THREAD_MAX_BITS) return false;
  return nBits >= COLD_POOL_MIN_BITS || solverPoolWarm();
}

/** True when a job of `nBits` is worth starting the pool for (the client's pre-start test). */
export function isLargeWork(nBits: number): boolean {
  return nBits >= COLD_POOL_MIN_BITS;
}

/** Run one search where it is cheapest; shared by solveWork and measureKernel. */
export async function search(
  job: PreparedJob,
  kernel: Kernel,
  threads: number,
  meter: ProgressMeter,
  limits: SearchLimits,
): Promise<{ suffix: string | null; threads: number }> {
  if (!runsOnPool(job.nBits, threads)) {
    return { suffix: await searchHere(job, kernel, meter, limits), threads: 1 };
  }
  return { suffix: await searchPool(job, kernel, threads, meter, limits), threads };
}

let lastNBits: number | undefined;

/** n_bits of the last solve started in this process (the client's hint for the next one). */
export function lastSolveBits(): number | undefined {
  return lastNBits;
}

/**
 * Solve `WORK token nBits`: find a suffix of [A-Za-z0-9_-] (at most 128 characters) such
 * that SHA-256(token + suffix) ends in at least `nBits` zero bits. The same token and
 * nBits always give the same suffix (the lowest nonce), whatever the kernel and threads.
 * Jobs expecting fewer than 2^22 candidates run on the calling thread unless the pool is
 * already running; larger ones start the pool (kept for later solves).
 * @throws ConfigError for a bad token, nBits, kernel or thread count; SolverError with code
 * `ABORTED` when `options.signal` aborts (no thread keeps running afterwards).
 *
 * @example Solve with a deadline and a progress display
 * ```ts
 * import { createHash } from 'node:crypto';
 * import { closeSolverPool, solveWork, trailingZeroBits } from 'tlslp';
 *
 * const token = 'gkcjcibIFynKssuJnJpSrgvawiVjLjEbdFuYQzuWROTeTaSmqFCAzuwkwLCRgIIq';
 * try {
 *   const r = await solveWork(token, 24, {
 *     signal: AbortSignal.timeout(60_000), // rejects with SolverError code ABORTED
 *     onProgress: (p) => console.error(`${(p.hashesPerSecond / 1e6).toFixed(1)} M/s`),
 *   });
 *   console.log(`RESULT:${r.suffix} (${r.kernel} ${r.kernelDetail}, ${r.threads} threads)`);
 *   const digest = createHash('sha256').update(token + r.suffix).digest();
 *   console.log(trailingZeroBits(digest) >= 24); // true
 * } finally {
 *   await closeSolverPool();
 * }
 * ```
 */
export async function solveWork(
  token: string,
  nBits: number,
  options: SolveOptions = {},
): Promise<SolveResult> {
  validateSolve(token, nBits, options);
  const { signal } = options;
  if (signal?.aborted) throw abortError(signal);
  lastNBits = nBits;
  await loadKernels();
  // A long solve under auto: pick the native variant by a fresh measurement when the last
  // is older than a minute (10 ms against seconds of hashing).
  if ((options.kernel ?? 'auto') === 'auto' && nBits >= REMEASURE_MIN_BITS)
    refreshNativeChoice(REMEASURE_AFTER_MS);
  const { kernel, fallbackReason } = selectKernel(options.kernel ?? 'auto');
  const threads = options.threads ?? availableParallelism();
  const meter = new ProgressMeter(
    2 ** nBits,
    options.progressIntervalMs ?? DEFAULT_PROGRESS_INTERVAL_MS,
    options.onProgress,
  );
  const job = prepareJob(token, nBits);
  const found = await search(job, kernel, threads, meter, { signal });
  if (found.suffix === null) {
    // 2^64 nonces without a solution: only possible in theory.
    throw new SolverError('TLSLP_ERR_EXHAUSTED', { nBits });
  }
  const seconds = meter.seconds();
  return {
    suffix: found.suffix,
    hashes: meter.hashes,
    seconds,
    hashesPerSecond: seconds > 0 ? meter.hashes / seconds : 0,
    kernelHashesPerSecond: meter.kernelRate(),
    kernel: kernel.name,
    kernelDetail: kernel.detail,
    ...(kernel.rates !== undefined ? { kernelRates: kernel.rates } : {}),
    threads: found.threads,
    ...(fallbackReason !== undefined ? { fallbackReason } : {}),
  };
}
