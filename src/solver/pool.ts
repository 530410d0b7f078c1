/**
 * {@link solveWork}: find the lowest-nonce suffix for `WORK token nBits`, on the calling
 * thread for small jobs and on a pool of worker threads (piscina) otherwise.
 *
 * The search is deterministic: nonces are numbered 0, 1, 2, … (the 64-bit (hi, lo) pair in
 * order) and the answer is always the lowest nonce that solves the challenge, whatever the
 * kernel or the thread count. The pool scans consecutive batches in parallel; when batch
 * k hits, the batches before k still run to completion and the lowest hit wins.
 * @module
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Piscina } from 'piscina';
import { ConfigError, SolverError } from '../errors.js';
import { loadKernels, selectKernel } from './kernels/index.js';
import { prepareJob, type PreparedJob } from './layout.js';
import type { Kernel, KernelName } from './types.js';
import {
  BATCH_SIZE,
  CHUNK_SIZE,
  CONTROL_ABORT,
  CONTROL_HIT,
  scanBatch,
  type BatchResult,
  type BatchTask,
} from './worker.js';

/** A progress report of a running solve. */
export interface SolveProgress {
  /** Candidates hashed so far. */
  hashes: number;
  /** Milliseconds since the solve started. */
  elapsedMs: number;
  /** Average rate so far. */
  hashesPerSecond: number;
  /** Expected candidates for this difficulty: 2^nBits. */
  expectedHashes: number;
  /** Expected seconds left at the current rate (`(expected − done) / rate`, at least 0). */
  etaSeconds: number;
}

/** Options of {@link solveWork}. */
export interface SolveOptions {
  /** Which kernel to use; `auto` (the default) takes the fastest that loads. */
  kernel?: KernelName | 'auto';
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
  /** Threads used (1 when the solve ran on the calling thread). */
  threads: number;
  /** Why `auto` fell back to a slower kernel (reported on the first such solve only). */
  fallbackReason?: string;
}

/** Result of {@link measureKernel}. */
export interface KernelMeasurement {
  kernel: KernelName;
  kernelDetail: string;
  threads: number;
  hashes: number;
  seconds: number;
  hashesPerSecond: number;
}

const TOKEN_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;
/** Jobs expecting at most 2^this candidates run on the calling thread: waking threads costs more. */
const CALLING_THREAD_MAX_BITS = 16;
const DEFAULT_PROGRESS_INTERVAL_MS = 250;
const MAX_THREADS = 1024;
const TWO_32 = 2 ** 32;
/** Past this the nonce space is spent (2^64 nonces, as batches are numbered in doubles). */
const MAX_NONCE = 2 ** 64;

/** The worker entry: next to this module when built, else its build under dist/. */
function workerFile(): string {
  const here = new URL('./worker.js', import.meta.url);
  const path = fileURLToPath(here);
  if (existsSync(path)) return here.href;
  // Running from TypeScript sources (vitest): use the compiled worker of the same tree.
  const built = path.replace(/([\\/])src([\\/])(?!.*[\\/]src[\\/])/, '$1dist$2');
  if (built !== path && existsSync(built)) return built;
  throw new SolverError(
    'WORKER_MISSING',
    `solver worker not found at ${path} or ${built}: run npm run build`,
  );
}

let pool: Piscina<BatchTask, BatchResult> | null = null;
let poolCreating: Promise<Piscina<BatchTask, BatchResult>> | null = null;
let activeSolves = 0;

async function getPool(threads: number): Promise<Piscina<BatchTask, BatchResult>> {
  if (poolCreating) await poolCreating.catch(() => undefined);
  if (pool && (pool.maxThreads >= threads || activeSolves > 1)) return pool;
  poolCreating = (async () => {
    const old = pool;
    pool = null;
    if (old) await old.destroy();
    const { Piscina: PiscinaClass } = await import('piscina');
    const created = new PiscinaClass<BatchTask, BatchResult>({
      filename: workerFile(),
      // Threads start on demand and linger between solves; idle ones do not keep the
      // process alive (piscina unrefs them), and closeSolverPool() ends them.
      minThreads: 0,
      maxThreads: Math.max(threads, availableParallelism()),
      idleTimeout: 30_000,
    });
    // A thread dying between tasks is reported here; the next task gets a fresh thread.
    created.on('error', () => undefined);
    pool = created;
    return created;
  })();
  try {
    return await poolCreating;
  } finally {
    poolCreating = null;
  }
}

/**
 * Destroy the pooled worker threads (the next solve starts new ones). CLIs call it before
 * they exit, tests after their last solve.
 */
export async function closeSolverPool(): Promise<void> {
  if (poolCreating) await poolCreating.catch(() => undefined);
  const old = pool;
  pool = null;
  if (old) await old.destroy();
}

/**
 * The pool's current state, for tests and diagnostics: threads alive, tasks queued, and
 * whether any task is running.
 * @internal
 */
export function solverPoolState(): { threads: number; queueSize: number; busy: boolean } {
  if (!pool) return { threads: 0, queueSize: 0, busy: false };
  return {
    threads: pool.threads.length,
    queueSize: pool.queueSize,
    busy: pool.threads.length > pool.idleThreads || pool.queueSize > 0,
  };
}

function abortError(signal: AbortSignal): SolverError {
  return new SolverError('ABORTED', 'proof-of-work solve aborted', { cause: signal.reason });
}

/** Counts hashes and reports progress at most every `intervalMs`. */
class ProgressMeter {
  hashes = 0;
  readonly started = performance.now();
  private lastReport = this.started;

  constructor(
    private readonly expectedHashes: number,
    private readonly intervalMs: number,
    private readonly onProgress?: (p: SolveProgress) => void,
  ) {}

  /** Milliseconds spent inside kernel calls, summed over threads. */
  kernelMs = 0;

  add(hashes: number, kernelMs = 0): void {
    this.hashes += hashes;
    this.kernelMs += kernelMs;
    if (!this.onProgress) return;
    const now = performance.now();
    if (now - this.lastReport < this.intervalMs || this.hashes === 0) return;
    this.lastReport = now;
    const elapsedMs = now - this.started;
    const hashesPerSecond = elapsedMs > 0 ? (this.hashes / elapsedMs) * 1000 : 0;
    const left = Math.max(0, this.expectedHashes - this.hashes);
    this.onProgress({
      hashes: this.hashes,
      elapsedMs,
      hashesPerSecond,
      expectedHashes: this.expectedHashes,
      etaSeconds: hashesPerSecond > 0 ? left / hashesPerSecond : 0,
    });
  }

  /** Hashes per second of kernel time, per thread. */
  kernelRate(): number {
    return this.kernelMs > 0 ? (this.hashes / this.kernelMs) * 1000 : 0;
  }

  seconds(): number {
    return (performance.now() - this.started) / 1000;
  }
}

/** Limits of one search: stop (without a result) after `maxNonces` nonces. */
interface SearchLimits {
  signal?: AbortSignal;
  maxNonces?: number;
}

function nonceAt(nonce: number): { hi: number; lo: number } {
  return { hi: Math.floor(nonce / TWO_32), lo: nonce % TWO_32 };
}

/** Scan on the calling thread, one kernel call at a time, yielding to the event loop between. */
async function searchHere(
  job: PreparedJob,
  kernel: Kernel,
  meter: ProgressMeter,
  limits: SearchLimits,
): Promise<string | null> {
  const chunk = CHUNK_SIZE[kernel.name];
  const end = Math.min(limits.maxNonces ?? MAX_NONCE, MAX_NONCE);
  let nonce = 0;
  while (nonce < end) {
    if (limits.signal?.aborted) throw abortError(limits.signal);
    const { hi, lo } = nonceAt(nonce);
    const result = scanBatch(kernel, job, hi, lo, Math.min(chunk, end - nonce), undefined, chunk);
    meter.add(result.hashes, result.kernelMs);
    if (result.verified) return result.verified.suffix;
    nonce += chunk;
    // Let abort events, timers and I/O run; a chunk is only a few milliseconds.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  if (limits.signal?.aborted) throw abortError(limits.signal);
  return null;
}

/** Scan batches in parallel on the pool; resolve with the lowest-nonce solution. */
async function searchPool(
  job: PreparedJob,
  kernelName: KernelName,
  threads: number,
  meter: ProgressMeter,
  limits: SearchLimits,
): Promise<string | null> {
  const { signal } = limits;
  if (signal?.aborted) throw abortError(signal);
  const workers = await getPool(threads);
  const batch = BATCH_SIZE[kernelName];
  const end = Math.min(limits.maxNonces ?? MAX_NONCE, MAX_NONCE);
  const batchCount = Math.ceil(end / batch);
  const control = new Int32Array(new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT));

  return new Promise<string | null>((resolve, reject) => {
    const inFlight = new Set<number>();
    let next = 0;
    let best: { index: number; suffix: string } | null = null;
    let failure: unknown = null;
    let settled = false;

    const finish = (): void => {
      // Settle only once nothing runs: a rejected or won solve leaves no thread busy.
      if (settled || inFlight.size > 0) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- passes on what a batch threw
      if (failure !== null) reject(failure);
      else if (signal?.aborted) reject(abortError(signal));
      else resolve(best ? best.suffix : null);
    };
    const stopAll = (): void => {
      Atomics.store(control, CONTROL_ABORT, 1);
    };
    const onAbort = (): void => {
      stopAll();
      finish();
    };
    const done = (index: number, result: BatchResult): void => {
      inFlight.delete(index);
      meter.add(result.hashes, result.kernelMs);
      if (result.verified && (!best || index < best.index)) {
        best = { index, suffix: result.verified.suffix };
        // Later batches can no longer win: tell them to stop (indices past 2^31 just finish).
        if (index < 0x7fffffff) Atomics.store(control, CONTROL_HIT, index + 1);
      }
      pump();
    };
    const failed = (index: number, err: unknown): void => {
      inFlight.delete(index);
      if (failure === null) {
        // Errors cross the thread boundary as plain Errors: keep the message, retype them.
        const message = err instanceof Error ? err.message : String(err);
        failure = new SolverError('WORKER_FAILED', `solver worker failed: ${message}`, {
          cause: err,
        });
      }
      stopAll();
      finish();
    };
    const pump = (): void => {
      const stopping = failure !== null || signal?.aborted === true;
      // Dispatch in nonce order, one batch per thread; nothing past a known hit.
      while (!stopping && !best && inFlight.size < threads && next < batchCount) {
        const index = next++;
        const { hi, lo } = nonceAt(index * batch);
        const count = Math.min(batch, end - index * batch);
        inFlight.add(index);
        workers.run({ job, kernel: kernelName, hi, lo, count, index, control }).then(
          (result) => done(index, result),
          (err: unknown) => failed(index, err),
        );
      }
      if (best) {
        // Done once every batch below the best hit has reported.
        const lowest = Math.min(...inFlight);
        if (inFlight.size === 0 || lowest > best.index) {
          stopAll();
          finish();
        }
        return;
      }
      finish();
    };

    signal?.addEventListener('abort', onAbort, { once: true });
    pump();
  });
}

function validate(token: unknown, nBits: unknown, options: SolveOptions): void {
  if (typeof token !== 'string' || !TOKEN_PATTERN.test(token)) {
    throw new ConfigError('BAD_TOKEN', 'token must be 1 to 128 characters of [A-Za-z0-9_-]');
  }
  if (typeof nBits !== 'number' || !Number.isInteger(nBits) || nBits < 0 || nBits > 64) {
    throw new ConfigError('BAD_N_BITS', 'n_bits must be an integer from 0 to 64');
  }
  const { threads, progressIntervalMs } = options;
  if (
    threads !== undefined &&
    (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS)
  ) {
    throw new ConfigError('BAD_THREADS', `threads must be an integer from 1 to ${MAX_THREADS}`);
  }
  if (
    progressIntervalMs !== undefined &&
    !(Number.isFinite(progressIntervalMs) && progressIntervalMs > 0)
  ) {
    throw new ConfigError('BAD_PROGRESS_INTERVAL', 'progressIntervalMs must be a positive number');
  }
}

/** Run one search with the given kernel and threads; shared by solveWork and measureKernel. */
async function search(
  job: PreparedJob,
  kernel: Kernel,
  threads: number,
  meter: ProgressMeter,
  limits: SearchLimits,
): Promise<{ suffix: string | null; threads: number }> {
  activeSolves++;
  try {
    if (threads === 1 || job.nBits <= CALLING_THREAD_MAX_BITS) {
      return { suffix: await searchHere(job, kernel, meter, limits), threads: 1 };
    }
    return { suffix: await searchPool(job, kernel.name, threads, meter, limits), threads };
  } finally {
    activeSolves--;
  }
}

/**
 * Solve `WORK token nBits`: find a suffix of [A-Za-z0-9_-] (at most 128 characters) such
 * that SHA-256(token + suffix) ends in at least `nBits` zero bits. The same token and
 * nBits always give the same suffix (the lowest nonce), whatever the kernel and threads.
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
  validate(token, nBits, options);
  const { signal } = options;
  if (signal?.aborted) throw abortError(signal);
  await loadKernels();
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
    throw new SolverError('EXHAUSTED', `no solution for ${nBits} bits in the 64-bit nonce space`);
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
    threads: found.threads,
    ...(fallbackReason !== undefined ? { fallbackReason } : {}),
  };
}

/**
 * Hash a fixed number of candidates with one kernel (n_bits 64, so nothing is found) and
 * report the rate: the benchmark's measurement, through the same paths as solveWork.
 * `threads: 1` runs on the calling thread, more on the pool.
 */
export async function measureKernel(
  kernelName: KernelName,
  threads: number,
  candidates: number,
): Promise<KernelMeasurement> {
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS) {
    throw new ConfigError('BAD_THREADS', `threads must be an integer from 1 to ${MAX_THREADS}`);
  }
  await loadKernels();
  const { kernel } = selectKernel(kernelName);
  const job = prepareJob('benchmarkToken0123456789abcdefABCDEF_-benchmarkToken0123456789abc', 64);
  const meter = new ProgressMeter(2 ** 64, Number.POSITIVE_INFINITY);
  const found = await search(job, kernel, threads, meter, { maxNonces: candidates });
  const seconds = meter.seconds();
  return {
    kernel: kernel.name,
    kernelDetail: kernel.detail,
    threads: found.threads,
    hashes: meter.hashes,
    seconds,
    hashesPerSecond: seconds > 0 ? meter.hashes / seconds : 0,
  };
}
