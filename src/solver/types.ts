/**
 * The kernel interface: every hash engine (native, wasm, js) implements it.
 * @module
 */
import type { PreparedJob } from './layout.js';

/** Names of the kernels, fastest first. */
export type KernelName = 'native' | 'wasm' | 'js';

/** One hash engine. */
export interface Kernel {
  /** Which kernel this is. */
  readonly name: KernelName;
  /** What it runs on, e.g. `sha-ni x6`, `simd128`, `scalar`. */
  readonly detail: string;
  /**
   * Native kernel only: the rate of every variant this CPU can run, in M hashes/s on one
   * thread, as measured when the kernel loaded (the fastest is `detail`). Absent when the
   * variant was forced or the kernel is not native.
   */
  readonly rates?: Readonly<Record<string, number>>;
  /**
   * Scan nonces (hi, lo) … (hi, lo + count − 1) of `job` and return the offset (0..count−1)
   * of the first candidate whose last digest word satisfies `(H7 & hitMask(nBits)) === 0`,
   * or −1 when none does. `lo` and `lo + count − 1` lie in the same `SCAN_WINDOW`
   * (aligned 2^18 block), and `count ≤ SCAN_WINDOW`. Callers re-verify every hit with
   * node:crypto and resume at offset + 1 on a false positive (n_bits above 32).
   */
  scan(job: PreparedJob, hi: number, lo: number, count: number): number;
}
