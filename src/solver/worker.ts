/**
 * The solver's worker-thread entry (piscina runs its default export), and the batch scan
 * loop it shares with the calling-thread path of `solveWork`.
 *
 * A batch is a run of consecutive nonces with one `hi`. It is scanned in chunks that never
 * cross a {@link SCAN_WINDOW}; every kernel hit is re-checked with node:crypto, and a false
 * positive (possible above 32 bits, where kernels only test the last digest word) resumes
 * the scan right after it. Between chunks the worker reads a shared control word so that a
 * cancelled solve, or one already won by a lower batch, stops within one chunk.
 * @module
 */
import { SolverError } from '../errors.js';
import { hasTrailingZeroBits, workDigest } from '../protocol/hash.js';
import { loadKernels, selectKernel, type KernelChoice } from './kernels/index.js';
import { SCAN_WINDOW, suffixFor, type PreparedJob } from './layout.js';
import type { Kernel, KernelName } from './types.js';

/**
 * Nonces per pool batch, per kernel: about 20–30 ms of work for one thread, so that the
 * main thread hears back often and a cancelled solve drains quickly.
 */
export const BATCH_SIZE: Readonly<Record<KernelName, number>> = {
  native: 1 << 20,
  wasm: 1 << 18,
  js: 1 << 17,
};

/**
 * Nonces per kernel call, per kernel: about 5–10 ms. Workers check for cancellation between
 * calls; the calling-thread path yields to the event loop after each one.
 */
export const CHUNK_SIZE: Readonly<Record<KernelName, number>> = {
  native: 1 << 18,
  wasm: 1 << 16,
  js: 1 << 15,
};

/** Control word (index into {@link BatchTask.control}): non-zero once the solve is cancelled. */
export const CONTROL_ABORT = 0;
/** Control word: 1 + the lowest batch index known to hit, or 0 while none has. */
export const CONTROL_HIT = 1;

/** One unit of work for a pool thread. Plain data: it is structured-cloned to the worker. */
export interface BatchTask {
  job: PreparedJob;
  kernel: KernelChoice;
  /** First nonce of the batch: high and low 32-bit halves. */
  hi: number;
  lo: number;
  /** Number of nonces; `lo + count ≤ 2^32` (a batch never changes `hi`). */
  count: number;
  /** Position of this batch in the solve, for {@link CONTROL_HIT}. */
  index?: number;
  /**
   * Shared control words (an Int32Array over a SharedArrayBuffer): stop when
   * `[CONTROL_ABORT] ≠ 0`, or when `[CONTROL_HIT] ≠ 0` and `index ≥ [CONTROL_HIT]`.
   */
  control?: Int32Array;
}

/** What a batch found. */
export interface BatchResult {
  /** Offset (from the batch start) of the first verified solution, or −1. */
  hitOffset: number;
  /** Nonces actually hashed (up to and including the hit, or until stopped). */
  hashes: number;
  /** True when the batch was stopped by its control words before finishing. */
  stopped: boolean;
  /** Milliseconds spent inside the kernel's scan calls (the kernel's own speed, for rates). */
  kernelMs: number;
  /** The solution at {@link BatchResult.hitOffset}, verified with node:crypto. */
  verified?: { suffix: string };
}

/**
 * Scan `count` nonces from (hi, lo) with `kernel` and return the first solution that
 * node:crypto confirms. `shouldStop` is polled before each kernel call of `chunk` nonces.
 * @throws SolverError (`KERNEL_MISMATCH`) when a kernel reports a hit that is wrong at
 * n_bits ≤ 32, where kernels are exact: that is a kernel bug, not a false positive.
 */
export function scanBatch(
  kernel: Kernel,
  job: PreparedJob,
  hi: number,
  lo: number,
  count: number,
  shouldStop?: () => boolean,
  chunk: number = CHUNK_SIZE[kernel.name],
): BatchResult {
  if (lo + count > 2 ** 32) {
    throw new SolverError('TLSLP_ERR_BAD_BATCH', { hi, lo, count });
  }
  let done = 0;
  let kernelMs = 0;
  while (done < count) {
    if (shouldStop?.()) return { hitOffset: -1, hashes: done, stopped: true, kernelMs };
    const at = lo + done;
    // Stay inside one aligned window: the kernels keep W0..W12 fixed across a call.
    const windowLeft = SCAN_WINDOW - (at % SCAN_WINDOW);
    const n = Math.min(count - done, windowLeft, chunk);
    const t0 = performance.now();
    const offset = kernel.scan(job, hi, at, n);
    kernelMs += performance.now() - t0;
    if (offset < 0) {
      done += n;
      continue;
    }
    const suffix = suffixFor(job, hi, at + offset);
    if (hasTrailingZeroBits(workDigest(job.token, suffix), job.nBits)) {
      return {
        hitOffset: done + offset,
        hashes: done + offset + 1,
        stopped: false,
        kernelMs,
        verified: { suffix },
      };
    }
    if (job.nBits <= 32) {
      throw new SolverError('TLSLP_ERR_KERNEL_MISMATCH', {
        kernel: kernel.name,
        suffix,
        token: job.token,
        nBits: job.nBits,
      });
    }
    done += offset + 1;
  }
  return { hitOffset: -1, hashes: count, stopped: false, kernelMs };
}

// The kernel each name resolved to in this worker thread (loading native/wasm is not free).
const kernels = new Map<KernelChoice, Kernel>();

/** Piscina task: scan one batch in this worker thread. */
export default async function runBatch(task: BatchTask): Promise<BatchResult> {
  let kernel = kernels.get(task.kernel);
  if (!kernel) {
    await loadKernels();
    kernel = selectKernel(task.kernel).kernel;
    kernels.set(task.kernel, kernel);
  }
  const { control, index } = task;
  const shouldStop = control
    ? () => {
        if (Atomics.load(control, CONTROL_ABORT) !== 0) return true;
        const hit = Atomics.load(control, CONTROL_HIT);
        return hit !== 0 && index !== undefined && index >= hit;
      }
    : undefined;
  return scanBatch(kernel, task.job, task.hi, task.lo, task.count, shouldStop);
}
