/**
 * Hash counting and progress reports of a running solve.
 * @module
 */

/** A progress report of a running solve. */
export interface SolveProgress {
  /** Candidates hashed so far. */
  hashes: number;
  /** Milliseconds since the solve started. */
  elapsedMs: number;
  /** Average rate so far. */
  hashesPerSecond: number;
  /** Expected candidates for this difficulty: 2^nBits. */
  expectedHashes: number;
  /** Expected seconds left at the current rate (`(expected − done) / rate`, at least 0). */
  etaSeconds: number;
}

/** Counts hashes and kernel time, and reports progress at most every `intervalMs`. */
export class ProgressMeter {
  hashes = 0;
  /** Milliseconds spent inside kernel calls, summed over threads. */
  kernelMs = 0;
  readonly started = performance.now();
  private lastReport = this.started;

  constructor(
    private readonly expectedHashes: number,
    private readonly intervalMs: number,
    private readonly onProgress?: (p: SolveProgress) => void,
  ) {}

  add(hashes: number, kernelMs = 0): void {
    this.hashes += hashes;
    this.kernelMs += kernelMs;
    if (!this.onProgress) return;
    const now = performance.now();
    // Only a call that hashed something reports: a pool batch stopped before it hashed
    // (another batch hit first) adds 0, and would repeat the last report's count.
    if (now - this.lastReport < this.intervalMs || hashes === 0) return;
    this.lastReport = now;
    const elapsedMs = now - this.started;
    const hashesPerSecond = elapsedMs > 0 ? (this.hashes / elapsedMs) * 1000 : 0;
    const left = Math.max(0, this.expectedHashes - this.hashes);
    this.onProgress({
      hashes: this.hashes,
      elapsedMs,
      hashesPerSecond,
      expectedHashes: this.expectedHashes,
      etaSeconds: hashesPerSecond > 0 ? left / hashesPerSecond : 0,
    });
  }

  /** Hashes per second of kernel time, per thread. */
  kernelRate(): number {
    return this.kernelMs > 0 ? (this.hashes / this.kernelMs) * 1000 : 0;
  }

  seconds(): number {
    return (performance.now() - this.started) / 1000;
  }
}
