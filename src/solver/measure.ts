/**
 * {@link measureKernel}: the benchmark's measurement, through the same search paths as
 * solveWork.
 * @module
 */
import { loadKernels, selectKernel, type KernelChoice } from './kernels/index.js';
import { prepareJob } from './layout.js';
import { ProgressMeter } from './progress.js';
import { search } from './solve.js';
import type { KernelName } from './types.js';
import { validateThreads } from './validate.js';

/** Result of {@link measureKernel}. */
export interface KernelMeasurement {
  kernel: KernelName;
  kernelDetail: string;
  threads: number;
  hashes: number;
  seconds: number;
  hashesPerSecond: number;
}

/**
 * Hash a fixed number of candidates with one kernel (n_bits 64, so nothing is found) and
 * report the rate. `threads: 1` runs on the calling thread, more on the pool.
 */
export async function measureKernel(
  kernelName: KernelChoice,
  threads: number,
  candidates: number,
): Promise<KernelMeasurement> {
  validateThreads(threads);
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
