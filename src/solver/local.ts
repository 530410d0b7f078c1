/**
 * The search on the calling thread: no worker to start, so the fastest way through small
 * jobs, where waking threads would cost more than the hashing.
 * @module
 */
import {
  abortError,
  CHUNK_SIZE,
  MAX_NONCE,
  nonceAt,
  scanBatch,
  type SearchLimits,
} from './batch.js';
import type { PreparedJob } from './layout.js';
import type { ProgressMeter } from './progress.js';
import type { Kernel } from './types.js';

/** Scan one kernel call at a time from nonce 0, yielding to the event loop between calls. */
export async function searchHere(
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
