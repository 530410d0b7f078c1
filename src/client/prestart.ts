/**
 * Get the built-in solver ready while the client's TLS handshake runs, so that WORK finds
 * it warm: the kernels loaded on the calling thread (always: every solve needs them), and
 * the pool's threads started with their kernels (unless this process's last WORK was small).
 *
 * The client cannot know n_bits before WORK arrives. Starting the pool anyway is the better
 * bet: the protocol's default difficulty (28 bits, seconds of hashing) needs it, and the
 * threads' start-up (tens of milliseconds each) is hidden behind network round trips. A
 * process whose last WORK was small (below 2^22 expected hashes, solved on the calling
 * thread) is likely to get the same from the same server, so it skips the pool and saves
 * the CPU for the handshake. The pool, once up, is kept across sessions.
 * @module
 */
import { availableParallelism } from 'node:os';
import {
  availableKernels,
  kernelChoiceOf,
  loadKernels,
  selectKernel,
} from '../solver/kernels/index.js';
import { startSolverPool } from '../solver/pool.js';
import { isLargeWork, lastSolveBits, type SolveOptions } from '../solver/solve.js';
import type { Kernel } from '../solver/types.js';
import { MAX_THREADS } from '../solver/validate.js';

/** What {@link prestartSolver} got ready. */
export interface SolverPrestart {
  /** The kernel a solve with these options will use, e.g. `native (sha-ni x3)`. */
  kernel: string;
  /** Native kernel: M hashes/s of every variant, measured when it loaded. */
  kernelRates?: Readonly<Record<string, number>>;
  /** Pool threads started (0 when the pool was left alone). */
  poolThreads: number;
}

/**
 * Load the kernels and, when worth it, start the pool for a solve with `options`. Never
 * rejects: a kernel or thread that cannot start is the solve's to report. Resolves with
 * null when the options name a kernel that is not available.
 */
export async function prestartSolver(
  options: Omit<SolveOptions, 'signal'>,
): Promise<SolverPrestart | null> {
  try {
    const wanted = options.kernel ?? 'auto';
    // Not selectKernel('auto'): it reports a fallback once, and that note is the solve's.
    let kernel: Kernel;
    if (wanted === 'auto') {
      const first = (await availableKernels()).find((k) => k.available);
      if (!first?.available) return null;
      kernel = first.kernel;
    } else {
      await loadKernels();
      kernel = selectKernel(wanted).kernel; // throws when not here: the solve says so
    }
    const threads = options.threads ?? availableParallelism();
    const last = lastSolveBits();
    const pool =
      Number.isInteger(threads) &&
      threads > 1 &&
      threads <= MAX_THREADS &&
      (last === undefined || isLargeWork(last));
    if (pool) await startSolverPool(kernelChoiceOf(kernel), threads);
    return {
      kernel: `${kernel.name} (${kernel.detail})`,
      ...(kernel.rates !== undefined ? { kernelRates: kernel.rates } : {}),
      poolThreads: pool ? threads : 0,
    };
  } catch {
    return null;
  }
}

/** `sha-ni x3 67.1, avx2 x8 30.2` (M hashes/s), for log lines. */
export function formatKernelRates(rates: Readonly<Record<string, number>>): string {
  return Object.entries(rates)
    .map(([variant, rate]) => `${variant} ${rate.toFixed(1)}`)
    .join(', ');
}
