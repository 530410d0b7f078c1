/**
 * The solver's worker-thread entry: piscina runs its default export, one batch per task.
 * Between chunks the worker reads the task's shared control words, so that a cancelled
 * solve, or one already won by a lower batch, stops within one chunk.
 * @module
 */
import {
  CONTROL_ABORT,
  CONTROL_HIT,
  scanBatch,
  type BatchResult,
  type BatchTask,
} from './batch.js';
import { loadKernels, selectKernel, type KernelChoice } from './kernels/index.js';
import type { Kernel } from './types.js';

// Start loading the kernels as the thread starts, not with its first task: a pool started
// ahead of time (during the client's TLS handshake) is then ready to hash when WORK comes.
const kernelsLoaded = loadKernels();
// The kernel each name resolved to in this worker thread (loading native/wasm is not free).
const kernels = new Map<KernelChoice, Kernel>();

/** Piscina task: scan one batch in this worker thread (`count: 0` only loads the kernel). */
export default async function runBatch(task: BatchTask): Promise<BatchResult> {
  let kernel = kernels.get(task.kernel);
  if (!kernel) {
    await kernelsLoaded;
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
