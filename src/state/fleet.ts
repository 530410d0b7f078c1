/**
 * What the gate asks of the fleet, local first. Without a store every decision is this
 * server's own, as it always was. With one (Redis, or the cluster primary):
 * - the failure budget is spent here at once and on the store without waiting; an IP the
 *   store finds out of budget (here or on any server, by pub/sub) is cached as blocked until
 *   its next token, so refusing it costs no round trip;
 * - session leases for `maxPerIp`/`maxPerIdentity` are taken on the store (one round trip,
 *   after the handshake), renewed while the session lives, and lapse when a server dies;
 * - the load behind adaptive difficulty and the refusal counts are summed over the fleet.
 *
 * Every store call has a deadline and goes through a circuit breaker; past the deadline, or
 * with the store down or frozen, the local limits decide and the miss is counted. The store
 * going and coming back is logged once each way.
 * @module
 */
import { FailureBudget } from './budget.js';
import { TransportError } from '../errors/index.js';
import type { FleetLoad, Lease, LoadReport, StoreBackend } from './backend.js';
import { CircuitBreaker, type BreakerOptions } from './breaker.js';

/** The store calls, as the fallback counter labels them. */
export type StateOp = 'spend' | 'acquire' | 'release' | 'renew' | 'report';

/** Deadline of a decision on the hot path (spend, acquire). */
export const STATE_DEADLINE_MS = 50;
/** Deadline of the background calls (renew, release, report). */
const BACKGROUND_DEADLINE_MS = 500;
/** A lease not renewed this long is gone: a crashed server's sessions free within seconds. */
export const LEASE_TTL_MS = 6000;
/** How often held leases are renewed (three chances before one lapses). */
const LEASE_RENEW_MS = 2000;
/** Leases renewed in one call. */
const RENEW_BATCH = 256;
/** Most orphaned leases remembered (see FleetState.orphans). */
const MAX_ORPHANS = 10_000;
/** Most IPs remembered as blocked by the fleet (the oldest go first). */
const MAX_BLOCKED = 100_000;

/** Options of {@link FleetState}. */
export interface FleetStateOptions {
  /**
   * The store, or how to make it (at {@link FleetState.start}, so a client library loads
   * only when a store is used), given where to report its connection errors; null: every
   * decision is local.
   */
  backend: StoreBackend | ((onError: (err: Error) => void) => Promise<StoreBackend>) | null;
  /** Failures an IP may have a minute (`maxHandshakeFailuresPerIp`; 0 = no budget). */
  failuresPerMinute: number;
  /** Names this server in the fleet. */
  serverId: string;
  /** Deadline of the hot-path calls (default {@link STATE_DEADLINE_MS}). */
  deadlineMs?: number;
  breaker?: BreakerOptions;
  /** The store went (false) or came back (true); `detail` says why, naming the store. */
  onStatus?: (up: boolean, detail: string) => void;
  /** A decision was made locally because the store could not be asked in time. */
  onFallback?: (op: StateOp) => void;
}

/** What {@link FleetState.acquire} decided. */
export interface Admission {
  /** `local`: the store could not say; the server's own counts decide. */
  verdict: 'ok' | 'max-per-ip' | 'max-per-identity' | 'local';
  /** Extra n_bits the fleet asks of the identity. */
  extraBits: number;
  /** The lease to hold (see {@link FleetState.hold}) and give back when the session ends. */
  lease: Lease;
}

const FALLBACK = Symbol('fallback');

/** Keys remembered until a time of their own, at most `max` (the oldest go first). */
class ExpiringSet {
  private readonly until = new Map<string, number>();
  constructor(private readonly max: number) {}

  add(key: string, ms: number): void {
    if (this.until.size >= this.max && !this.until.has(key)) {
      const oldest = this.until.keys().next();
      if (!oldest.done) this.until.delete(oldest.value);
    }
    this.until.set(key, performance.now() + ms);
  }

  has(key: string): boolean {
    if (this.until.size === 0) return false;
    const until = this.until.get(key);
    if (until === undefined) return false;
    if (performance.now() < until) return true;
    this.until.delete(key);
    return false;
  }
}

/** See the module comment. */
export class FleetState {
  /** Whether a store is configured (the fleet shares limits). */
  readonly shared: boolean;
  private backend: StoreBackend | null = null;
  private readonly makeBackend: ((onError: (err: Error) => void) => Promise<StoreBackend>) | null;
  private readonly name: string;
  private local: FailureBudget;
  private burst: number;
  private perMinute: number;
  /** IPs the fleet found out of budget, until their next token. */
  private readonly blocked = new ExpiringSet(MAX_BLOCKED);
  private readonly breaker: CircuitBreaker;
  private readonly deadlineMs: number;
  private readonly held = new Map<string, Lease>();
  /**
   * Leases whose acquire got no answer in time and that no session holds: the store may
   * still take them (a frozen store runs the call once it thaws), so they are given back
   * before the next call, which the store then runs after them.
   */
  private readonly orphans = new Map<string, Lease>();
  /** Store calls under way (close waits for them). */
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly refusals = new Map<string, number>();
  /** Identities in the last report, for the zeros of those gone since. */
  private reportedIds = new Set<string>();
  private isUp: boolean | null = null;
  private seq = 0;
  private renewTimer: NodeJS.Timeout | null = null;
  private fallbacks = 0;

  constructor(private readonly options: FleetStateOptions) {
    const b = options.backend;
    this.makeBackend = b === null ? null : typeof b === 'function' ? b : () => Promise.resolve(b);
    this.shared = b !== null;
    this.name = b !== null && typeof b === 'object' ? b.label : 'the state store';
    this.perMinute = options.failuresPerMinute;
    this.local = new FailureBudget(this.perMinute);
    this.burst = this.local.burst;
    this.breaker = new CircuitBreaker(options.breaker);
    this.deadlineMs = options.deadlineMs ?? STATE_DEADLINE_MS;
  }

  /**
   * A new `failuresPerMinute` (a reconfigured server): this server's budgets start afresh,
   * every IP with a full bucket; IPs the fleet found out of budget stay so until their token.
   */
  setFailuresPerMinute(perMinute: number): void {
    if (perMinute === this.perMinute) return;
    this.perMinute = perMinute;
    this.local = new FailureBudget(perMinute);
    this.burst = this.local.burst;
  }

  /** The store's name in messages (no password), or null without one. */
  get label(): string | null {
    return this.shared ? (this.backend?.label ?? this.name) : null;
  }

  /** Whether the store answers: null before the first call or without a store. */
  get up(): boolean | null {
    return this.isUp;
  }

  /** Decisions made locally because the store could not be asked in time. */
  get fallbackCount(): number {
    return this.fallbacks;
  }

  /** Connect to the store and start renewing leases. */
  async start(): Promise<void> {
    if (!this.makeBackend || this.backend) return;
    // The store's connection errors come here (its client reconnects by itself).
    const backend = await this.makeBackend((err) => this.storeError(err));
    backend.onBlocked((ip, ms) => this.blocked.add(ip, ms));
    await backend.start();
    this.backend = backend;
    this.renewTimer = setInterval(() => void this.renew(), LEASE_RENEW_MS);
    this.renewTimer.unref();
  }

  /**
   * Stop renewing, give back what is still held, let the calls under way finish (each within
   * its deadline), and disconnect: a server that stops frees its places in the fleet at once
   * rather than when its leases lapse.
   */
  async close(): Promise<void> {
    if (this.renewTimer) clearInterval(this.renewTimer);
    this.renewTimer = null;
    for (const lease of [...this.held.values()]) this.release(lease);
    this.releaseOrphans();
    // A frozen store never answers: wait at most one background deadline.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.inFlight]),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, BACKGROUND_DEADLINE_MS))),
    ]);
    clearTimeout(timer);
    await this.backend?.close();
  }

  /** Whether `ip` may start another handshake: its own budget here, and the fleet's. */
  allows(ip: string): boolean {
    return this.local.allows(ip) && !this.blocked.has(ip);
  }

  /** Something from `ip` failed: spend `cost` tokens here at once, and on the store. */
  failed(ip: string, cost = 1): void {
    this.local.failed(ip, cost);
    if (!this.backend || this.perMinute <= 0) return;
    const backend = this.backend;
    const request = { ip, cost: Math.max(1, cost), burst: this.burst, perMinute: this.perMinute };
    void this.call('spend', this.deadlineMs, () => backend.spend(request)).then((ms) => {
      if (ms !== FALLBACK && ms > 0) this.blocked.add(ip, ms);
    });
  }

  /**
   * Ask the fleet for a session of `ip` (and of the identity `fp`) under the limits; one
   * round trip. With verdict `ok` the lease is held already; with `local`, the caller decides
   * and calls {@link hold} if it lets the session in.
   */
  async acquire(
    ip: string,
    fp: string | undefined,
    ipLimit: number,
    identityLimit: number,
  ): Promise<Admission> {
    const lease: Lease = {
      member: `${this.options.serverId}:${this.seq++}`,
      ...(ipLimit > 0 ? { ip } : {}),
      ...(fp !== undefined && identityLimit > 0 ? { fp } : {}),
    };
    const backend = this.backend;
    if (!backend) return { verdict: 'local', extraBits: 0, lease };
    this.releaseOrphans();
    const reply = await this.call('acquire', this.deadlineMs, () =>
      backend.acquire({
        member: lease.member,
        ip,
        ipLimit,
        ...(fp !== undefined ? { fp } : {}),
        identityLimit,
        ttlMs: LEASE_TTL_MS,
      }),
    );
    if (reply === FALLBACK) {
      if (lease.ip !== undefined || lease.fp !== undefined) {
        if (this.orphans.size >= MAX_ORPHANS) {
          const oldest = this.orphans.keys().next();
          if (!oldest.done) this.orphans.delete(oldest.value);
        }
        this.orphans.set(lease.member, lease);
      }
      return { verdict: 'local', extraBits: 0, lease };
    }
    if (reply.verdict === 'ok') this.hold(lease);
    return { verdict: reply.verdict, extraBits: reply.identityExtraBits, lease };
  }

  /**
   * Hold `lease` for a session let in on local counts (the store could not be asked): it is
   * renewed with the others, so the store counts it once it is back.
   */
  hold(lease: Lease): void {
    this.orphans.delete(lease.member);
    if (this.backend && (lease.ip !== undefined || lease.fp !== undefined))
      this.held.set(lease.member, lease);
  }

  /** Give back the orphaned leases, while the store answers (see {@link orphans}). */
  private releaseOrphans(): void {
    const backend = this.backend;
    if (!backend || this.orphans.size === 0 || this.breaker.state !== 'closed') return;
    for (const lease of [...this.orphans.values()]) {
      this.orphans.delete(lease.member);
      void this.call('release', BACKGROUND_DEADLINE_MS, () => backend.release(lease)).then((r) => {
        // Not given back: try again later, unless a session has taken it since.
        if (r === FALLBACK && !this.held.has(lease.member)) this.orphans.set(lease.member, lease);
      });
    }
  }

  /** The session of `lease` ended: give it back. */
  release(lease: Lease): void {
    if (!this.held.delete(lease.member)) return;
    const backend = this.backend;
    if (backend) void this.call('release', BACKGROUND_DEADLINE_MS, () => backend.release(lease));
  }

  private async renew(): Promise<void> {
    const backend = this.backend;
    if (!backend) return;
    this.releaseOrphans();
    const members = [...this.held.keys()];
    for (let i = 0; i < members.length; i += RENEW_BATCH) {
      // A lease released while an earlier batch was out is not put back.
      const leases = members
        .slice(i, i + RENEW_BATCH)
        .map((m) => this.held.get(m))
        .filter((l): l is Lease => l !== undefined);
      if (leases.length === 0) continue;
      const r = await this.call('renew', BACKGROUND_DEADLINE_MS, () =>
        backend.renew(leases, LEASE_TTL_MS),
      );
      if (r === FALLBACK) return;
    }
  }

  /** A connection was refused by a limit: counted for the fleet's totals. */
  countRefusal(reason: string): void {
    if (this.backend) this.refusals.set(reason, (this.refusals.get(reason) ?? 0) + 1);
  }

  /**
   * Send this server's load of the interval; resolves with the fleet's, or null when the
   * store could not be asked (the caller uses its own figures).
   */
  async report(load: Omit<LoadReport, 'server' | 'refusals'>): Promise<FleetLoad | null> {
    const backend = this.backend;
    if (!backend) return null;
    const refusals = Object.fromEntries(this.refusals);
    this.refusals.clear();
    // An identity this server had last time and has no more: reported once with zeros, so
    // the store stops counting this server's old figures for it.
    const now = new Set(load.identities.map((i) => i.fp));
    const identities = [...load.identities];
    for (const fp of this.reportedIds)
      if (!now.has(fp)) identities.push({ fp, inFlight: 0, arrivals: 0, extra: 0 });
    this.reportedIds = now;
    const reply = await this.call('report', BACKGROUND_DEADLINE_MS, () =>
      backend.report({ ...load, identities, server: this.options.serverId, refusals }),
    );
    if (reply !== FALLBACK) return reply;
    // Not sent: counted again next time.
    for (const [reason, n] of Object.entries(refusals))
      this.refusals.set(reason, (this.refusals.get(reason) ?? 0) + n);
    return null;
  }

  /** One store call, bounded by `deadlineMs` and the breaker; FALLBACK when it did not answer. */
  private async call<T>(
    op: StateOp,
    deadlineMs: number,
    run: () => Promise<T>,
  ): Promise<T | typeof FALLBACK> {
    if (!this.breaker.allow()) return this.fallback(op);
    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    const running = run();
    this.inFlight.add(running);
    void running.then(
      () => this.inFlight.delete(running),
      () => this.inFlight.delete(running),
    );
    try {
      const result = await Promise.race([
        running,
        new Promise<never>((_, reject) => {
          // The deadline is the store's, not this process's: timers run before I/O in an
          // event-loop turn, so on a busy loop it would fire ahead of an answer already on
          // the socket. setImmediate lets this turn's I/O in first, and a timer that fired
          // late (the loop itself was stalled) gives the store another deadline, twice at most.
          const arm = (retries: number): void => {
            const due = performance.now() + deadlineMs;
            timer = setTimeout(() => {
              const late = performance.now() - due;
              if (late > deadlineMs / 2 && retries > 0) arm(retries - 1);
              else setImmediate(expire);
            }, deadlineMs);
          };
          arm(2);
          const expire = (): void => {
            timedOut = true;
            reject(
              new TransportError('TLSLP_ERR_STATE_UNAVAILABLE', {
                store: this.label ?? 'the state store',
                ms: deadlineMs,
              }),
            );
          };
        }),
      ]);
      this.breaker.success();
      if (this.isUp !== true) {
        if (this.isUp === false)
          this.options.onStatus?.(
            true,
            `state store ${this.label} is back: limits are shared across the fleet again`,
          );
        this.isUp = true;
      }
      return result;
    } catch (err) {
      if (this.breaker.failure() || (this.isUp === null && this.breaker.state !== 'closed'))
        this.down(timedOut ? `no answer within ${deadlineMs} ms` : (err as Error).message);
      return this.fallback(op);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The store's client lost its connection (it reconnects by itself). */
  storeError(err: Error): void {
    this.down(err.message || String(err));
  }

  /** The store stopped answering (the breaker opened): say so once. */
  private down(why: string): void {
    if (this.isUp === false) return;
    this.isUp = false;
    this.options.onStatus?.(
      false,
      `state store ${this.label} is not answering (${why}): each server uses its own limits until it is back`,
    );
  }

  private fallback(op: StateOp): typeof FALLBACK {
    this.fallbacks++;
    this.options.onFallback?.(op);
    return FALLBACK;
  }
}
