/**
 * The store of one machine's cluster (`--workers N` without `--state`): the primary keeps
 * the fleet state of its workers in memory, with the same semantics as the Redis scripts,
 * so the workers of one machine share one set of limits instead of multiplying them. A
 * worker's leases and load go with it when it exits.
 * @module
 */
import { FailureBudget } from './budget.js';
import type {
  AcquireReply,
  AcquireRequest,
  FleetLoad,
  Lease,
  LoadReport,
  SpendRequest,
} from './backend.js';

interface Held {
  owner: string;
  lapses: number;
}

/** See the module comment. Every method takes the owner: the worker that asks. */
export class MemoryStore {
  private readonly budgets = new Map<number, FailureBudget>();
  /** Leases by count key (`ip:…`, `id:…`), then member. */
  private readonly leases = new Map<string, Map<string, Held>>();
  private readonly loads = new Map<string, { at: number; owner: string; report: LoadReport }>();
  private readonly refused: Record<string, number> = {};
  private readonly extraBits = new Map<string, { bits: number; lapses: number }>();

  constructor(private readonly now: () => number = () => performance.now()) {}

  private budget(perMinute: number): FailureBudget {
    let b = this.budgets.get(perMinute);
    if (!b) this.budgets.set(perMinute, (b = new FailureBudget(perMinute)));
    return b;
  }

  /** Spend; the ms until the IP may try again. */
  spend(r: SpendRequest): number {
    const b = this.budget(r.perMinute);
    const now = this.now();
    // The same bucket as a server's own (FailureBudget), one for the whole machine.
    b.failed(r.ip, r.cost, now);
    return b.waitMs(r.ip, now);
  }

  private live(key: string): Map<string, Held> {
    let set = this.leases.get(key);
    if (!set) this.leases.set(key, (set = new Map<string, Held>()));
    const now = this.now();
    for (const [member, held] of set) if (held.lapses <= now) set.delete(member);
    return set;
  }

  /** Take leases for `owner` (as a store's `acquire`). */
  acquire(r: AcquireRequest, owner: string): AcquireReply {
    const ipKey = `ip:${r.ip}`;
    const idKey = r.fp ? `id:${r.fp}` : null;
    const extra = (r.fp && this.extraBits.get(r.fp)) || undefined;
    const identityExtraBits = extra && extra.lapses > this.now() ? extra.bits : 0;
    if (r.ipLimit > 0 && this.live(ipKey).size >= r.ipLimit)
      return { verdict: 'max-per-ip', identityExtraBits: 0 };
    if (idKey && r.identityLimit > 0 && this.live(idKey).size >= r.identityLimit)
      return { verdict: 'max-per-identity', identityExtraBits: 0 };
    const held = { owner, lapses: this.now() + r.ttlMs };
    if (r.ipLimit > 0) this.live(ipKey).set(r.member, held);
    if (idKey && r.identityLimit > 0) this.live(idKey).set(r.member, { ...held });
    return { verdict: 'ok', identityExtraBits };
  }

  private keysOf(lease: Lease): string[] {
    const keys: string[] = [];
    if (lease.ip !== undefined) keys.push(`ip:${lease.ip}`);
    if (lease.fp !== undefined) keys.push(`id:${lease.fp}`);
    return keys;
  }

  /** Give a lease back. */
  release(lease: Lease): void {
    for (const key of this.keysOf(lease)) {
      const set = this.leases.get(key);
      set?.delete(lease.member);
      if (set?.size === 0) this.leases.delete(key);
    }
  }

  /** Keep `owner`'s leases for another `ttlMs`. */
  renew(leases: readonly Lease[], ttlMs: number, owner: string): void {
    const lapses = this.now() + ttlMs;
    for (const lease of leases)
      for (const key of this.keysOf(lease)) this.live(key).set(lease.member, { owner, lapses });
  }

  /** Take `owner`'s load report; the fleet's (its workers') load. */
  report(load: LoadReport, owner: string): FleetLoad {
    const now = this.now();
    this.loads.set(load.server, { at: now, owner, report: load });
    for (const [reason, n] of Object.entries(load.refusals))
      this.refused[reason] = (this.refused[reason] ?? 0) + n;
    // As the Redis script: bits asked stay until they lapse.
    for (const i of load.identities)
      if (i.extra > 0) this.extraBits.set(i.fp, { bits: i.extra, lapses: now + 3 * load.windowMs });
    const fleet: FleetLoad = {
      servers: 0,
      inFlight: 0,
      arrivals: 0,
      activeIdentities: 0,
      identities: new Map(),
      refusals: { ...this.refused },
    };
    const wanted = new Set(load.identities.map((i) => i.fp));
    const active = new Set<string>();
    for (const [server, entry] of this.loads) {
      if (now - entry.at > load.windowMs) {
        this.loads.delete(server);
        continue;
      }
      fleet.servers++;
      fleet.inFlight += entry.report.inFlight;
      fleet.arrivals += entry.report.arrivals;
      for (const i of entry.report.identities) {
        if (i.inFlight > 0 || i.arrivals > 0) active.add(i.fp);
        if (!wanted.has(i.fp)) continue;
        const sum = fleet.identities.get(i.fp) ?? { inFlight: 0, arrivals: 0 };
        sum.inFlight += i.inFlight;
        sum.arrivals += i.arrivals;
        fleet.identities.set(i.fp, sum);
      }
    }
    fleet.activeIdentities = active.size;
    return fleet;
  }

  /** A worker exited: its leases and load go at once (no waiting for them to lapse). */
  dropOwner(owner: string): void {
    for (const [key, set] of this.leases) {
      for (const [member, held] of set) if (held.owner === owner) set.delete(member);
      if (set.size === 0) this.leases.delete(key);
    }
    for (const [server, entry] of this.loads) if (entry.owner === owner) this.loads.delete(server);
  }
}
