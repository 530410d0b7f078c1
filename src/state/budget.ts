/**
 * The per-IP budget of failures that turns a client looping on a bad or missing certificate
 * into cheap refusals before TLS: a server's own (FleetState's local fallback) and the
 * machine-wide one of the in-memory store.
 * @module
 */
import { MINUTE_MS } from '../util/time.js';

interface Bucket {
  tokens: number;
  at: number;
}

/** Failures an IP may have in a burst before the per-minute rate applies. */
export const FAILURE_BURST = 5;

/**
 * A token bucket per IP for failures (failed handshakes, sessions dropped before their WORK
 * was solved): {@link FAILURE_BURST} tokens, refilled at `perMinute` a minute. A costly
 * failure spends more than one token. An IP with an empty bucket is refused before TLS until
 * a token is back. Memory is bounded by `maxSources` (the oldest entries go first).
 */
export class FailureBudget {
  private readonly buckets = new Map<string, Bucket>();
  /** Tokens a full bucket holds. */
  readonly burst: number;

  constructor(
    private readonly perMinute: number,
    private readonly maxSources = 100_000,
  ) {
    this.burst = Math.min(FAILURE_BURST, Math.max(1, perMinute));
  }

  private refill(ip: string, now: number): Bucket | undefined {
    const b = this.buckets.get(ip);
    if (!b) return undefined;
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) * this.perMinute) / MINUTE_MS);
    b.at = now;
    if (b.tokens >= this.burst) {
      this.buckets.delete(ip);
      return undefined;
    }
    return b;
  }

  /** Whether `ip` may start another handshake (always, when the budget is off). */
  allows(ip: string, now = performance.now()): boolean {
    if (this.perMinute <= 0) return true;
    const b = this.refill(ip, now);
    return !b || b.tokens >= 1;
  }

  /** Something from `ip` failed: spend `cost` tokens (at least one). */
  failed(ip: string, cost = 1, now = performance.now()): void {
    if (this.perMinute <= 0) return;
    const spend = Math.max(1, cost);
    const b = this.refill(ip, now);
    if (b) {
      b.tokens = Math.max(0, b.tokens - spend);
      return;
    }
    if (this.buckets.size >= this.maxSources) {
      const oldest = this.buckets.keys().next();
      if (!oldest.done) this.buckets.delete(oldest.value);
    }
    this.buckets.set(ip, { tokens: Math.max(0, this.burst - spend), at: now });
  }

  /**
   * How long until `ip` may start another handshake: 0 when it may now (or the budget is
   * off), else the ms until its next token is back.
   */
  waitMs(ip: string, now = performance.now()): number {
    if (this.perMinute <= 0) return 0;
    const b = this.refill(ip, now);
    if (!b || b.tokens >= 1) return 0;
    return Math.max(1, Math.ceil(((1 - b.tokens) * MINUTE_MS) / this.perMinute));
  }

  /** IPs tracked now. */
  get size(): number {
    return this.buckets.size;
  }
}
