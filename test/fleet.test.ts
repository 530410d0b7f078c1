/**
 * A fleet on one store: three `tlslp-server` processes with `--state` on a redis-server of
 * the test's own (Debian's package; `.ci/run` installs it). Shown, each by counts and never
 * by speed: one failure budget for the whole fleet, an exact fleet-wide `--max-per-identity`,
 * n_bits rising on a server that gets none of the load, sessions going on while the store is
 * killed or frozen, and sharing again once it is back.
 */
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeCertificateSet, type CertificateSet } from '../src/pki/generate.js';
import { SocketLineChannel } from '../src/transport/channel.js';
import {
  clientTls,
  completeSessions,
  freePort,
  startServer,
  testCerts,
  until,
  useTempDirs,
  workBits,
  type TestServer,
} from './helpers.js';
import { issueClientCert } from './issue-cert.js';
import { NO_REDIS, REDIS_SERVER, startRedis, type TestRedis } from './redis.js';
import {
  jsonLog,
  metric,
  scrape,
  startServerProcess,
  type ServerProcess,
} from './server-process.js';

if (!REDIS_SERVER) console.warn(`test/fleet.test.ts skipped: ${NO_REDIS}`);

const tempDir = useTempDirs('tlslp-fleet-');

/** What the server did with one connection from `localAddress`. */
type Outcome = 'hello' | 'fail' | 'refused';

describe.skipIf(!REDIS_SERVER)('a fleet of three servers on one store', () => {
  let certs: CertificateSet;
  let files: Record<string, string>;
  let dir: string;
  let redis: TestRedis;
  const servers: ServerProcess[] = [];
  const sockets = new Set<net.Socket>();

  async function fleet(names: string[], args: string[]): Promise<ServerProcess[]> {
    const started = await Promise.all(
      names.map((n) => startServerProcess(n, dir, files, args, { TLSLP_STATE_URL: redis.url })),
    );
    servers.push(...started);
    return started;
  }

  beforeAll(async () => {
    certs = await testCerts();
    dir = await tempDir();
    files = (await writeCertificateSet(dir, certs)).paths;
    redis = await startRedis();
  }, 30_000);

  afterAll(async () => {
    for (const s of sockets) s.destroy();
    for (const s of servers) s.child.kill('SIGKILL');
    await Promise.all(servers.map((s) => s.exited));
    await redis?.stop();
  });

  /** A mutual-TLS connection from `localAddress`, up to its first line (kept open). */
  function firstLine(port: number, localAddress: string): Promise<Outcome> {
    return new Promise((resolve) => {
      const tcp = net.connect({ host: '127.0.0.1', port, localAddress });
      sockets.add(tcp);
      tcp.on('error', () => resolve('refused'));
      const socket = tls.connect({ socket: tcp, ...clientTls(certs), servername: 'localhost' });
      socket.on('error', () => resolve('refused'));
      socket.on('close', () => resolve('refused'));
      const ch = new SocketLineChannel(socket);
      ch.readLine(5000).then(
        (line) =>
          resolve(line === 'HELLO' ? 'hello' : line.startsWith('FAIL') ? 'fail' : 'refused'),
        () => resolve('refused'),
      );
    });
  }

  /** A no-certificate TLS handshake from `localAddress` (fails, or is refused before TLS). */
  function noCert(port: number, localAddress: string): Promise<void> {
    return new Promise((resolve) => {
      const tcp = net.connect({ host: '127.0.0.1', port, localAddress });
      tcp.on('error', () => {});
      const socket = tls.connect({ socket: tcp, rejectUnauthorized: false });
      socket.setTimeout(5000, () => socket.destroy());
      socket.on('error', () => {});
      socket.on('close', () => resolve());
    });
  }

  /** Failed handshakes the servers let in, and connections they refused for the budget. */
  async function budgetCounts(
    fleetOf: ServerProcess[],
  ): Promise<{ failed: number; refused: number }> {
    const texts = await Promise.all(fleetOf.map(scrape));
    return {
      failed: texts.reduce((n, t) => n + metric(t, 'tlslp_handshake_failures_total'), 0),
      refused: texts.reduce(
        (n, t) =>
          n + metric(t, 'tlslp_connections_refused_total', { reason: 'handshake-failures' }),
        0,
      ),
    };
  }

  /** One connection per source address, round-robin over `fleetOf`, each held. */
  async function identityRound(fleetOf: ServerProcess[], firstHost: number): Promise<Outcome[]> {
    const outcomes: Outcome[] = [];
    for (let i = 0; i < 9; i++) {
      const server = fleetOf[i % fleetOf.length] as ServerProcess;
      outcomes.push(await firstLine(server.port, `127.0.0.${firstHost + i}`));
    }
    return outcomes;
  }

  /** Two full sessions on each server, each completed (DONE/OK or the drawn FAIL). */
  async function sessionsComplete(fleetOf: ServerProcess[]): Promise<void> {
    const completed = async (): Promise<number> =>
      (await Promise.all(fleetOf.map(scrape))).reduce(
        (n, t) => n + metric(t, 'tlslp_sessions_completed_total'),
        0,
      );
    const before = await completed();
    // completeSessions rejects unless every session completes.
    for (const s of fleetOf) await completeSessions(s.port, certs, 2);
    // /metrics is rendered at most once a second: wait for a render that has them.
    await until(
      async () => (await completed()) - before >= 2 * fleetOf.length,
      "the sessions in the servers' metrics",
    );
  }

  function dropHeld(): void {
    for (const s of sockets) s.destroy();
    sockets.clear();
  }

  async function warnings(s: ServerProcess, pattern: RegExp): Promise<number> {
    return (await jsonLog(s.log)).filter(
      (r) => r.level === 'WARNING' && pattern.test(String(r.msg ?? r.message)),
    ).length;
  }

  describe('limits', () => {
    let fleetOf: ServerProcess[];
    let alone: ServerProcess;

    beforeAll(async () => {
      fleetOf = await fleet(
        ['a', 'b', 'c'],
        ['--n_bits', '4', '--max-per-identity', '3', '--max-per-ip', '2'],
      );
      // The same limits on a server that shares nothing: the reference of the same run.
      [alone] = await Promise.all([
        startServerProcess('alone', dir, files, ['--n_bits', '4', '--max-per-identity', '3']),
      ]);
      servers.push(alone);
      await until(
        async () => metric(await scrape(fleetOf[0] as ServerProcess), 'tlslp_fleet_servers') === 3,
        'all three servers to report to the store',
        10_000,
      );
    }, 30_000);

    it('one failure budget for the fleet: an attacker round-robin gets what one server allows', async () => {
      for (let i = 0; i < 60; i++)
        await noCert((fleetOf[i % 3] as ServerProcess).port, '127.0.0.5');
      for (let i = 0; i < 20; i++) await noCert(alone.port, '127.0.0.5');
      // /metrics is rendered at most once a second: wait for a render with every attempt.
      const counted = async (of: ServerProcess[], n: number) => {
        let c = { failed: 0, refused: 0 };
        await until(async () => {
          c = await budgetCounts(of);
          return c.failed + c.refused === n;
        }, 'every attempt in the metrics');
        return c;
      };
      const shared = await counted(fleetOf, 60);
      const single = await counted([alone], 20);
      // A burst of 5, and what the bucket refills while the attempts run (about 1 a 2 s).
      expect(single.failed).toBeGreaterThanOrEqual(5);
      expect(shared.failed).toBeGreaterThanOrEqual(5);
      expect(shared.failed).toBeLessThanOrEqual(Math.ceil(single.failed * 1.5));
      expect(shared.failed + shared.refused).toBe(60);
    });

    it('--max-per-identity is exact across the fleet: 3 sessions, then FAIL on every server', async () => {
      const outcomes = await identityRound(fleetOf, 10);
      try {
        expect(outcomes.filter((o) => o === 'hello')).toHaveLength(3);
        expect(outcomes.filter((o) => o === 'fail')).toHaveLength(6);
      } finally {
        dropHeld();
      }
    });

    it('--max-per-ip is exact across the fleet: 2 sessions from one address, then refusals', async () => {
      const outcomes: Outcome[] = [];
      for (let i = 0; i < 6; i++)
        outcomes.push(await firstLine((fleetOf[i % 3] as ServerProcess).port, '127.0.0.50'));
      try {
        expect(outcomes.slice(0, 2)).toEqual(['hello', 'hello']);
        expect(outcomes.slice(2)).toEqual(['refused', 'refused', 'refused', 'refused']);
      } finally {
        dropHeld();
      }
    });

    it('the store killed: sessions go on, on local limits, with one WARNING per server', async () => {
      await redis.kill();
      await until(
        async () =>
          (await Promise.all(fleetOf.map((s) => warnings(s, /not answering/)))).every(
            (n) => n === 1,
          ),
        'each server to say the store is gone',
        10_000,
      );
      await sessionsComplete(fleetOf);
      await until(
        async () => metric(await scrape(fleetOf[0] as ServerProcess), 'tlslp_state_up') === 0,
        'tlslp_state_up 0',
      );
      const health = await fetch(
        `http://127.0.0.1:${(fleetOf[0] as ServerProcess).metricsPort}/healthz`,
      );
      expect(health.status).toBe(200);
      expect(await health.text()).toMatch(/degraded: state store redis:\/\/127\.0\.0\.1:\d+ down/);
      const ready = await fetch(
        `http://127.0.0.1:${(fleetOf[0] as ServerProcess).metricsPort}/readyz`,
      );
      expect(ready.status).toBe(200);
      // Still one WARNING each, however long the outage and however many sessions.
      expect(await Promise.all(fleetOf.map((s) => warnings(s, /not answering/)))).toEqual([
        1, 1, 1,
      ]);
    });

    it('the store back: one WARNING each, and the limits are shared again', async () => {
      await redis.restart();
      await until(
        async () =>
          (await Promise.all(fleetOf.map((s) => warnings(s, /is back: limits are shared/)))).every(
            (n) => n === 1,
          ),
        'each server to say the store is back',
        15_000,
      );
      const outcomes = await identityRound(fleetOf, 30);
      try {
        const texts = await Promise.all(fleetOf.map(scrape));
        expect(
          outcomes.filter((o) => o === 'hello'),
          texts
            .map((t) =>
              t
                .split('\n')
                .filter((l) => l.startsWith('tlslp_state'))
                .join(' '),
            )
            .join(' | '),
        ).toHaveLength(3);
        expect(outcomes.filter((o) => o === 'fail')).toHaveLength(6);
      } finally {
        dropHeld();
      }
      await until(
        async () => metric(await scrape(fleetOf[1] as ServerProcess), 'tlslp_state_up') === 1,
        'tlslp_state_up 1',
      );
    });

    it('the store frozen (SIGSTOP): sessions go on, the breaker keeps them from waiting on it', async () => {
      const fallbacks = async (): Promise<number> =>
        (await Promise.all(fleetOf.map(scrape))).reduce(
          (n, t) => n + metric(t, 'tlslp_state_fallbacks_total'),
          0,
        );
      const before = await fallbacks();
      redis.freeze();
      try {
        await sessionsComplete(fleetOf);
        // Each session asked the store and, getting no answer in time, decided locally.
        await until(
          async () => (await fallbacks()) - before >= 2 * fleetOf.length,
          'the local decisions in the metrics',
        );
      } finally {
        redis.thaw();
      }
    });
  });

  it('a server that stops gives its leases back at once: its client is let in elsewhere', async () => {
    // The bin that gets SIGTERM is a process; the other member only has to share the store
    // (a library server on the same prefix: one process fewer to start).
    const [a] = await fleet(
      ['stop-a'],
      [
        '--n_bits',
        '4',
        '--max-per-identity',
        '1',
        '--shutdown-grace',
        '0.2',
        '--state-prefix',
        'stop:',
      ],
    );
    const b = await startServer(certs, {
      nBits: 4,
      maxPerIdentity: 1,
      state: redis.url,
      statePrefix: 'stop:',
    });
    try {
      expect(await firstLine((a as ServerProcess).port, '127.0.2.1')).toBe('hello');
      expect(await firstLine(b.port, '127.0.2.2')).toBe('fail');
      (a as ServerProcess).child.kill('SIGTERM');
      await (a as ServerProcess).exited;
      // Well inside the 6 s a lease takes to lapse.
      expect(await firstLine(b.port, '127.0.2.3')).toBe('hello');
    } finally {
      dropHeld();
      await b.server.close();
    }
  });

  describe('a TLS store with a password (rediss://, --state-ca)', () => {
    it('shares through it, and the password shows nowhere', async () => {
      const password = 'pw-Jane-Doe-7f3a';
      const port = await freePort();
      // TLS only, with the test's own server certificate.
      const secure = await startRedis(
        [
          '--port',
          '0',
          '--tls-port',
          String(port),
          '--tls-cert-file',
          files.serverCert as string,
          '--tls-key-file',
          files.serverKey as string,
          '--tls-ca-cert-file',
          files.caCert as string,
          '--tls-auth-clients',
          'no',
          '--requirepass',
          password,
        ],
        port,
      );
      try {
        const url = `rediss://:${password}@localhost:${secure.port}`;
        const s = await startServerProcess(
          'tls-store',
          dir,
          files,
          [
            '--n_bits',
            '4',
            '--max-per-identity',
            '1',
            '--state-prefix',
            'tls:',
            '--state-ca',
            files.caCert as string,
          ],
          { TLSLP_STATE_URL: url },
        );
        servers.push(s);
        await until(
          async () => metric(await scrape(s), 'tlslp_fleet_servers') === 1,
          'the server to report through the TLS store',
          10_000,
        );
        expect(metric(await scrape(s), 'tlslp_state_up')).toBe(1);
        const records = await jsonLog(s.log);
        const all = JSON.stringify(records);
        expect(all).not.toContain(password);
        expect(all).toContain(`limits shared through rediss://:***@localhost:${secure.port}`);
      } finally {
        await secure.stop();
      }
    });
  });

  it("per-identity difficulty is the fleet's: an identity busy on two servers is asked more on the third", async () => {
    // Library servers this time (the tuning is the library's): targets small enough that
    // 8 sessions of one certificate are twice its share, and one address weighs 1, so the
    // global n_bits stays at its lowest.
    const tuning = {
      minBits: 4,
      maxBits: 12,
      identityInFlight: 2,
      targetInFlight: 4,
      perIpWeight: 1,
      targetArrivalsPerSecond: 1000,
    };
    const options = {
      nBits: 'auto' as const,
      minBits: 4,
      maxBits: 12,
      adaptive: tuning,
      adaptiveIntervalMs: 100,
      state: redis.url,
      statePrefix: 'ids:',
      // The probes below end before WORK: not failures to count here.
      maxHandshakeFailuresPerIp: 0,
    };
    const [a, b, c] = await Promise.all([0, 1, 2].map(() => startServer(certs, options)));
    const issued = await issueClientCert(certs, { commonName: 'jane-doe' });
    const calm: CertificateSet = { ...certs, clientCert: issued.cert, clientKey: issued.key };
    const held = new Set<tls.TLSSocket>();
    try {
      // Held at WORK, four on A and four on B (their own n_bits may rise as they come).
      await Promise.all(
        [a, b, a, b, a, b, a, b].map((s) => workBits((s as TestServer).port, certs, held)),
      );
      // Each probe ends at once, so C itself never has more than one of its sessions.
      const probe = async (): Promise<number> => {
        const one = new Set<tls.TLSSocket>();
        try {
          return await workBits((c as TestServer).port, certs, one);
        } finally {
          for (const s of one) s.destroy();
        }
      };
      await until(
        async () => (await probe()) > 4,
        "the busy identity's n_bits to rise on the idle server",
      );
      // Another certificate on the same server: the global n_bits.
      expect(await workBits((c as TestServer).port, calm, held)).toBe(4);
      expect((c as TestServer).server.stats.nBits).toBe(4);
    } finally {
      for (const s of held) s.destroy();
      await Promise.all([a, b, c].map((s) => (s as TestServer).server.close()));
    }
  });

  describe('adaptive difficulty', () => {
    it('n_bits rises on a server that gets none of the load; not on one outside the fleet', async () => {
      const auto = [
        '--n_bits',
        'auto',
        '--min-bits',
        '4',
        '--max-bits',
        '12',
        '--max-handshake-failures-per-ip',
        '0',
        '--state-prefix',
        'auto:',
      ];
      const [a, b, idle] = await fleet(['auto-a', 'auto-b', 'auto-idle'], auto);
      const outside = await startServerProcess('auto-outside', dir, files, auto.slice(0, -2));
      servers.push(outside);
      // 80 sessions in flight from 40 addresses (each address counts at most 4): load 1.25.
      const held: Array<Promise<Outcome>> = [];
      for (let i = 0; i < 40; i++) {
        const host = `127.0.1.${i + 1}`;
        const target = (i % 2 === 0 ? a : b) as ServerProcess;
        held.push(firstLine(target.port, host), firstLine(target.port, host));
      }
      try {
        expect((await Promise.all(held)).every((o) => o === 'hello')).toBe(true);
        await until(
          async () => metric(await scrape(idle as ServerProcess), 'tlslp_n_bits') > 4,
          'the idle server to raise n_bits',
          10_000,
        );
        expect(metric(await scrape(outside), 'tlslp_n_bits')).toBe(4);
      } finally {
        dropHeld();
      }
    }, 20_000);
  });
});
