/**
 * Identity-aware proof of work (with `--n_bits auto` and client certificates): each client
 * certificate's own share of the load sets the n_bits of its own sessions. An identity that
 * opens many sessions at once or reconnects fast is asked more bits; the others keep the
 * global (adaptive) n_bits.
 *
 * Per identity (keyed by fingerprint) the tracker keeps its sessions in flight and a smoothed
 * rate of its new sessions. Its allowance is the larger of a floor (`identityInFlight`,
 * `identityArrivalsPerSecond`) and its fair share of the global targets among the identities
 * active now; its load is the larger of in-flight and rate over their allowances, and each
 * doubling of the load past 1 adds one bit on top of the global n_bits (never past
 * `maxBits`). The extra bits rise at once and fall by one a tick.
 *
 * Bounded: at most `maxIdentities` are tracked (the least recently seen idle one goes first),
 * idle ones are forgotten, and only the `topIdentities` (at most 10) busiest are reported.
 * Only certificates that passed the handshake have identities, so strangers add none.
 * @module
 */
import type { IdentityBitsChange, IdentityLoad } from './events.js';
import type { ClientIdentity } from './identity.js';
import type { LoadFigures } from '../state/backend.js';
import type { IdentityLoadOptions } from '../options/adaptive.js';

export type { IdentityLoadOptions };

/** What the tracker needs besides its own options. */
interface Targets {
  maxBits: number;
  targetInFlight?: number;
  targetArrivalsPerSecond?: number;
  smoothing?: number;
}

interface Entry {
  identity: ClientIdentity;
  inFlight: number;
  arrivals: number;
  rate: number;
  load: number;
  extra: number;
  /** n_bits last reported (base + extra), to see changes. */
  shown: number;
}

/** The fleet's per-identity figures, from the shared store. */
export interface FleetIdentities {
  /** Identities with sessions anywhere in the fleet. */
  active: number;
  /** In-flight and arrivals per fingerprint, summed over the fleet. */
  identities: ReadonlyMap<string, LoadFigures>;
}

/** What one tick found. */
export interface IdentityTick {
  top: IdentityLoad[];
  changes: IdentityBitsChange[];
  moreChanges: number;
}

/** The per-identity tracker. */
export class IdentityDifficulty {
  private readonly entries = new Map<string, Entry>();
  private readonly o: Required<IdentityLoadOptions> & Required<Targets>;

  constructor(options: IdentityLoadOptions & Targets) {
    this.o = {
      identityInFlight: 8,
      identityArrivalsPerSecond: 5,
      maxIdentities: 4096,
      topIdentities: 10,
      targetInFlight: 64,
      targetArrivalsPerSecond: 50,
      smoothing: 0.5,
      ...options,
    };
    this.o.topIdentities = Math.max(0, Math.min(10, this.o.topIdentities));
  }

  /** A new highest n_bits (a reconfigured server's `maxBits`). */
  setMaxBits(maxBits: number): void {
    this.o.maxBits = maxBits;
  }

  /** Identities tracked now. */
  get size(): number {
    return this.entries.size;
  }

  /**
   * The n_bits for a new session of `identity` when the global n_bits is `base`.
   * @param fleetExtra extra bits the fleet asks of it (from the shared store), 0 if none
   */
  nBitsFor(identity: ClientIdentity | undefined, base: number, fleetExtra = 0): number {
    const e = identity && this.entries.get(identity.fp);
    const extra = Math.max(e?.extra ?? 0, fleetExtra);
    return Math.min(this.o.maxBits, Math.max(base, base + extra));
  }

  /**
   * What this server has of each identity it tracks with anything going on, for the fleet's
   * sums: sessions in flight, arrivals since the last tick, extra bits asked now.
   */
  snapshot(): Array<{ fp: string; inFlight: number; arrivals: number; extra: number }> {
    const out = [];
    for (const [fp, e] of this.entries)
      if (e.inFlight > 0 || e.arrivals > 0 || e.extra > 0)
        out.push({ fp, inFlight: e.inFlight, arrivals: e.arrivals, extra: e.extra });
    return out;
  }

  /** A session of `identity` started. */
  started(identity: ClientIdentity): void {
    let e = this.entries.get(identity.fp);
    if (e) {
      // Most recently seen last, so the eviction below finds the stalest first.
      this.entries.delete(identity.fp);
    } else {
      if (this.entries.size >= this.o.maxIdentities) this.evictOne();
      e = { identity, inFlight: 0, arrivals: 0, rate: 0, load: 0, extra: 0, shown: -1 };
    }
    e.inFlight++;
    e.arrivals++;
    this.entries.set(identity.fp, e);
  }

  /** A session of `identity` ended. */
  ended(identity: ClientIdentity): void {
    const e = this.entries.get(identity.fp);
    if (e && e.inFlight > 0) e.inFlight--;
  }

  /** Drop the least recently seen identity without sessions, else the least recently seen. */
  private evictOne(): void {
    for (const [fp, e] of this.entries)
      if (e.inFlight === 0) {
        this.entries.delete(fp);
        return;
      }
    const oldest = this.entries.keys().next();
    if (!oldest.done) this.entries.delete(oldest.value);
  }

  /**
   * Advance one interval: update each identity's rate, load and extra bits.
   * @param base the global n_bits now
   * @param fleet the fleet's figures (shared store): identities active anywhere, and each
   *   tracked identity's in-flight and arrivals summed over every server; absent, this
   *   server's own
   */
  tick(intervalSeconds: number, base: number, fleet?: FleetIdentities): IdentityTick {
    const o = this.o;
    let active = 0;
    for (const e of this.entries.values()) if (e.inFlight > 0 || e.arrivals > 0) active++;
    const share = Math.max(1, active, fleet?.active ?? 0);
    const inFlightAllowance = Math.max(o.identityInFlight, o.targetInFlight / share);
    const rateAllowance = Math.max(o.identityArrivalsPerSecond, o.targetArrivalsPerSecond / share);
    const changes: IdentityBitsChange[] = [];
    let moreChanges = 0;
    for (const [fp, e] of this.entries) {
      const all = fleet?.identities.get(fp);
      const arrivals = all ? Math.max(all.arrivals, e.arrivals) : e.arrivals;
      const inFlight = all ? Math.max(all.inFlight, e.inFlight) : e.inFlight;
      e.rate = o.smoothing * (arrivals / intervalSeconds) + (1 - o.smoothing) * e.rate;
      e.arrivals = 0;
      e.load = Math.max(inFlight / inFlightAllowance, e.rate / rateAllowance);
      const wanted = e.load > 1 ? Math.ceil(Math.log2(e.load)) : 0;
      e.extra = wanted >= e.extra ? wanted : e.extra - 1;
      const nBits = Math.min(o.maxBits, base + e.extra);
      // A change is what the identity is asked versus the global n_bits moving for everyone.
      const before = e.shown < 0 ? base : e.shown;
      e.shown = nBits;
      if (before !== nBits && (e.extra > 0 || before > base)) {
        if (changes.length < Math.max(1, o.topIdentities))
          changes.push({ ...this.view(e, base), from: before });
        else moreChanges++;
      }
      if (e.inFlight === 0 && e.extra === 0 && e.rate < 0.01) this.entries.delete(fp);
    }
    const top = [...this.entries.values()]
      .filter((e) => e.load > 0)
      .sort((a, b) => b.load - a.load)
      .slice(0, o.topIdentities)
      .map((e) => this.view(e, base));
    return { top, changes, moreChanges };
  }

  private view(e: Entry, base: number): IdentityLoad {
    const nBits = Math.min(this.o.maxBits, base + e.extra);
    return {
      identity: e.identity,
      nBits,
      extraBits: nBits - base,
      inFlight: e.inFlight,
      arrivalsPerSecond: Number(e.rate.toFixed(2)),
      load: Number(e.load.toFixed(3)),
    };
  }
}
