/**
 * Adaptive difficulty (`--n_bits auto`): the n_bits asked of new connections follows the
 * load, bounded by `--min-bits`/`--max-bits`, rising fast and falling slowly.
 *
 * The load is the larger of two ratios: sessions in flight over a target, and the rate of
 * new sessions over a target. Every doubling of the load past 1 adds one bit (doubling the
 * work of each new client). Two pitfalls of other proof-of-work gates are avoided:
 * - difficulty that does not rise under concurrent load: sessions in flight count, not only
 *   finished ones, and the rate is measured on arrivals;
 * - a control loop that attackers can inflate: each client IP contributes at most
 *   `perIpWeight` sessions to the in-flight figure; arrivals are counted only after a TLS
 *   handshake (a valid client certificate in mutual TLS) and weighed per source like the
 *   in-flight figure: a source counts at most `perSourceArrivalsPerSecond` arrivals a second
 *   once it has solved WORK recently, and at most `unprovenArrivalsPerSecond` until then, so a
 *   client that connects in a loop and drops at WORK moves nobody's difficulty; `maxBits`
 *   caps the cost.
 * @module
 */
import { ConfigError } from '../errors/index.js';
import type { AdaptiveOptions, IdentityLoadOptions } from '../options/adaptive.js';

export type { AdaptiveOptions };

/** Why the difficulty changed. */
export interface DifficultyChange {
  /** n_bits before the change. */
  from: number;
  /** n_bits after the change. */
  to: number;
  /** The load that caused it (1 = full load; each doubling past 1 adds a bit). */
  load: number;
  /** Weighted sessions in flight at the time. */
  inFlight: number;
  /** Smoothed rate of new sessions at the time. */
  arrivalsPerSecond: number;
}

/** The controller. Call {@link arrival} per new session and {@link tick} once per interval. */
export class AdaptiveDifficulty {
  private readonly o: Required<Omit<AdaptiveOptions, keyof IdentityLoadOptions>>;
  private bits: number;
  private arrivals = 0;
  /** Arrivals of this tick by source (client IP). */
  private readonly bySource = new Map<string, number>();
  /** Tick at which each source last solved WORK. */
  private readonly proven = new Map<string, number>();
  private ticks = 0;
  private rate = 0;
  private calm = 0;

  constructor(options: AdaptiveOptions) {
    if (!(options.minBits >= 0 && options.maxBits <= 64 && options.minBits <= options.maxBits)) {
      throw new ConfigError(
        'TLSLP_ERR_BAD_ADAPTIVE_RANGE',
        {
          option: 'adaptive.minBits',
          min: options.minBits,
          maxOption: 'adaptive.maxBits',
          max: options.maxBits,
        },
        { option: 'adaptive' },
      );
    }
    this.o = {
      targetInFlight: 64,
      targetArrivalsPerSecond: 50,
      maxStepUp: 2,
      calmTicks: 5,
      perIpWeight: 4,
      smoothing: 0.5,
      perSourceArrivalsPerSecond: 10,
      unprovenArrivalsPerSecond: 1,
      provenTicks: 60,
      ...options,
    };
    this.bits = options.minBits;
  }

  /** New bounds (a reconfigured server): the current n_bits is brought within them at once. */
  setBounds(minBits: number, maxBits: number): void {
    this.o.minBits = minBits;
    this.o.maxBits = maxBits;
    this.bits = Math.min(maxBits, Math.max(minBits, this.bits));
  }

  /** The n_bits to ask of the next connection. */
  get current(): number {
    return this.bits;
  }

  /** Most sessions one IP adds to the load. */
  get perIpWeight(): number {
    return this.o.perIpWeight;
  }

  /**
   * A new session started (after its TLS handshake). With a `source` (the client's IP) the
   * arrival is weighed per source; without one it counts in full.
   */
  arrival(source?: string): void {
    if (source === undefined) this.arrivals++;
    else this.bySource.set(source, (this.bySource.get(source) ?? 0) + 1);
  }

  /** A session from `source` solved its WORK: its arrivals now count up to the higher cap. */
  workDone(source: string): void {
    this.proven.set(source, this.ticks);
  }

  /**
   * This tick's arrivals, each source capped by whether it solved WORK lately; counting
   * starts again. A fleet sums these over its servers and hands the sum to {@link tick}.
   */
  takeArrivals(intervalSeconds: number): number {
    let total = this.arrivals;
    for (const [source, n] of this.bySource) {
      const perSecond = this.proven.has(source)
        ? this.o.perSourceArrivalsPerSecond
        : this.o.unprovenArrivalsPerSecond;
      total += Math.min(n, perSecond * intervalSeconds);
    }
    this.arrivals = 0;
    this.bySource.clear();
    return total;
  }

  /**
   * Advance one interval.
   * @param weightedInFlight sessions in flight, each IP counted at most `perIpWeight` times
   * @param intervalSeconds length of the interval just ended
   * @param arrivals weighted arrivals of the interval (default: this server's own, taken
   *   now); a fleet passes the sum over its servers, having taken this one's
   * @returns the change, when the difficulty moved
   */
  tick(
    weightedInFlight: number,
    intervalSeconds: number,
    arrivals = this.takeArrivals(intervalSeconds),
  ): DifficultyChange | null {
    this.ticks++;
    for (const [source, at] of this.proven)
      if (this.ticks - at > this.o.provenTicks) this.proven.delete(source);
    const instant = arrivals / intervalSeconds;
    this.rate = this.o.smoothing * instant + (1 - this.o.smoothing) * this.rate;
    const load = Math.max(
      weightedInFlight / this.o.targetInFlight,
      this.rate / this.o.targetArrivalsPerSecond,
    );
    const wanted = Math.min(
      this.o.maxBits,
      this.o.minBits + (load > 1 ? Math.ceil(Math.log2(load)) : 0),
    );
    const from = this.bits;
    if (wanted > this.bits) {
      this.bits = Math.min(wanted, this.bits + this.o.maxStepUp);
      this.calm = 0;
    } else if (wanted < this.bits) {
      // Fall back only after a calm spell, so a pulsing attack cannot make it oscillate.
      if (++this.calm >= this.o.calmTicks) {
        this.bits--;
        this.calm = 0;
      }
    } else {
      this.calm = 0;
    }
    if (this.bits === from) return null;
    return { from, to: this.bits, load, inFlight: weightedInFlight, arrivalsPerSecond: this.rate };
  }
}
