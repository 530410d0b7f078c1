/**
 * The sessions in flight, in all, per IP and per client certificate: the session limits
 * before TLS (admission) and after it (identity check) count the same slots.
 * @module
 */
import { Tally } from './tally.js';
import type { GateLimits } from './connection.js';
import type { RefusalReason } from './events.js';
import type { ClientIdentity } from './identity.js';

/** Who holds a slot: a session's IP and, with certificates, its identity. */
interface SlotHolder {
  readonly ip: string;
  readonly identity?: ClientIdentity;
}

/** Sessions in flight, counted three ways. */
export class SessionSlots {
  private count = 0;
  /** Per IP: the `maxPerIp` limit and the adaptive controller's load. */
  private readonly perIp = new Tally();
  /** Per client certificate (fingerprint): the `maxPerIdentity` limit. */
  private readonly perIdentity = new Tally();

  constructor(private readonly limits: GateLimits) {}

  /** Sessions in flight. */
  get inFlight(): number {
    return this.count;
  }

  /** A session started. */
  take({ ip, identity }: SlotHolder): void {
    this.count++;
    this.perIp.up(ip);
    if (identity) this.perIdentity.up(identity.fp);
  }

  /** A session ended. */
  free({ ip, identity }: SlotHolder): void {
    this.count--;
    this.perIp.down(ip);
    if (identity) this.perIdentity.down(identity.fp);
  }

  /** Sessions in flight, each IP counted at most `cap` times (the adaptive load). */
  weighted(cap: number): number {
    let total = 0;
    for (const n of this.perIp.values()) total += Math.min(n, cap);
    return total;
  }

  /** Which session limit a new session from `ip` would pass, or null. */
  limitFor(ip: string): RefusalReason | null {
    const o = this.limits;
    if (this.count >= o.maxConnections) return 'max-connections';
    if (o.maxPerIp > 0 && this.perIp.get(ip) >= o.maxPerIp) return 'max-per-ip';
    return null;
  }

  /** Whether `identity` has all the sessions `maxPerIdentity` allows it. */
  identityFull(identity: ClientIdentity): boolean {
    const max = this.limits.maxPerIdentity;
    return max > 0 && this.perIdentity.get(identity.fp) >= max;
  }
}
