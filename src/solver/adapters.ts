/**
 * Solvers as the client session calls them ({@link WorkSolver}): the built-in one and an
 * external program with the original's interface.
 * @module
 */
import { runExternalSolver } from './external.js';
import { solveWork, type SolveOptions } from './solve.js';

/** What a WORK solve reports. */
export interface WorkSolution {
  /** The suffix sent to the server. */
  suffix: string;
  /** Wall-clock time of the solve. */
  seconds: number;
  /** Candidates tried, when the solver knows. */
  hashes?: number;
  /**
   * Candidates per second, when the solver knows: for the built-in solver the kernel's own
   * rate on the threads used (hashes per second of kernel time × threads), not wall time.
   */
  hashesPerSecond?: number;
  /** e.g. `native (avx512 x48)` or `external: ./work_challenge`. */
  solver: string;
  /** Threads used, when the solver knows. */
  threads?: number;
  /** Built-in native kernel: M hashes/s of every variant, as measured when it loaded. */
  kernelRates?: Readonly<Record<string, number>>;
}

/** Solves one WORK challenge; must stop promptly when `signal` fires. */
export type WorkSolver = (
  token: string,
  nBits: number,
  signal: AbortSignal,
) => Promise<WorkSolution>;

/** The built-in solver as a {@link WorkSolver}. */
export function builtinSolver(options: Omit<SolveOptions, 'signal'> = {}): WorkSolver {
  return async (token, nBits, signal) => {
    const r = await solveWork(token, nBits, { ...options, signal });
    return {
      suffix: r.suffix,
      seconds: r.seconds,
      hashes: r.hashes,
      // The kernel's speed on the threads used: a short solve's wall time is mostly start-up.
      hashesPerSecond: r.kernelHashesPerSecond * r.threads,
      solver: `${r.kernel} (${r.kernelDetail})`,
      threads: r.threads,
      ...(r.kernelRates !== undefined ? { kernelRates: r.kernelRates } : {}),
      fallbackReason: r.fallbackReason,
    } satisfies WorkSolution & { fallbackReason?: string };
  };
}

/** An external solver (docs/protocol.md §5) as a {@link WorkSolver}. */
export function externalSolver(path: string, timeoutMs: number): WorkSolver {
  return async (token, nBits, signal) => {
    const r = await runExternalSolver(path, token, nBits, { timeoutMs, signal });
    return { suffix: r.suffix, seconds: r.seconds, solver: `external ${path}` };
  };
}
