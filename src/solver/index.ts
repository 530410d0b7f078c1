/**
 * The proof-of-work solver: {@link solveWork} finds the suffix for `WORK token nBits`
 * with the fastest kernel that loads here (native SHA-NI, WebAssembly SIMD, or plain
 * TypeScript) on every core.
 *
 * ```ts
 * import { solveWork, closeSolverPool } from 'tlslp';
 * const { suffix, seconds } = await solveWork(token, 28, { signal: AbortSignal.timeout(1_800_000) });
 * await closeSolverPool();
 * ```
 * @module
 */
export {
  solveWork,
  closeSolverPool,
  type SolveOptions,
  type SolveProgress,
  type SolveResult,
} from './pool.js';
export {
  availableKernels,
  loadKernels,
  selectKernel,
  KERNEL_NAMES,
  type KernelAvailability,
  type KernelSelection,
} from './kernels/index.js';
export type { Kernel, KernelName } from './types.js';
