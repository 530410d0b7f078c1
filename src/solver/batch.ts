/**
 * The unit of the nonce search, shared by the calling-thread search, the pool and its
 * worker threads: batch and chunk sizes, the shared control words, the task and result
 * shapes, and {@link scanBatch}, the scan loop every path runs.
 *
 * A batch is a run of consecutive nonces with one `hi`. It is scanned in chunks that never
 * cross a {@link SCAN_WINDOW}; every kernel hit is re-checked with node:crypto, and a false
 * positive (possible above 32 bits, where kernels only test the last digest word) resumes
 * the scan right after it.
 * @module
 */
import { SolverError } from '../errors/index.js';
import { hasTrailingZeroBits, workDigest } from '../protocol/hash.js';
import { SCAN_WINDOW, suffixFor, type PreparedJob } from './layout.js';
import type { KernelChoice } from './kernels/index.js';
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

/** Past this the nonce space is spent (2^64 nonces, as batches are numbered in doubles). */
export const MAX_NONCE = 2 ** 64;
const TWO_32 = 2 ** 32;

/** Nonce number `nonce` as its high and low 32-bit halves. */
export function nonceAt(nonce: number): { hi: number; lo: number } {
  return { hi: Math.floor(nonce / TWO_32), lo: nonce % TWO_32 };
}

/** Limits of one search: stop (without a result) after `maxNonces` nonces. */
export interface SearchLimits {
  signal?: AbortSignal;
  maxNonces?: number;
}

/** The error of a solve stopped by its signal. */
export function abortError(signal: AbortSignal): SolverError {
  return new SolverError(
    'TLSLP_ERR_SOLVE_ABORTED',
    signal.reason instanceof Error ? { reason: signal.reason.message } : { signal: true },
    { cause: signal.reason },
  );
}

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
