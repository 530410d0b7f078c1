/**
 * Identity: allow-lists by CN, OU, DNS and URI SAN (refused before HELLO, counted, logged,
 * spending the IP's failure budget), the client's identity in reports, events and log lines,
 * and the per-identity session limit. Real mutual TLS on loopback with certificates issued
 * here.
 */
import { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CertificateSet } from '../src/pki/generate.js';
import { runClient } from '../src/client/client.js';
import { ConfigError, TransportError } from '../src/errors/index.js';
import { createLogger } from '../src/logging/index.js';
import {
  SERVER_CHANNELS,
  subscribeServer,
  type IdentityDifficultyEvent,
  type SessionRefusedEvent,
} from '../src/server/events.js';
import { IdentityDifficulty } from '../src/server/identity-load.js';
import {
  AllowList,
  certNames,
  parseSubjectAltNames,
  type ClientIdentity,
} from '../src/server/identity.js';
import { ServerMetrics } from '../src/server/metrics.js';
import { TlslpServer } from '../src/server/server.js';
import { FAIL_REASONS } from '../src/server/session.js';
import {
  capture,
  heldAtWork,
  memoryLogger,
  rawClient,
  scriptedServer,
  testCerts,
  until,
  useServers,
  within,
  workBits,
} from './helpers.js';
import { issueClientCert, type IssueOptions } from './issue-cert.js';

let certs: CertificateSet;
const { server } = useServers(() => certs, { simulateFailures: false, bodyRequests: 2 });

beforeAll(async () => {
  certs = await testCerts();
}, 60_000);

/** A set whose client certificate is a fresh one from the set's CA with `opts`. */
async function withClient(opts: IssueOptions): Promise<CertificateSet> {
  const { cert, key } = await issueClientCert(certs, opts);
  return { ...certs, clientCert: cert, clientKey: key };
}

/** A server logger writing to a captured stream (JSON unless `text`), and its lines. */
function capturedLog(format: 'json' | 'text', level: 'INFO' | 'DEBUG' = 'INFO') {
  const out = capture();
  const logger = createLogger({
    name: 'tlslp.server',
    file: null,
    format,
    level,
    stderr: out.stream,
    stderrLevel: level,
  });
  const records = (): Array<Record<string, unknown>> =>
    out
      .text()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { logger, text: out.text, records };
}

/** The first 16 hex digits of a certificate's SHA-256 fingerprint, as records carry it. */
function fp16(pem: string): string {
  return new X509Certificate(pem).fingerprint256.replaceAll(':', '').toLowerCase().slice(0, 16);
}

/** Run one session with `set`'s client certificate; resolves with its outcome. */
async function session(port: number, set: CertificateSet): Promise<'done' | Error> {
  try {
    await runClient({
      host: '127.0.0.1',
      ports: [port],
      tls: { ca: set.caCert, cert: set.clientCert, key: set.clientKey },
      solverOptions: { threads: 1 },
    });
    return 'done';
  } catch (err) {
    return err as Error;
  }
}

/** Connect with `set` and read the first line the server sends, then wait for its close. */
async function firstLine(port: number, set: CertificateSet): Promise<string> {
  const { ch, socket } = await rawClient(port, set);
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const line = await ch.readLine(5000);
  socket.end();
  await within(closed, 5000, 'the refused connection to close');
  return line;
}

describe('parsing the names of a certificate', () => {
  it("reads DNS and URI names from Node's subjectaltname, quoted entries included", () => {
    expect(
      parseSubjectAltNames(
        'DNS:api.example.test, URI:"http://x.test/a\\u002cb", URI:spiffe://example.test/api, IP Address:127.0.0.1, DNS:"bad"x, URI:"\\u0000"',
      ),
    ).toEqual({
      dns: ['api.example.test'],
      uri: ['http://x.test/a,b', 'spiffe://example.test/api', '\u0000'],
    });
    expect(parseSubjectAltNames(undefined)).toEqual({ dns: [], uri: [] });
  });

  it('an allow-list matches a CN exactly, any OU, a DNS name in any case, a URI exactly', () => {
    const names = {
      cn: ['api'],
      ou: ['ops', 'dev'],
      dns: ['API.Example.test'],
      uri: ['spiffe://t/a'],
    };
    expect(new AllowList({}).allows(names)).toBe(true);
    expect(new AllowList({ allowCn: [] }).active).toBe(false);
    expect(new AllowList({ allowCn: ['api'] }).allows(names)).toBe(true);
    expect(new AllowList({ allowCn: ['API'] }).allows(names)).toBe(false);
    expect(new AllowList({ allowOu: ['dev'] }).allows(names)).toBe(true);
    expect(new AllowList({ allowDns: ['api.example.test.'] }).allows(names)).toBe(true);
    expect(new AllowList({ allowUri: ['spiffe://t/A'] }).allows(names)).toBe(false);
    expect(new AllowList({ allowUri: ['spiffe://t/a'] }).allows(names)).toBe(true);
    // Two CNs say two things: no CN entry vouches for such a subject.
    expect(new AllowList({ allowCn: ['api'] }).allows({ ...names, cn: ['api', 'admin'] })).toBe(
      false,
    );
  });

  it("reads CN, OU, DNS and URI names as Node's TLS socket gives them", async () => {
    const set = await withClient({
      commonName: 'api',
      organizationalUnits: ['ops', 'dev, qa', 'a\nCN=admin'],
      dnsNames: ['api.example.test', 'b.example.test'],
      uris: ['spiffe://example.test/api', 'http://x.test/a,b'],
    });
    let names: unknown;
    const got = new Promise<void>((resolve) => {
      void scriptedServer(certs, (socket) => {
        names = certNames(socket.getPeerCertificate(false));
        socket.destroy();
        resolve();
      }).then((srv) => {
        scripted = srv;
        void rawClient(srv.port, set).then(
          ({ socket }) => socket.on('error', () => {}),
          () => {},
        );
      });
    });
    let scripted: { close(): void } | undefined;
    await within(got, 5000, 'the scripted server to see the certificate');
    scripted?.close();
    expect(names).toEqual({
      cn: ['api'],
      ou: ['ops', 'dev, qa', 'a\nCN=admin'],
      dns: ['api.example.test', 'b.example.test'],
      uri: ['spiffe://example.test/api', 'http://x.test/a,b'],
    });
  });
});

describe('allow-lists', () => {
  const cases: Array<{
    what: string;
    options: Record<string, string[]>;
    allowed: IssueOptions;
    refused: IssueOptions;
  }> = [
    {
      what: 'CN',
      options: { allowCn: ['api-client'] },
      allowed: { commonName: 'api-client' },
      refused: { commonName: 'other-client' },
    },
    {
      what: 'OU',
      options: { allowOu: ['ops'] },
      allowed: { commonName: 'a', organizationalUnits: ['dev', 'ops'] },
      refused: { commonName: 'b', organizationalUnits: ['dev'] },
    },
    {
      what: 'DNS SAN',
      options: { allowDns: ['api.example.test'] },
      allowed: { commonName: 'c', dnsNames: ['API.example.test'] },
      refused: { commonName: 'd', dnsNames: ['other.example.test'] },
    },
    {
      what: 'URI SAN',
      options: { allowUri: ['spiffe://example.test/api'] },
      allowed: { commonName: 'e', uris: ['spiffe://example.test/api'] },
      refused: { commonName: 'f', uris: ['spiffe://example.test/api/admin'] },
    },
  ];

  for (const c of cases)
    it(`by ${c.what}: the listed certificate has its session; another gets FAIL Not authorized. before HELLO`, async () => {
      const metrics = new ServerMetrics();
      const s = await server({ ...c.options, metrics });
      const refusals: SessionRefusedEvent[] = [];
      const stop = subscribeServer(s.server, { sessionRefused: (e) => refusals.push(e) });
      try {
        const good = await withClient(c.allowed);
        expect(await session(s.port, good)).toBe('done');
        const report = await s.nextReport();
        expect(report.result.outcome).toBe('done');
        expect(report.identity?.fp).toBe(fp16(good.clientCert));

        const bad = await withClient(c.refused);
        expect(await firstLine(s.port, bad)).toBe(`FAIL ${FAIL_REASONS.notAuthorized}`);
        const err = await session(s.port, bad);
        expect(err).toBeInstanceOf(TransportError);
        expect(err).toMatchObject({ code: 'TLSLP_ERR_NOT_AUTHORIZED' });
        expect((err as Error).message).toContain(`(fp ${fp16(bad.clientCert)})`);
        expect((err as Error).message).toContain('FAIL Not authorized.');
        await until(() => refusals.length === 2, 'two refusals');
        expect(refusals[0]).toMatchObject({
          code: 'TLSLP_ERR_NOT_AUTHORIZED',
          identity: { cn: c.refused.commonName, fp: fp16(bad.clientCert) },
        });
        // A refused client never became a session: one report, and it counts as failed.
        expect(s.reports).toHaveLength(1);
        expect(s.server.stats.failedByReason).toEqual({ not_authorized: 2 });
        expect(s.server.stats.sessionsStarted).toBe(3);
        expect(s.server.stats.sessionsRejected).toBe(2);
        const text = await metrics.registry.metrics();
        expect(text).toContain('tlslp_sessions_failed_total{reason="not_authorized"} 2');
        expect(text).toContain('tlslp_sessions_started_total 3');
      } finally {
        stop();
      }
    });

  it('a refusal costs no WORK and spends the IP budget like a failed handshake', async () => {
    // One failure a minute, a burst of 1: after one refusal the IP is refused before TLS.
    const s = await server({ allowCn: ['api-client'], maxHandshakeFailuresPerIp: 1 });
    const bad = await withClient({ commonName: 'other-client' });
    expect(await firstLine(s.port, bad)).toBe('FAIL Not authorized.');
    await expect(rawClient(s.port, bad)).rejects.toThrow();
    await until(() => s.server.stats.refusedByReason['handshake-failures'] === 1, 'the IP refused');
    expect(s.server.stats.failedByReason).toEqual({ not_authorized: 1 });
  });

  it('the refusal is a WARNING with the identity, rate-limited like the strangers’ warnings', async () => {
    const bad = await withClient({ commonName: 'other client', organizationalUnits: ['dev'] });
    // The limiter counts per clock second (performance.now()): three refusals that straddle a
    // second's end get a burst in each. Such a run is done again, at the start of a second.
    let lines: Array<Record<string, unknown>> = [];
    for (let attempt = 0; attempt < 5; attempt++) {
      await until(() => performance.now() % 1000 < 100, 'the start of a second');
      const second = Math.floor(performance.now() / 1000);
      const { logger, records } = capturedLog('json');
      const s = await server({
        allowCn: ['api-client'],
        logger,
        warningLimit: { burst: 1, intervalMs: 60_000 },
      });
      for (let i = 0; i < 3; i++) await firstLine(s.port, bad);
      await until(() => s.server.stats.failedByReason.not_authorized === 3, 'three refusals');
      const oneSecond = Math.floor(performance.now() / 1000) === second;
      await s.server.close();
      await logger.close();
      lines = records();
      if (oneSecond) break;
    }
    const refused = lines.filter((l) => l.event === 'session-refused');
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({
      level: 'WARNING',
      cn: 'other client',
      fp: fp16(bad.clientCert),
      reason: 'not_authorized',
    });
    expect(refused[0]?.msg).toContain('on none of the allow-lists (OU="dev")');
    const suppressed = lines.find((l) => l.event === 'suppressed');
    expect(suppressed).toMatchObject({ kind: 'session: not_authorized', count: 2 });
  });

  it('allow-lists need client certificates: with insecure they are a ConfigError naming the option', () => {
    expect(
      () =>
        new TlslpServer({
          host: '127.0.0.1',
          insecure: true,
          allowOu: ['ops'],
          tls: { cert: certs.serverCert, key: certs.serverKey },
        }),
    ).toThrow(
      expect.objectContaining({
        code: 'TLSLP_ERR_IDENTITY_INSECURE',
        option: 'allowOu',
      }) as ConfigError,
    );
    expect(
      () =>
        new TlslpServer({
          allowUri: ['not a uri'],
          tls: { cert: certs.serverCert, key: certs.serverKey, ca: certs.caCert },
        }),
    ).toThrow(
      expect.objectContaining({ code: 'TLSLP_ERR_BAD_OPTION', option: 'allowUri' }) as ConfigError,
    );
  });
});

describe('identity in the records', () => {
  it('the report, the events and every JSON log line of a session carry cn and fp', async () => {
    const { logger, records } = capturedLog('json', 'DEBUG');
    const s = await server({ logger });
    const seen: unknown[] = [];
    const stop = subscribeServer(s.server, {
      sessionStarted: (e) => seen.push(e.identity),
      sessionEnded: (e) => seen.push(e.identity),
    });
    const set = await withClient({ commonName: 'api-client' });
    expect(await session(s.port, set)).toBe('done');
    const report = await s.nextReport();
    stop();
    await s.server.close();
    await logger.close();
    const identity = { cn: 'api-client', fp: fp16(set.clientCert) };
    expect(report.identity).toEqual(identity);
    expect(seen).toEqual([identity, identity]);
    const lines = records().filter((l) => l.session !== undefined);
    expect(lines.length).toBeGreaterThan(5);
    for (const line of lines) expect(line).toMatchObject(identity);
    expect(lines.map((l) => l.event)).toEqual(expect.arrayContaining(['connected', 'session-end']));
  });

  it('text lines end in cn= and fp=; a CN with control characters is escaped', async () => {
    const { logger, text } = capturedLog('text');
    const s = await server({ logger });
    const set = await withClient({ commonName: 'evil\u001b[2J\u202ename' });
    expect(await session(s.port, set)).toBe('done');
    const report = await s.nextReport();
    await s.server.close();
    await logger.close();
    expect(report.identity?.cn).toBe('evil\\x1b[2J\\u202ename');
    const connected = text()
      .split('\n')
      .find((l) => l.includes('Client connected'));
    expect(connected).toMatch(
      /Client connected \(TLSv1\.3\) cn="evil\\\\x1b\[2J\\\\u202ename" fp=[0-9a-f]{16}$/,
    );
    expect(text()).not.toContain('\u001b');
  });

  it('in insecure mode there is no identity', async () => {
    const s = await server({ insecure: true });
    const result = await runClient({
      host: '127.0.0.1',
      ports: [s.port],
      tls: {},
      insecure: true,
      solverOptions: { threads: 1 },
    }).then(
      () => 'done',
      (e: Error) => e.name,
    );
    expect(result).toBe('done');
    expect((await s.nextReport()).identity).toBeUndefined();
  });
});

describe('the start-up line', () => {
  it('says who may come in: the allow-lists and the per-identity limit; nothing when none is set', async () => {
    const withPolicy = memoryLogger();
    await server({
      allowOu: ['ops', 'web'],
      allowCn: ['jane'],
      maxPerIdentity: 2,
      logger: withPolicy,
    });
    const line = withPolicy.lines.find((l) => l.msg.startsWith('Listening on'))?.msg ?? '';
    expect(line).toMatch(
      /\(mutual TLS, n_bits 8\); identities: admits CN jane; OU ops, web, max-per-identity 2$/,
    );
    const plain = memoryLogger();
    await server({ logger: plain });
    expect(plain.lines.find((l) => l.msg.startsWith('Listening on'))?.msg).toMatch(
      /\(mutual TLS, n_bits 8\)$/,
    );
  });
});

describe('--max-per-identity', () => {
  it('past the limit the same certificate gets FAIL before HELLO; another certificate is served', async () => {
    const metrics = new ServerMetrics();
    const s = await server({ maxPerIdentity: 1, metrics });
    const a = await withClient({ commonName: 'busy-client' });
    const b = await withClient({ commonName: 'calm-client' });
    const held = new Set<TLSSocket>();
    try {
      await heldAtWork(s.port, a, (socket) => held.add(socket));
      expect(await firstLine(s.port, a)).toBe(`FAIL ${FAIL_REASONS.maxPerIdentity}`);
      expect(await session(s.port, b)).toBe('done');
      expect(s.server.stats.failedByReason).toEqual({ max_per_identity: 1 });
      expect(await metrics.registry.metrics()).toContain(
        'tlslp_sessions_failed_total{reason="max_per_identity"} 1',
      );
    } finally {
      for (const socket of held) socket.destroy();
    }
    // Once its session is over, the certificate may have another.
    await until(() => s.server.inFlight === 0, 'the held session to end');
    expect(await session(s.port, a)).toBe('done');
  });
});

// The channel names are public API.
it('the refusal has its own channel', () => {
  expect(SERVER_CHANNELS.sessionRefused).toBe('tlslp:server:session-refused');
});

describe('identity-aware difficulty (--n_bits auto)', () => {
  it("a flooding identity's n_bits rise; the other identity keeps the base", async () => {
    const metrics = new ServerMetrics();
    const { logger, records } = capturedLog('json');
    const tuning = { minBits: 4, maxBits: 12, identityInFlight: 2, targetInFlight: 8 };
    const s = await server({
      nBits: 'auto',
      minBits: 4,
      maxBits: 12,
      adaptive: tuning,
      adaptiveIntervalMs: 50,
      metrics,
      logger,
    });
    const flooder = await withClient({ commonName: 'flood-client' });
    const calm = await withClient({ commonName: 'calm-client' });
    const floodFp = fp16(flooder.clientCert);
    const calmFp = fp16(calm.clientCert);
    const ticks: IdentityDifficultyEvent[] = [];
    const stop = subscribeServer(s.server, { identityDifficulty: (e) => ticks.push(e) });
    const held = new Set<TLSSocket>();
    try {
      // The calm identity's first session, and the flood: 12 sessions at once, held at WORK.
      expect(await workBits(s.port, calm, held)).toBe(4);
      await Promise.all(Array.from({ length: 12 }, () => workBits(s.port, flooder, held)));
      await until(
        () =>
          ticks
            .at(-1)
            ?.top.some((t) => t.identity.fp === floodFp && t.inFlight === 12 && t.extraBits > 0) ===
          true,
        "the flooder's own n_bits to rise",
      );
      const last = ticks.at(-1) as IdentityDifficultyEvent;
      expect(last.base).toBe(4);
      const flood = last.top.find((t) => t.identity.fp === floodFp);
      expect(flood).toMatchObject({ identity: { cn: 'flood-client' }, inFlight: 12 });
      // Its next session is asked more; the calm identity's next one the base.
      const floodBits = await workBits(s.port, flooder, held);
      expect(floodBits).toBeGreaterThan(4);
      expect(floodBits).toBeLessThanOrEqual(12);
      expect(await workBits(s.port, calm, held)).toBe(4);
      expect(s.server.stats.nBits).toBe(4);
      const calmTop = ticks.at(-1)?.top.find((t) => t.identity.fp === calmFp);
      expect(calmTop?.extraBits ?? 0).toBe(0);
      // The gauge has the busiest identities, by <cn>:<fp8>.
      const text = await metrics.registry.metrics();
      expect(text).toMatch(
        new RegExp(
          `tlslp_identity_n_bits\\{identity="flood-client:${floodFp.slice(0, 8)}"\\} ([5-9]|1[0-2])\\n`,
        ),
      );
      expect(text).toContain(
        `tlslp_identity_n_bits{identity="calm-client:${calmFp.slice(0, 8)}"} 4`,
      );
    } finally {
      stop();
      for (const socket of held) socket.destroy();
    }
    await until(() => s.server.inFlight === 0, 'the held sessions to end');
    await s.server.close();
    await logger.close();
    const raised = records().filter((r) => r.event === 'identity-n-bits');
    expect(raised.length).toBeGreaterThan(0);
    expect(raised[0]).toMatchObject({ level: 'INFO', cn: 'flood-client', fp: floodFp });
    expect(raised[0]?.msg).toMatch(
      /^Identity n_bits raised: flood-client:[0-9a-f]{8} n_bits 4 -> \d+/,
    );
    expect(raised.some((r) => r.fp === calmFp)).toBe(false);
  });

  it('the tracker is bounded, reports at most 10, and forgets an identity once it is calm', () => {
    const t = new IdentityDifficulty({ maxBits: 20, maxIdentities: 100, topIdentities: 50 });
    const id = (i: number): ClientIdentity => ({
      cn: `c${i}`,
      fp: i.toString(16).padStart(16, '0'),
    });
    for (let i = 0; i < 1000; i++) t.started(id(i));
    expect(t.size).toBe(100);
    const tick = t.tick(1, 10);
    expect(tick.top.length).toBeLessThanOrEqual(10);
    for (let i = 0; i < 1000; i++) t.ended(id(i));
    for (let i = 0; i < 40; i++) t.tick(1, 10);
    expect(t.size).toBe(0);
    expect(t.nBitsFor(id(1), 10)).toBe(10);
  });

  it('a burst of new sessions raises the bursting identity only, within maxBits', () => {
    const t = new IdentityDifficulty({ maxBits: 12, identityArrivalsPerSecond: 1 });
    const busy = { cn: 'busy', fp: 'a'.repeat(16) };
    const quiet = { cn: 'quiet', fp: 'b'.repeat(16) };
    t.started(quiet);
    for (let i = 0; i < 500; i++) {
      t.started(busy);
      t.ended(busy);
    }
    const tick = t.tick(1, 10);
    expect(t.nBitsFor(busy, 10)).toBe(12);
    expect(t.nBitsFor(quiet, 10)).toBe(10);
    expect(tick.changes.map((c) => c.identity.cn)).toEqual(['busy']);
  });
});
