/**
 * A circuit breaker for calls to the shared store. A store that is down fails fast (the
 * client has no offline queue), but a frozen one keeps its connection open and answers
 * nothing: every call would wait out its deadline. After a few failures in a row the breaker
 * opens and calls are not made for a while; then one probe at a time is let through, and
 * the first success closes it again.
 * @module
 */

/** Tuning of {@link CircuitBreaker}. */
export interface BreakerOptions {
  /** Failures in a row that open the breaker (default 3). */
  failures?: number;
  /** How long it stays open before a probe is let through (default 1000 ms). */
  openMs?: number;
  /** The clock (ms), for tests. */
  now?: () => number;
}

/** Closed (calls go through), open (none do), or half-open (one probe is out). */
export type BreakerState = 'closed' | 'open' | 'half-open';

/** See the module comment. */
export class CircuitBreaker {
  private inARow = 0;
  private openedAt = -Infinity;
  private probing = false;
  private readonly failuresToOpen: number;
  private readonly openMs: number;
  private readonly now: () => number;

  constructor(options: BreakerOptions = {}) {
    this.failuresToOpen = options.failures ?? 3;
    this.openMs = options.openMs ?? 1000;
    this.now = options.now ?? (() => performance.now());
  }

  /** Where the breaker stands. */
  get state(): BreakerState {
    if (this.inARow < this.failuresToOpen) return 'closed';
    return this.probing ? 'half-open' : 'open';
  }

  /**
   * Whether a call may be made now. While open, one caller is let through once `openMs` has
   * passed (the probe); it must report back with {@link success} or {@link failure}.
   */
  allow(): boolean {
    if (this.inARow < this.failuresToOpen) return true;
    if (this.probing || this.now() - this.openedAt < this.openMs) return false;
    this.probing = true;
    return true;
  }

  /** The call went through. */
  success(): void {
    this.inARow = 0;
    this.probing = false;
  }

  /** The call failed or timed out. @returns true when this failure opened the breaker. */
  failure(): boolean {
    const wasClosed = this.inARow < this.failuresToOpen;
    this.inARow++;
    this.probing = false;
    if (this.inARow >= this.failuresToOpen) this.openedAt = this.now();
    return wasClosed && this.inARow >= this.failuresToOpen;
  }
}
