/**
 * Fleet state (`--state`): the circuit breaker on an injected clock; the `--state` URL, its
 * checks and the masking of its password in messages and CLI output; the cluster primary's
 * MemoryStore against a real Redis (the same calls give the same answers); and FleetState on
 * a real redis-server that is killed, restarted, frozen (SIGSTOP) and thawed.
 */
import type { TLSSocket } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CertificateSet } from '../src/pki/generate.js';
import { ConfigError } from '../src/errors/index.js';
import { resolveServerOptions } from '../src/options/index.js';
import {
  CircuitBreaker,
  FleetState,
  MemoryStore,
  maskStateUrl,
  parseStateUrl,
  type AcquireReply,
  type AcquireRequest,
  type FleetLoad,
  type IdentityReport,
  type Lease,
  type LoadReport,
  type RedisStore,
  type SpendRequest,
  type StoreBackend,
} from '../src/state/index.js';
import { createRedisStore } from '../src/state/redis.js';
import { NO_REDIS, REDIS_SERVER, startRedis, type TestRedis } from './redis.js';
import { firstLine } from './first-line.js';
import { heldAtWork, runBin, testCerts, until, useServers, useTempDirs } from './helpers.js';

const TIMEOUT = 20_000;
if (!REDIS_SERVER) console.warn(`state.test.ts: the real-Redis tests are skipped: ${NO_REDIS}`);
const withRedis = `a real redis-server (skipped when ${NO_REDIS})`;
const tempDir = useTempDirs('tlslp-state-');

describe('CircuitBreaker', () => {
  /** A breaker on a clock the test moves by hand. */
  function breaker(): { b: CircuitBreaker; tick: (ms: number) => void } {
    let now = 1000;
    const b = new CircuitBreaker({ failures: 3, openMs: 1000, now: () => now });
    return { b, tick: (ms) => (now += ms) };
  }

  /** {@link breaker}, opened by three failures and `openMs` later, its probe let through. */
  function probing(): { b: CircuitBreaker; tick: (ms: number) => void } {
    const opened = breaker();
    for (let i = 0; i < 3; i++) opened.b.failure();
    opened.tick(999);
    expect(opened.b.allow()).toBe(false);
    opened.tick(1);
    expect(opened.b.allow()).toBe(true);
    return opened;
  }

  it('stays closed through two failures and opens on the third; only that failure says it opened', () => {
    const { b } = breaker();
    expect(b.failure()).toBe(false);
    expect(b.failure()).toBe(false);
    expect(b.state).toBe('closed');
    expect(b.allow()).toBe(true);
    expect(b.failure()).toBe(true);
    expect(b.state).toBe('open');
    expect(b.allow()).toBe(false);
  });

  it('a success before the third failure starts the count again', () => {
    const { b } = breaker();
    b.failure();
    b.failure();
    b.success();
    b.failure();
    b.failure();
    expect(b.state).toBe('closed');
    expect(b.allow()).toBe(true);
  });

  it('refuses while open, then lets exactly one probe through after openMs', () => {
    const { b, tick } = probing();
    expect(b.state).toBe('half-open');
    // The probe is out: nobody else goes, however long it takes.
    expect(b.allow()).toBe(false);
    tick(5000);
    expect(b.allow()).toBe(false);
  });

  it('a probe that succeeds closes it', () => {
    const { b } = probing();
    b.success();
    expect(b.state).toBe('closed');
    expect(b.allow()).toBe(true);
    expect(b.allow()).toBe(true);
  });

  it('a probe that fails keeps it open for another openMs, counted from the probe', () => {
    const { b, tick } = probing();
    expect(b.failure()).toBe(false);
    expect(b.state).toBe('open');
    expect(b.allow()).toBe(false);
    tick(999);
    expect(b.allow()).toBe(false);
    tick(1);
    expect(b.allow()).toBe(true);
    expect(b.allow()).toBe(false);
  });
});

describe('the --state URL', () => {
  it('takes redis, rediss, valkey and valkeys, with the default port 6379 and db 0', () => {
    expect(parseStateUrl('redis://store.example')).toEqual({
      tls: false,
      host: 'store.example',
      port: 6379,
      database: 0,
      shown: 'redis://store.example',
    });
    expect(parseStateUrl('rediss://store.example:6380')).toMatchObject({ tls: true, port: 6380 });
    expect(parseStateUrl('valkey://10.0.0.5/3')).toMatchObject({
      tls: false,
      host: '10.0.0.5',
      port: 6379,
      database: 3,
    });
    expect(parseStateUrl('valkeys://[::1]:7000/15')).toMatchObject({
      tls: true,
      host: '::1',
      port: 7000,
      database: 15,
    });
  });

  it('decodes user and password, and shows the URL with the password masked', () => {
    const url = parseStateUrl('redis://gate%40fleet:p%2Fss%3Aw0rd@store:6390/2');
    expect(url).toEqual({
      tls: false,
      host: 'store',
      port: 6390,
      username: 'gate@fleet',
      password: 'p/ss:w0rd',
      database: 2,
      shown: 'redis://gate%40fleet:***@store:6390/2',
    });
    // A password alone (requirepass), as redis-cli takes it.
    expect(parseStateUrl('redis://:secret@store')).toMatchObject({
      password: 'secret',
      shown: 'redis://:***@store',
    });
    expect(parseStateUrl('redis://:secret@store')).not.toHaveProperty('username');
  });

  it.each([
    'http://u:secret@store',
    'store:6379',
    'redis://',
    'redis://store?db=1',
    'redis://store#x',
    'redis://store/db1',
    'redis://store/100',
    'redis://store/-1',
    'redis://u:secret@',
  ])('rejects %s', (text) => {
    expect(parseStateUrl(text)).toBeNull();
  });

  it('masks the password wherever it sits in a text, and leaves other text alone', () => {
    expect(maskStateUrl('redis://u:secret@h:1/2')).toBe('redis://u:***@h:1/2');
    expect(maskStateUrl('cannot reach rediss://:secret@h now')).toBe(
      'cannot reach rediss://:***@h now',
    );
    expect(maskStateUrl('http://u:secret@x')).toBe('http://u:***@x');
    expect(maskStateUrl('redis://h:6379/0')).toBe('redis://h:6379/0');
  });

  it('a bad state value is a ConfigError naming `state`, with the password masked', () => {
    for (const state of ['redis://u:secret@', 'http://u:secret@store', 'redis://u:secret@h/1x']) {
      let err: unknown;
      try {
        resolveServerOptions({ state });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).option).toBe('state');
      expect((err as Error).message).toMatch(/^state must be a redis:\/\//);
      expect((err as Error).message).toContain(':***@');
      expect((err as Error).message).not.toContain('secret');
    }
    expect(resolveServerOptions({ state: 'redis://u:secret@h' }).state).toBe('redis://u:secret@h');
  });

  it(
    'TLSLP_STATE_URL with a bad URL: the bin exits 2 with one line on stderr, the password masked',
    async () => {
      const dir = await tempDir();
      process.env.TLSLP_STATE_URL = 'http://u:secret@x';
      let run;
      try {
        // The child takes its environment when it is spawned, inside runBin.
        run = runBin('server', ['--port', '0'], dir);
      } finally {
        delete process.env.TLSLP_STATE_URL;
      }
      const { code, stdout, stderr } = await run;
      expect(code).toBe(2);
      expect(stdout).toBe('');
      expect(stderr.trim().split('\n')).toHaveLength(1);
      expect(stderr).toMatch(/^tlslp-server: error: --state must be a redis:\/\//);
      expect(stderr).toContain('http://u:***@x');
      expect(stderr + stdout).not.toContain('secret');
    },
    TIMEOUT,
  );
});

/** Passwords where a mask is easy to get wrong. */
describe('a password shows nowhere', () => {
  it(
    "--state with a bad URL on the command line: commander's message is masked too",
    async () => {
      const dir = await tempDir();
      const { code, stdout, stderr } = await runBin(
        'server',
        ['--state', 'http://u:secret@x', '--port', '0'],
        dir,
      );
      expect(code).toBe(2);
      expect(stderr.trim().split('\n')).toHaveLength(1);
      expect(stderr + stdout).not.toContain('secret');
    },
    TIMEOUT,
  );

  it('a password with an unencoded "/": the ConfigError masks it whole', () => {
    // "redis://u:se/cret@h" does not parse as a store URL; the mask runs to the last "@".
    expect(() => resolveServerOptions({ state: 'redis://u:se/cret@h' })).toThrow(ConfigError);
    expect(() => resolveServerOptions({ state: 'redis://u:se/cret@h' })).not.toThrow(/cret/);
  });

  it('a password with an unencoded "@": `shown` masks it whole', () => {
    // WHATWG URL takes the last "@": password "p@ss"; so does the mask.
    const url = parseStateUrl('redis://u:p@ss@store');
    expect(url?.password).toBe('p@ss');
    expect(url?.shown).toBe('redis://u:***@store');
  });
});

/** The store calls both stores answer, awaited alike. */
interface Calls {
  spend(r: SpendRequest): Promise<number>;
  acquire(r: AcquireRequest): Promise<AcquireReply>;
  release(l: Lease): Promise<void>;
  renew(l: readonly Lease[], ttlMs: number): Promise<void>;
  report(l: LoadReport): Promise<FleetLoad>;
  /** The store loses everything (Redis: the server restarts; memory: a new primary). */
  restart(): Promise<void>;
}

/** Resolves once `store` answers a call (it connects in the background). */
async function answering(store: Pick<StoreBackend, 'release'>): Promise<void> {
  await until(
    () =>
      store.release({ member: 'ping', ip: 'ping' }).then(
        () => true,
        () => false,
      ),
    'the store to answer',
  );
}

/**
 * The file's redis-server: started before the first describe that asks for it, stopped after
 * the file's tests (one per file; the describes keep apart by key prefix, and a test that
 * kills or freezes it brings it back after itself).
 */
let sharedRedis: Promise<TestRedis> | undefined;
afterAll(async () => {
  // A start that failed has failed its describe's tests already.
  await (await sharedRedis?.catch(() => undefined))?.stop();
});
function useRedis(): () => TestRedis {
  let redis: TestRedis | undefined;
  beforeAll(async () => {
    redis = await (sharedRedis ??= startRedis());
  }, TIMEOUT);
  return () => redis as TestRedis;
}

describe.skipIf(!REDIS_SERVER)(`MemoryStore and RedisStore agree, on ${withRedis}`, () => {
  const redis = useRedis();
  const open: RedisStore[] = [];
  let n = 0;

  afterEach(async () => {
    while (open.length) await open.pop()?.close();
  });

  /** A RedisStore on the test's redis with a prefix of its own, answering. */
  async function redisStore(prefix = `test:${++n}:`): Promise<RedisStore> {
    const store = await createRedisStore(parseStateUrl(redis().url)!, { prefix });
    open.push(store);
    await store.start();
    await answering(store);
    return store;
  }

  function memoryCalls(): Calls {
    let m = new MemoryStore();
    return {
      spend: async (r) => m.spend(r),
      acquire: async (r) => m.acquire(r, 'w1'),
      release: async (l) => m.release(l),
      renew: async (l, ttl) => m.renew(l, ttl, 'w1'),
      report: async (l) => m.report(l, l.server),
      restart: async () => void (m = new MemoryStore()),
    };
  }

  async function redisCalls(): Promise<Calls> {
    const s = await redisStore();
    return {
      spend: (r) => s.spend(r),
      acquire: (r) => s.acquire(r),
      release: (l) => s.release(l),
      renew: (l, ttl) => s.renew(l, ttl),
      report: (l) => s.report(l),
      restart: async () => {
        await redis().restart();
        await answering(s);
      },
    };
  }

  /** Run `scenario` on both stores; expect the same answers, and resolve with them. */
  async function agree<T>(scenario: (s: Calls) => Promise<T>): Promise<T> {
    const onMemory = await scenario(memoryCalls());
    const onRedis = await scenario(await redisCalls());
    expect(onRedis).toEqual(onMemory);
    return onRedis;
  }

  /** A test: `scenario` gives the same answers on both stores, and they pass `check`. */
  function agreeing<T>(
    title: string,
    scenario: (s: Calls) => Promise<T>,
    check: (answers: T) => void,
  ): void {
    it(title, async () => check(await agree(scenario)), TIMEOUT);
  }

  const spendOf = (ip: string, cost = 1): SpendRequest => ({ ip, cost, burst: 5, perMinute: 6 });
  /** 0, or "wait" for a wait in (0, 10 s]: at 6 a minute a token is back within 10 s. */
  const waitOf = (ms: number): 'wait' | number => (ms === 0 ? 0 : ms <= 10_000 ? 'wait' : ms);
  const lease = (member: string, ip: string, ipLimit: number, ttlMs = 60_000): AcquireRequest => ({
    member,
    ip,
    ipLimit,
    identityLimit: 0,
    ttlMs,
  });
  const verdict = async (p: Promise<AcquireReply>): Promise<string> => (await p).verdict;

  agreeing(
    'the failure budget: a burst of 5, then the IP waits; a costly failure spends more; other IPs are untouched',
    async (s) => {
      const out: Array<'wait' | number> = [];
      for (let i = 0; i < 6; i++) out.push(waitOf(await s.spend(spendOf('198.51.100.1'))));
      out.push(waitOf(await s.spend(spendOf('198.51.100.2', 3))));
      out.push(waitOf(await s.spend(spendOf('198.51.100.2', 3))));
      out.push(waitOf(await s.spend(spendOf('198.51.100.3'))));
      return out;
    },
    (answers) => {
      expect(answers).toEqual([0, 0, 0, 0, 'wait', 'wait', 0, 'wait', 0]);
    },
  );

  agreeing(
    'leases: a limit of 3 holds exactly 3, a release frees one place, identity limits count across IPs, all or none',
    async (s) => {
      const ip = '203.0.113.7';
      const out: string[] = [];
      for (const m of ['a', 'b', 'c', 'd']) out.push(await verdict(s.acquire(lease(m, ip, 3))));
      await s.release({ member: 'a', ip });
      out.push(await verdict(s.acquire(lease('e', ip, 3))));
      out.push(await verdict(s.acquire(lease('f', ip, 3))));
      // One certificate, three IPs: the identity's count, not each IP's.
      const id = (member: string, from: string, ipLimit = 0): AcquireRequest => ({
        member,
        ip: from,
        ipLimit,
        fp: 'AB:CD',
        identityLimit: 2,
        ttlMs: 60_000,
      });
      for (const [m, from] of [
        ['i1', '10.0.0.1'],
        ['i2', '10.0.0.2'],
        ['i3', '10.0.0.3'],
      ] as const)
        out.push(await verdict(s.acquire(id(m, from))));
      // Refused by the identity: the IP's place is not taken either.
      out.push(await verdict(s.acquire(id('i4', '10.0.0.4', 1))));
      out.push(await verdict(s.acquire(lease('j', '10.0.0.4', 1))));
      return out;
    },
    (answers) => {
      expect(answers).toEqual([
        'ok',
        'ok',
        'ok',
        'max-per-ip',
        'ok',
        'max-per-ip',
        'ok',
        'ok',
        'max-per-identity',
        'max-per-identity',
        'ok',
      ]);
    },
  );

  agreeing(
    'a lease not renewed lapses after its TTL; a renewed one holds its place',
    async (s) => {
      const ip = '203.0.113.9';
      const out: string[] = [];
      out.push(await verdict(s.acquire(lease('short', ip, 2, 400))));
      out.push(await verdict(s.acquire(lease('kept', ip, 2, 400))));
      await s.renew([{ member: 'kept', ip }], 60_000);
      out.push(await verdict(s.acquire(lease('early', ip, 2))));
      let tries = 0;
      await until(
        async () => (await verdict(s.acquire(lease(`late${tries++}`, ip, 2)))) === 'ok',
        'the lease that was not renewed to lapse',
      );
      out.push(await verdict(s.acquire(lease('after', ip, 2))));
      return out;
    },
    (answers) => {
      expect(answers).toEqual(['ok', 'ok', 'max-per-ip', 'max-per-ip']);
    },
  );

  agreeing(
    'a store that lost everything (restarted) gets the leases back from the next renewal',
    async (s) => {
      const ip = '203.0.113.11';
      const held: Lease[] = [
        { member: 'one', ip },
        { member: 'two', ip, fp: 'EF:01' },
      ];
      const out: Array<string | number> = [];
      out.push(await verdict(s.acquire(lease('one', ip, 2))));
      out.push(await verdict(s.acquire({ ...lease('two', ip, 2), fp: 'EF:01', identityLimit: 1 })));
      for (let i = 0; i < 5; i++) await s.spend(spendOf('198.51.100.9'));
      await s.restart();
      // Everything is gone: the emptied budget is full again…
      out.push(waitOf(await s.spend(spendOf('198.51.100.9'))));
      // …and the renewal puts both leases back, in the IP's and the identity's counts.
      await s.renew(held, 60_000);
      out.push(await verdict(s.acquire(lease('three', ip, 2))));
      out.push(
        await verdict(
          s.acquire({ ...lease('four', '10.9.9.9', 0), fp: 'EF:01', identityLimit: 1 }),
        ),
      );
      return out;
    },
    (answers) => {
      expect(answers).toEqual(['ok', 'ok', 0, 'max-per-ip', 'max-per-identity']);
    },
  );

  const ident = (fp: string, inFlight: number, arrivals: number, extra = 0): IdentityReport => ({
    fp,
    inFlight,
    arrivals,
    extra,
  });
  const load = (server: string, windowMs: number, over: Partial<LoadReport> = {}): LoadReport => ({
    server,
    windowMs,
    inFlight: 0,
    arrivals: 0,
    refusals: {},
    identities: [],
    ...over,
  });
  const plain = (f: FleetLoad) => ({ ...f, identities: Object.fromEntries(f.identities) });

  agreeing(
    "report sums two servers' load, identities and refusals, and drops a server that stopped reporting",
    async (s) => {
      const w = 60_000;
      await s.report(
        load('A', w, {
          inFlight: 3,
          arrivals: 5,
          refusals: { 'max-per-ip': 2 },
          identities: [ident('F1', 2, 1)],
        }),
      );
      const both = await s.report(
        load('B', w, {
          inFlight: 4,
          arrivals: 1,
          refusals: { 'max-per-ip': 1, 'handshake-failures': 3 },
          identities: [ident('F1', 1, 4, 2), ident('F2', 1, 1)],
        }),
      );
      // B asks 2 extra bits of F1: the fleet asks them of F1 at its next lease.
      const extra = (await s.acquire({ ...lease('x', '10.1.1.1', 0), fp: 'F1', identityLimit: 1 }))
        .identityExtraBits;
      // A stops reporting: once its report is older than the window, it is not counted.
      await until(
        async () => (await s.report(load('B', 20, { inFlight: 4 }))).servers === 1,
        "A's report to go stale",
      );
      const alone = await s.report(load('B', w, { inFlight: 4, arrivals: 1 }));
      return { both: plain(both), extra, alone: plain(alone) };
    },
    (answers) => {
      expect(answers.both).toEqual({
        servers: 2,
        inFlight: 7,
        arrivals: 6,
        activeIdentities: 2,
        identities: { F1: { inFlight: 3, arrivals: 5 }, F2: { inFlight: 1, arrivals: 1 } },
        refusals: { 'max-per-ip': 3, 'handshake-failures': 3 },
      });
      expect(answers.extra).toBe(2);
      expect(answers.alone).toMatchObject({ servers: 1, inFlight: 4, arrivals: 1 });
    },
  );

  it(
    'an identity a server no longer has, reported once with zeros, stops counting on both stores',
    async () => {
      // B had two sessions of F, then none: a server reports an identity it no longer has
      // once with zeros (TlslpServer does). Then F has A's 1 alone, and is active only
      // through A, on either store.
      await agree(async (s) => {
        const w = 60_000;
        await s.report(load('B', w, { identities: [ident('F', 2, 2)] }));
        await s.report(load('B', w, { identities: [ident('F', 0, 0)] }));
        const a = await s.report(load('A', w, { identities: [ident('G', 1, 1)] }));
        const f = await s.report(load('A', w, { identities: [ident('F', 1, 1)] }));
        return { active: a.activeIdentities, f: plain(f).identities };
      });
    },
    TIMEOUT,
  );

  it(
    "an IP blocked on one RedisStore reaches another's onBlocked listener (pub/sub)",
    async () => {
      const prefix = `test:${++n}:`;
      const a = await redisStore(prefix);
      const b = await redisStore(prefix);
      const heard: Array<[string, number]> = [];
      b.onBlocked((ip, ms) => heard.push([ip, ms]));
      // B subscribes in the background: spend until it hears (each spend past the burst
      // announces the IP again).
      await until(async () => {
        await a.spend(spendOf('192.0.2.44'));
        return heard.length > 0;
      }, "B's listener to hear the blocked IP");
      expect(heard[0]?.[0]).toBe('192.0.2.44');
      expect(heard[0]?.[1]).toBeGreaterThan(0);
      expect(heard[0]?.[1]).toBeLessThanOrEqual(10_000);
      // Another prefix (another gate on the same store) hears nothing of it.
      const other = await redisStore(`other:${n}:`);
      const otherHeard: string[] = [];
      other.onBlocked((ip) => otherHeard.push(ip));
      const c = await redisStore(`other:${n}:`);
      await until(async () => {
        await c.spend(spendOf('192.0.2.45'));
        return otherHeard.length > 0;
      }, 'the other gate to hear its own IP');
      expect(otherHeard.every((ip) => ip === '192.0.2.45')).toBe(true);
      expect(heard.every(([ip]) => ip === '192.0.2.44')).toBe(true);
    },
    TIMEOUT,
  );
});

describe.skipIf(!REDIS_SERVER)(`FleetState on ${withRedis}`, () => {
  const redis = useRedis();
  const members: Member[] = [];
  let n = 0;
  /** The test left the store down or frozen (it failed half-way): the next one needs it. */
  let broken: 'killed' | 'frozen' | null = null;

  afterEach(async () => {
    while (members.length) await members.pop()?.fleet.close();
    if (broken === 'frozen') redis().thaw();
    if (broken === 'killed') await redis().restart();
    broken = null;
  });

  interface Member {
    fleet: FleetState;
    /** The store under it, for the test's own calls (not counted). */
    store: RedisStore;
    /** What `onStatus` said, in order. */
    status: boolean[];
    /** Calls the fleet state made on the store. */
    calls: number;
  }

  /** A FleetState on the test's redis, wired as the server wires it, its store answering. */
  async function member(serverId: string, prefix: string): Promise<Member> {
    const holder: { fleet?: FleetState } = {};
    const store = await createRedisStore(parseStateUrl(redis().url)!, {
      prefix,
      onError: (err) => holder.fleet?.storeError(err),
    });
    const m = { store, status: [] as boolean[], calls: 0 } as Member;
    const count = <T>(p: () => Promise<T>): Promise<T> => {
      m.calls++;
      return p();
    };
    // The real store, its calls counted on the way through.
    const backend: StoreBackend = {
      label: store.label,
      start: () => store.start(),
      spend: (r) => count(() => store.spend(r)),
      acquire: (r) => count(() => store.acquire(r)),
      release: (l) => count(() => store.release(l)),
      renew: (l, ttl) => count(() => store.renew(l, ttl)),
      report: (l) => count(() => store.report(l)),
      onBlocked: (listener) => store.onBlocked(listener),
      close: () => store.close(),
    };
    m.fleet = holder.fleet = new FleetState({
      backend,
      failuresPerMinute: 6,
      serverId,
      onStatus: (up) => m.status.push(up),
    });
    members.push(m);
    await m.fleet.start();
    await answering(store);
    return m;
  }

  /** Resolves once `to` hears the IPs `from`'s store blocks (its subscription is live). */
  async function subscribed(from: Member, to: Member): Promise<void> {
    const ip = `192.0.2.${200 + ++n}`;
    await until(async () => {
      await from.store.spend({ ip, cost: 1, burst: 5, perMinute: 6 });
      return !to.fleet.allows(ip);
    }, 'the blocked channel to be subscribed');
  }

  it(
    "failures on server A make server B refuse the IP from its cache, with no call of B's own",
    async () => {
      const prefix = `fleet:${++n}:`;
      const a = await member('A', prefix);
      const b = await member('B', prefix);
      await subscribed(a, b);
      const ip = '198.51.100.77';
      for (let i = 0; i < 4; i++) a.fleet.failed(ip);
      // A round trip on the same connection: the four spends are done on the store.
      await answering(a.store);
      expect(b.fleet.allows(ip)).toBe(true);
      a.fleet.failed(ip);
      await until(() => !b.fleet.allows(ip), 'B to refuse the IP A found out of budget');
      expect(a.fleet.allows(ip)).toBe(false);
      expect(b.fleet.allows('198.51.100.78')).toBe(true);
      expect(b.calls).toBe(0);
      expect(a.calls).toBe(5);
      expect(a.fleet.fallbackCount + b.fleet.fallbackCount).toBe(0);
      // Nothing went wrong: nothing to say.
      expect([a.status, b.status]).toEqual([[], []]);
    },
    TIMEOUT,
  );

  it(
    'the store killed: every call falls back and is counted, "down" is said once; restarted: "back" once, and sharing resumes',
    async () => {
      const prefix = `fleet:${++n}:`;
      const a = await member('A', prefix);
      const b = await member('B', prefix);
      await subscribed(a, b);
      await redis().kill();
      broken = 'killed';
      const verdicts = new Set<string>();
      for (let i = 0; i < 10; i++) {
        verdicts.add((await a.fleet.acquire(`10.2.0.${i}`, 'AA:BB', 2, 2)).verdict);
        a.fleet.failed('10.3.0.1');
      }
      expect([...verdicts]).toEqual(['local']);
      await until(() => a.fleet.fallbackCount >= 20, 'the 10 acquires and 10 spends to fall back');
      // Its own budget still decides.
      expect(a.fleet.allows('10.3.0.1')).toBe(false);
      expect(a.fleet.allows('10.3.0.2')).toBe(true);
      expect(a.status).toEqual([false]);
      expect(a.fleet.up).toBe(false);

      await redis().restart();
      broken = null;
      for (const m of [a, b])
        await until(
          async () => (await m.fleet.acquire('10.4.0.1', undefined, 100, 0)).verdict === 'ok',
          `${m === a ? 'A' : 'B'}'s calls to reach the store again`,
        );
      await subscribed(a, b);
      const ip = '198.51.100.90';
      for (let i = 0; i < 5; i++) a.fleet.failed(ip);
      await until(() => !b.fleet.allows(ip), 'B to refuse an IP A blocked after the restart');
      expect(a.status).toEqual([false, true]);
      expect(b.status).toEqual([false, true]);
      expect(a.fleet.up).toBe(true);
    },
    TIMEOUT,
  );

  it(
    'the store frozen (SIGSTOP): every acquire falls back to local, and the breaker keeps most of them off the store; thawed: back',
    async () => {
      const a = await member('A', `fleet:${++n}:`);
      redis().freeze();
      broken = 'frozen';
      const verdicts = new Set<string>();
      for (let i = 0; i < 20; i++)
        verdicts.add((await a.fleet.acquire(`10.5.0.${i}`, undefined, 2, 0)).verdict);
      expect([...verdicts]).toEqual(['local']);
      expect(a.fleet.fallbackCount).toBe(20);
      // Three calls wait out their deadline and open the breaker; then a probe a second at most.
      expect(a.calls).toBeGreaterThanOrEqual(3);
      expect(a.calls).toBeLessThanOrEqual(5);
      expect(a.status).toEqual([false]);

      redis().thaw();
      broken = null;
      await until(
        async () => (await a.fleet.acquire('10.5.1.1', undefined, 100, 0)).verdict === 'ok',
        'calls to reach the thawed store',
      );
      expect(a.status).toEqual([false, true]);
    },
    TIMEOUT,
  );

  it(
    'the store frozen: once the breaker is open, a burst of concurrent calls lets exactly one probe through',
    async () => {
      const a = await member('A', `fleet:${++n}:`);
      redis().freeze();
      broken = 'frozen';
      for (let i = 0; i < 3; i++) await a.fleet.acquire('10.8.0.1', undefined, 5, 0);
      // Three acquires open the breaker; before the 2nd and 3rd, the lease of the one before
      // (taken by the store, perhaps, once it thaws) is given back.
      expect(a.calls).toBe(5);
      // Bursts of ten at once until one of them reaches the store: it is the only one.
      const reached: number[] = [];
      await until(async () => {
        const before = a.calls;
        const burst = await Promise.all(
          Array.from({ length: 10 }, () => a.fleet.acquire('10.8.0.1', undefined, 5, 0)),
        );
        expect(burst.every((x) => x.verdict === 'local')).toBe(true);
        reached.push(a.calls - before);
        return a.calls > before;
      }, 'the breaker to let a probe through');
      expect(reached.at(-1)).toBe(1);
      // The two give-backs waited out their own (longer) deadline too.
      expect(a.fleet.fallbackCount).toBe(3 + 2 + 10 * reached.length);
      expect(a.status).toEqual([false]);
    },
    TIMEOUT,
  );

  it(
    'an acquire that timed out on a frozen store and runs once it thaws is given back before the next call',
    async () => {
      // The gate neither holds nor releases a lease of a `local` verdict it refuses on its own
      // counts (or whose client left meanwhile); FleetState.release ignores a lease not held.
      // The store still runs the ACQUIRE once it thaws: a phantom session for LEASE_TTL_MS.
      const a = await member('A', `fleet:${++n}:`);
      redis().freeze();
      broken = 'frozen';
      expect((await a.fleet.acquire('10.6.0.1', undefined, 1, 0)).verdict).toBe('local');
      redis().thaw();
      broken = null;
      await answering(a.store);
      const next = await a.fleet.acquire('10.6.0.1', undefined, 1, 0);
      expect(next.verdict).toBe('ok');
    },
    TIMEOUT,
  );

  it(
    'a lease released just before close() is given back: close waits for the RELEASE',
    async () => {
      const prefix = `fleet:${++n}:`;
      const a = await member('A', prefix);
      const b = await member('B', prefix);
      const taken = await a.fleet.acquire('10.7.0.1', undefined, 1, 0);
      expect(taken.verdict).toBe('ok');
      a.fleet.release(taken.lease);
      await a.fleet.close();
      const next = await b.fleet.acquire('10.7.0.1', undefined, 1, 0);
      expect(next.verdict).toBe('ok');
    },
    TIMEOUT,
  );
});

describe.skipIf(!REDIS_SERVER)(`two TlslpServers on one store, on ${withRedis}`, () => {
  const redis = useRedis();
  let certs: CertificateSet;
  beforeAll(async () => {
    certs = await testCerts();
  }, 60_000);
  const { server } = useServers(() => certs, { maxPerIdentity: 1, statePrefix: 'servers:' });

  it(
    "a server that closes gives its sessions' leases back: the other server lets their certificate in at once",
    async () => {
      // A rolling restart: the clients of the server going away reconnect to another one and
      // get FAIL (max-per-identity) for up to LEASE_TTL_MS, as in the FleetState case above.
      const a = await server({ state: redis().url });
      const b = await server({ state: redis().url });
      const held: TLSSocket[] = [];
      try {
        await heldAtWork(a.port, certs, (s) => held.push(s));
        // The fleet's limit holds (once A's lease is on the store).
        await until(
          async () => (await firstLine(b.port, certs)).startsWith('FAIL '),
          "B to count A's session",
        );
        await a.server.close();
        expect(await firstLine(b.port, certs)).toBe('HELLO');
      } finally {
        for (const s of held) s.destroy();
      }
    },
    TIMEOUT,
  );
});
