/**
 * The search on a pool of worker threads (piscina): consecutive batches scanned in
 * parallel, the lowest-nonce hit winning. When batch k hits, the batches before k still
 * run to completion, so the answer is the same as a scan in order would give.
 *
 * The pool is one per process: started on the first large solve (or ahead of time by
 * {@link startSolverPool}), kept between solves and sessions, ended by {@link closeSolverPool}.
 * @module
 */
import { availableParallelism } from 'node:os';
import type { Piscina } from 'piscina';
import { SolverError } from '../errors/index.js';
import { workerEntry } from '../util/worker-file.js';
import {
  abortError,
  BATCH_SIZE,
  CONTROL_ABORT,
  CONTROL_HIT,
  MAX_NONCE,
  nonceAt,
  type BatchResult,
  type BatchTask,
  type SearchLimits,
} from './batch.js';
import { prepareJob, type PreparedJob } from './layout.js';
import type { ProgressMeter } from './progress.js';
import { kernelChoiceOf, type KernelChoice } from './kernels/index.js';
import type { Kernel } from './types.js';

/** The worker entry: next to this module when built, else its build under dist/. */
function workerFile(): string {
  const { found, path, built } = workerEntry('./worker.js', import.meta.url);
  if (found) return found;
  throw new SolverError('TLSLP_ERR_WORKER_MISSING', { path, built });
}

let pool: Piscina<BatchTask, BatchResult> | null = null;
let poolCreating: Promise<Piscina<BatchTask, BatchResult>> | null = null;
/** Pool searches running now: a pool in use is never replaced by a bigger one. */
let activeSearches = 0;

async function getPool(threads: number): Promise<Piscina<BatchTask, BatchResult>> {
  if (poolCreating) await poolCreating.catch(() => undefined);
  if (pool && (pool.maxThreads >= threads || activeSearches > 1)) return pool;
  poolCreating = (async () => {
    const old = pool;
    pool = null;
    if (old) await old.destroy();
    // Imported here, not at the top: a process that only solves small jobs never loads it.
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

/** True while the pool exists (started by a large solve or {@link startSolverPool}, not yet closed). */
export function solverPoolStarted(): boolean {
  return pool !== null || poolCreating !== null;
}

/** True when the pool has threads that can take a batch now, without starting any. */
export function solverPoolWarm(): boolean {
  return pool !== null && pool.threads.length > 0;
}

/**
 * Start the pool's threads ahead of a solve (each loads its kernel as it starts), so that a
 * later large solve does not wait for them: the client calls it while its TLS handshake
 * runs. Resolves once every thread has answered; never rejects (a solve reports failures).
 */
export async function startSolverPool(kernel: KernelChoice, threads: number): Promise<void> {
  try {
    const workers = await getPool(threads);
    const job = prepareJob('warmup', 64);
    // One empty task per thread: queued tasks make piscina start threads up to maxThreads.
    const warmups = Array.from({ length: threads }, () =>
      workers.run({ job, kernel, hi: 0, lo: 0, count: 0 }),
    );
    await Promise.allSettled(warmups);
  } catch {
    // No worker file or no piscina: the solve that needs the pool will say so.
  }
}

/** Scan batches in parallel on the pool; resolve with the lowest-nonce solution. */
export async function searchPool(
  job: PreparedJob,
  kernel: Kernel,
  threads: number,
  meter: ProgressMeter,
  limits: SearchLimits,
): Promise<string | null> {
  activeSearches++;
  try {
    return await searchBatches(job, kernel, threads, meter, limits);
  } finally {
    activeSearches--;
  }
}

async function searchBatches(
  job: PreparedJob,
  kernel: Kernel,
  threads: number,
  meter: ProgressMeter,
  limits: SearchLimits,
): Promise<string | null> {
  const { signal } = limits;
  if (signal?.aborted) throw abortError(signal);
  const workers = await getPool(threads);
  const batch = BATCH_SIZE[kernel.name];
  // Workers run this very kernel: for native, the variant chosen here (see kernelChoiceOf).
  const choice = kernelChoiceOf(kernel);
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
        failure = new SolverError('TLSLP_ERR_WORKER_FAILED', { reason: message }, { cause: err });
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
        workers.run({ job, kernel: choice, hi, lo, count, index, control }).then(
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
