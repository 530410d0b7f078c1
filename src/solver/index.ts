/**
 * The proof-of-work solver: {@link solveWork} finds the suffix for `WORK token nBits`
 * with the fastest kernel that loads here (native SHA-NI, WebAssembly SIMD, or plain
 * TypeScript) on every core. See {@link solveWork} for a fuller example.
 *
 * @example Solve the challenge of a WORK line
 * ```ts
 * import { solveWork, closeSolverPool } from 'tlslp';
 *
 * const token = 'gkcjcibIFynKssuJnJpSrgvawiVjLjEbdFuYQzuWROTeTaSmqFCAzuwkwLCRgIIq';
 * const { suffix, seconds } = await solveWork(token, 28, { signal: AbortSignal.timeout(1_800_000) });
 * console.log(`RESULT:${suffix}`, `Time: ${seconds} seconds`);
 * await closeSolverPool();
 * ```
 * @module
 */
export { solveWork, type SolveOptions, type SolveResult } from './solve.js';
export { closeSolverPool } from './pool.js';
export type { SolveProgress } from './progress.js';
export {
  availableKernels,
  loadKernels,
  refreshNativeChoice,
  selectKernel,
  KERNEL_NAMES,
  parseKernelChoice,
  type KernelAvailability,
  type KernelChoice,
  type KernelSelection,
} from './kernels/index.js';
export type { Kernel, KernelName } from './types.js';
export {
  checkSolverPath,
  parseSolverOutput,
  runExternalSolver,
  type ExternalSolveResult,
  type ExternalSolverOptions,
} from './external.js';
