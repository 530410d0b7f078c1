/**
 * What a shared store does for a fleet of servers, whichever store it is: Redis (or Valkey)
 * for servers on several machines, or the cluster primary for the workers of one. Each call
 * is one atomic decision, made where the state lives.
 * @module
 */

/** Spend failure tokens of one client IP (see `FailureBudget`). */
export interface SpendRequest {
  /** The client IP. */
  ip: string;
  /** Tokens to spend (at least 1). */
  cost: number;
  /** Tokens the bucket holds when full. */
  burst: number;
  /** Tokens it gets back a minute. */
  perMinute: number;
}

/** Take a session lease for each limited count, all or none. */
export interface AcquireRequest {
  /** Names this lease, unique across the fleet. */
  member: string;
  /** The client IP; its count is limited when `ipLimit` > 0. */
  ip: string;
  /** Most sessions of the IP in the fleet (`maxPerIp`; 0 = not limited, no lease). */
  ipLimit: number;
  /** The client certificate's fingerprint; its count is limited when `identityLimit` > 0. */
  fp?: string;
  /** Most sessions of the identity in the fleet (`maxPerIdentity`; 0 = not limited). */
  identityLimit: number;
  /** A lease not renewed within this long is gone (its server died). */
  ttlMs: number;
}

/** What {@link StoreBackend.acquire} decided. */
export interface AcquireReply {
  /** Taken, or which limit the fleet is at (nothing taken). */
  verdict: 'ok' | 'max-per-ip' | 'max-per-identity';
  /** Extra n_bits the fleet asks of this identity (per-identity difficulty), 0 if none. */
  identityExtraBits: number;
}

/** A lease held: which counts it takes a place in. */
export interface Lease {
  /** Names the lease (as {@link AcquireRequest.member}). */
  member: string;
  /** The IP count, when it was limited. */
  ip?: string;
  /** The identity count, when it was limited. */
  fp?: string;
}

/** One identity's share of this server's load, for the fleet's per-identity difficulty. */
export interface IdentityReport {
  /** The certificate's fingerprint. */
  fp: string;
  /** Its sessions in flight on this server. */
  inFlight: number;
  /** New sessions since the last report. */
  arrivals: number;
  /** Extra n_bits this server asks of it now. */
  extra: number;
}

/** A server's load over its last interval, and what it counted since its last report. */
export interface LoadReport {
  /** Names the server, unique across the fleet. */
  server: string;
  /** Reports older than this are of servers gone (about three intervals). */
  windowMs: number;
  /** Sessions in flight, weighted as the adaptive controller weighs them. */
  inFlight: number;
  /** New sessions over the last interval, weighted likewise. */
  arrivals: number;
  /** Connections refused since the last report, by reason. */
  refusals: Readonly<Record<string, number>>;
  /** Each identity with sessions or arrivals here. */
  identities: readonly IdentityReport[];
}

/** Sessions in flight and new sessions of an interval. */
export interface LoadFigures {
  /** Sessions in flight. */
  inFlight: number;
  /** New sessions over the interval. */
  arrivals: number;
}

/** The fleet's load, as the store sums it from every server's latest report. */
export interface FleetLoad {
  /** Servers that reported within the window, this one included. */
  servers: number;
  /** Weighted sessions in flight, over the fleet. */
  inFlight: number;
  /** Weighted new sessions of the last interval, over the fleet. */
  arrivals: number;
  /** Identities with sessions anywhere in the fleet. */
  activeIdentities: number;
  /** The fleet's in-flight and arrivals of each identity this server reported. */
  identities: Map<string, LoadFigures>;
  /** Refusals of the whole fleet, by reason, since the store's counters started. */
  refusals: Record<string, number>;
}

/** A shared store. Every call may reject or hang: the caller bounds and falls back. */
export interface StoreBackend {
  /** How to name the store in messages (no password). */
  readonly label: string;
  /** Connect (it may keep retrying in the background; calls fail fast until it is up). */
  start(): Promise<void>;
  /** Spend; resolves with the ms until the IP may try again (0: it may now). */
  spend(request: SpendRequest): Promise<number>;
  /** Take a lease in each limited count, all or none. */
  acquire(request: AcquireRequest): Promise<AcquireReply>;
  /** Give a lease back (its session ended). */
  release(lease: Lease): Promise<void>;
  /** Keep these leases alive for another `ttlMs` (and put back any the store lost). */
  renew(leases: readonly Lease[], ttlMs: number): Promise<void>;
  /** Send this server's load; resolves with the fleet's. */
  report(load: LoadReport): Promise<FleetLoad>;
  /** Called when any server of the fleet finds an IP out of failure budget. */
  onBlocked(listener: (ip: string, ms: number) => void): void;
  /** Disconnect. */
  close(): Promise<void>;
}
