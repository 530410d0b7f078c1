/**
 * The Redis (or Valkey) store of a fleet: node-redis with no offline queue (a call while
 * disconnected fails at once, so the caller falls back instead of waiting out an outage),
 * reconnecting with backoff, and one Lua script per decision (see scripts.ts). Blocked IPs
 * are announced on a pub/sub channel that every server listens to.
 * @module
 */
import { createHash } from 'node:crypto';
import type { RedisClientType } from '@redis/client';
import type {
  AcquireReply,
  AcquireRequest,
  FleetLoad,
  Lease,
  LoadReport,
  SpendRequest,
  StoreBackend,
} from './backend.js';
import { ACQUIRE, RELEASE, RENEW, REPORT, SPEND } from './scripts.js';
import type { StateUrl } from './url.js';

/** Options of {@link RedisStore}. */
export interface RedisStoreOptions {
  url: StateUrl;
  /** Key prefix, so several gates can share one store (default `tlslp:`). */
  prefix: string;
  /** CA bundle (PEM) to check a `rediss://` store's certificate against. */
  ca?: string;
  /** Called on each connection error (the caller logs the first of an outage). */
  onError?: (err: Error) => void;
}

class Script {
  readonly sha: string;
  constructor(readonly lua: string) {
    this.sha = createHash('sha1').update(lua).digest('hex');
  }
}

const SCRIPTS = {
  spend: new Script(SPEND),
  acquire: new Script(ACQUIRE),
  renew: new Script(RENEW),
  release: new Script(RELEASE),
  report: new Script(REPORT),
};

type Reply = string | number | null | Reply[];

function num(v: Reply | undefined): number {
  return typeof v === 'number' ? v : Number(v ?? 0);
}

/** See the module comment. */
export class RedisStore implements StoreBackend {
  readonly label: string;
  private readonly client: RedisClientType;
  private readonly subscriber: RedisClientType;
  private readonly prefix: string;
  private readonly blockedListeners: Array<(ip: string, ms: number) => void> = [];

  /** @param createClient `createClient` of `@redis/client`, loaded only when a store is used */
  constructor(
    createClient: (typeof import('@redis/client'))['createClient'],
    private readonly options: RedisStoreOptions,
  ) {
    const { url } = options;
    this.label = url.shown;
    this.prefix = options.prefix;
    const socket = {
      host: url.host,
      port: url.port,
      connectTimeout: 2000,
      // Back off to 2 s between tries, forever: the store may come back at any time.
      reconnectStrategy: (retries: number) => Math.min(50 * 2 ** Math.min(retries, 6), 2000),
      ...(url.tls ? { tls: true as const, ...(options.ca ? { ca: options.ca } : {}) } : {}),
    };
    this.client = createClient({
      socket,
      ...(url.username ? { username: url.username } : {}),
      ...(url.password ? { password: url.password } : {}),
      database: url.database,
      disableOfflineQueue: true,
    });
    this.subscriber = this.client.duplicate();
    const onError = (err: Error): void => options.onError?.(err);
    this.client.on('error', onError);
    this.subscriber.on('error', onError);
  }

  start(): Promise<void> {
    // Neither is awaited to the end: an unreachable store at start is an outage like any
    // other (the server serves with local limits), not a reason to refuse to start.
    const connect = (c: RedisClientType): Promise<unknown> =>
      c.connect().catch((err: unknown) => this.options.onError?.(err as Error));
    void connect(this.client);
    void connect(this.subscriber).then(() =>
      this.subscriber
        .subscribe(this.key('blocked'), (message) => {
          const [ip, ms] = message.split(' ');
          const wait = Number(ms);
          if (ip && wait > 0) for (const l of this.blockedListeners) l(ip, wait);
        })
        .catch((err: unknown) => this.options.onError?.(err as Error)),
    );
    return Promise.resolve();
  }

  private key(name: string): string {
    return this.prefix + name;
  }

  /** Run a script by its digest, sending its text when the store does not have it (yet). */
  private async run(script: Script, keys: string[], args: Array<string | number>): Promise<Reply> {
    const tail = [String(keys.length), ...keys, ...args.map(String)];
    try {
      return await this.client.sendCommand<Reply>(['EVALSHA', script.sha, ...tail]);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return this.client.sendCommand<Reply>(['EVAL', script.lua, ...tail]);
    }
  }

  async spend(r: SpendRequest): Promise<number> {
    const reply = await this.run(
      SCRIPTS.spend,
      [this.key(`fail:${r.ip}`)],
      [r.burst, r.perMinute, Math.max(1, r.cost), this.key('blocked'), r.ip],
    );
    return num(reply);
  }

  async acquire(r: AcquireRequest): Promise<AcquireReply> {
    const fp = r.fp ?? '-';
    const reply = await this.run(
      SCRIPTS.acquire,
      [this.key(`lease:ip:${r.ip}`), this.key(`lease:id:${fp}`), this.key(`idbits:${fp}`)],
      [r.member, r.ttlMs, r.ipLimit, r.fp ? r.identityLimit : 0],
    );
    const [code, bits] = Array.isArray(reply) ? reply : [0, 0];
    const verdict = num(code) === 1 ? 'max-per-ip' : num(code) === 2 ? 'max-per-identity' : 'ok';
    return { verdict, identityExtraBits: num(bits) };
  }

  private leaseKeys(lease: Lease): string[] {
    const keys: string[] = [];
    if (lease.ip !== undefined) keys.push(this.key(`lease:ip:${lease.ip}`));
    if (lease.fp !== undefined) keys.push(this.key(`lease:id:${lease.fp}`));
    return keys;
  }

  async release(lease: Lease): Promise<void> {
    const keys = this.leaseKeys(lease);
    if (keys.length > 0) await this.run(SCRIPTS.release, keys, [lease.member]);
  }

  async renew(leases: readonly Lease[], ttlMs: number): Promise<void> {
    const keys: string[] = [];
    const members: string[] = [];
    for (const lease of leases)
      for (const key of this.leaseKeys(lease)) {
        keys.push(key);
        members.push(lease.member);
      }
    if (keys.length > 0) await this.run(SCRIPTS.renew, keys, [ttlMs, ...members]);
  }

  async report(load: LoadReport): Promise<FleetLoad> {
    const refusals = Object.entries(load.refusals);
    const args: Array<string | number> = [
      load.server,
      load.windowMs,
      load.inFlight,
      load.arrivals,
      refusals.length,
      ...refusals.flat(),
      load.identities.length,
      ...load.identities.flatMap((i) => [i.fp, i.inFlight, i.arrivals, i.extra]),
    ];
    const reply = await this.run(
      SCRIPTS.report,
      [
        this.key('load'),
        this.key('refused'),
        this.key('ids'),
        ...load.identities.flatMap((i) => [this.key(`idload:${i.fp}`), this.key(`idbits:${i.fp}`)]),
      ],
      args,
    );
    const r = Array.isArray(reply) ? reply : [];
    const counts = Array.isArray(r[4]) ? r[4] : [];
    const ids = Array.isArray(r[5]) ? r[5] : [];
    const fleet: FleetLoad = {
      servers: num(r[0]),
      inFlight: num(r[1]),
      arrivals: num(r[2]),
      activeIdentities: num(r[3]),
      identities: new Map(),
      refusals: {},
    };
    for (let i = 0; i + 1 < counts.length; i += 2)
      fleet.refusals[String(counts[i])] = num(counts[i + 1]);
    for (let i = 0; i + 2 < ids.length; i += 3)
      fleet.identities.set(String(ids[i]), {
        inFlight: num(ids[i + 1]),
        arrivals: num(ids[i + 2]),
      });
    return fleet;
  }

  onBlocked(listener: (ip: string, ms: number) => void): void {
    this.blockedListeners.push(listener);
  }

  close(): Promise<void> {
    for (const c of [this.subscriber, this.client]) {
      try {
        // destroy, not quit: a store that is down must not hold up the server's exit.
        c.destroy();
      } catch {
        /* not connected */
      }
    }
    return Promise.resolve();
  }
}

/**
 * A {@link RedisStore} for `url` (a `--state` URL), loading the client library only now: a
 * server without a store never loads it.
 */
export async function createRedisStore(
  url: StateUrl,
  options: Omit<RedisStoreOptions, 'url'>,
): Promise<RedisStore> {
  const { createClient } = await import('@redis/client');
  return new RedisStore(createClient, { ...options, url });
}
