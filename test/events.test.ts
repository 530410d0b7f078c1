/**
 * The server's lifecycle events on node:diagnostics_channel, over real TLS on loopback: what a
 * subscriber sees for good sessions, refusals, failed handshakes and difficulty changes, that
 * they carry the server they came from, and that the server's own counters (fields of the
 * objects that change them, not subscribers) agree with them.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CertificateSet } from '../src/pki/generate.js';
import { SERVER_CHANNELS, subscribeServer, type ServerEvents } from '../src/server/events.js';
import net from 'node:net';
import tls from 'node:tls';
import {
  completeSessions,
  rawClient,
  startServer,
  tcpConnect,
  testCerts,
  until,
  type TestServer,
} from './helpers.js';

let certs: CertificateSet;
const servers: TestServer[] = [];
const stops: Array<() => void> = [];
const sockets = new Set<net.Socket>();

beforeAll(async () => {
  certs = await testCerts();
});

afterEach(async () => {
  for (const stop of stops.splice(0)) stop();
  for (const socket of sockets) socket.destroy();
  sockets.clear();
  await Promise.all(servers.splice(0).map((s) => s.server.close()));
});

type Recorded = {
  [K in keyof ServerEvents]: { event: K; message: ServerEvents[K] };
}[keyof ServerEvents];

/** Record every event of every server, straight from the channels (as a user would). */
function recordAll(): Recorded[] {
  const seen: Recorded[] = [];
  for (const [event, name] of Object.entries(SERVER_CHANNELS)) {
    const listener = (message: unknown): void => {
      seen.push({ event, message } as Recorded);
    };
    diagnosticsChannel.subscribe(name, listener);
    stops.push(() => diagnosticsChannel.unsubscribe(name, listener));
  }
  return seen;
}

async function start(options: Parameters<typeof startServer>[1] = {}): Promise<TestServer> {
  const s = await startServer(certs, { simulateFailures: false, ...options });
  servers.push(s);
  return s;
}

function of<K extends keyof ServerEvents>(
  seen: Recorded[],
  server: object,
  event: K,
): ServerEvents[K][] {
  return seen
    .filter((r) => r.event === event && r.message.server === server)
    .map((r) => r.message as ServerEvents[K]);
}

describe('server events', () => {
  it('a good session: accepted, handshakes counted up and down, started, work accepted, ended', async () => {
    const seen = recordAll();
    const s = await start();
    expect(await completeSessions(s.port, certs, 2)).toBe(2);
    await s.sessionsEnded(2);
    const server = s.server;
    const accepted = of(seen, server, 'connectionAccepted');
    expect(accepted).toHaveLength(2);
    expect(accepted[0]?.ip).toBe('127.0.0.1');
    expect(accepted[0]?.peer).toMatch(/^127\.0\.0\.1:\d+$/);
    const inProgress = of(seen, server, 'handshakes').map((m) => m.inProgress);
    expect(Math.max(...inProgress)).toBeGreaterThanOrEqual(1);
    expect(inProgress.at(-1)).toBe(0);
    const started = of(seen, server, 'sessionStarted');
    expect(started.map((m) => m.id).sort()).toEqual([1, 2]);
    expect(started[0]?.nBits).toBe(8);
    expect(started[0]?.protocol).toMatch(/^TLSv1\.[23]$/);
    const work = of(seen, server, 'workAccepted');
    expect(work.map((m) => m.id).sort()).toEqual([1, 2]);
    const ended = of(seen, server, 'sessionEnded');
    expect(ended.map((m) => m.result.outcome)).toEqual(['done', 'done']);
    for (const e of ended) {
      expect(e.workMs).toBeGreaterThanOrEqual(0);
      expect(e.durationMs).toBeGreaterThanOrEqual(e.workMs ?? 0);
    }
    // Order within one session: started before its work, its work before its end.
    const order = seen
      .filter((r) => r.message.server === server)
      .filter((r) => 'id' in r.message && r.message.id === 1)
      .map((r) => r.event);
    expect(order).toEqual(['sessionStarted', 'workAccepted', 'sessionEnded']);
    expect(of(seen, server, 'handshakeFailed')).toEqual([]);
    expect(of(seen, server, 'connectionRefused')).toEqual([]);
    // The server's own counters agree with the events.
    expect(server.stats).toMatchObject({
      connections: 2,
      sessionsStarted: 2,
      sessionsDone: 2,
      inFlight: 0,
      handshaking: 0,
      handshakeFailures: 0,
    });
  });

  it('a refused connection and a failed handshake carry their reasons', async () => {
    const seen = recordAll();
    const s = await start({ maxHandshakesPerIp: 1 });
    // One silent socket takes the only handshake slot of 127.0.0.1: the next is refused.
    const silent = await tcpConnect(s.port, sockets);
    await until(() => s.server.stats.handshaking === 1, 'the silent handshake', 5000);
    const refused = await tcpConnect(s.port, sockets, { resetIsRefusal: true });
    await until(() => of(seen, s.server, 'connectionRefused').length === 1, 'the refusal', 5000);
    expect(of(seen, s.server, 'connectionRefused')[0]).toMatchObject({
      ip: '127.0.0.1',
      reason: 'max-handshakes-per-ip',
    });
    silent.destroy();
    refused.destroy();
    await until(() => s.server.stats.handshaking === 0, 'the slot to free up', 5000);
    // A client without a certificate fails its handshake, with that reason.
    const bare = tls.connect({
      host: '127.0.0.1',
      port: s.port,
      servername: 'localhost',
      ca: certs.caCert,
    });
    bare.on('error', () => {});
    bare.on('secureConnect', () => bare.write('HELLOBACK\n'));
    await until(
      () => of(seen, s.server, 'handshakeFailed').some((m) => m.reason === 'no_client_cert'),
      'the failed handshake',
      5000,
    );
    const failed = of(seen, s.server, 'handshakeFailed').find((m) => m.reason === 'no_client_cert');
    expect(failed?.text).toMatch(/no certificate/);
    expect(failed?.bytes).toBeGreaterThan(0);
    bare.destroy();
    expect(s.server.stats.refusedByReason['max-handshakes-per-ip']).toBe(1);
    expect(s.server.stats.handshakeFailuresByReason['no_client_cert']).toBe(1);
  });

  it('events of one server do not reach the subscribers of another', async () => {
    const a = await start();
    const b = await start();
    const seenByA: number[] = [];
    stops.push(subscribeServer(a.server, { sessionStarted: (m) => seenByA.push(m.id) }));
    expect(await completeSessions(b.port, certs, 1)).toBe(1);
    expect(await completeSessions(a.port, certs, 1)).toBe(1);
    await a.sessionsEnded(1);
    expect(seenByA).toEqual([1]);
    expect(a.server.stats.sessionsStarted).toBe(1);
    expect(b.server.stats.sessionsStarted).toBe(1);
  });

  it('adaptive difficulty publishes each change', async () => {
    const seen = recordAll();
    const s = await start({
      adaptive: { minBits: 2, maxBits: 12, targetInFlight: 2, perIpWeight: 100, calmTicks: 2 },
      adaptiveIntervalMs: 50,
      workTimeoutMs: 60_000,
    });
    // Sessions held at WORK keep the load above the target.
    const held = [];
    try {
      for (let i = 0; i < 6; i++) {
        const c = await rawClient(s.port, certs);
        await c.ch.readLine(2000);
        c.ch.writeLine('HELLOBACK');
        await c.ch.readLine(2000);
        held.push(c);
      }
      await until(() => of(seen, s.server, 'difficultyChanged').length > 0, 'a change', 10_000);
    } finally {
      for (const c of held) c.socket.destroy();
    }
    const first = of(seen, s.server, 'difficultyChanged')[0];
    expect(first?.from).toBe(2);
    expect(first?.to).toBeGreaterThan(2);
    expect(first?.load).toBeGreaterThan(1);
    expect(s.server.stats.nBits).toBe(of(seen, s.server, 'difficultyChanged').at(-1)?.to);
  });

  it('stats are live, and a spread or JSON copies every field', async () => {
    const s = await start();
    const stats = s.server.stats;
    expect(await completeSessions(s.port, certs, 1)).toBe(1);
    await s.sessionsEnded(1);
    // The object taken before the session sees its counts.
    expect(stats.sessionsDone).toBe(1);
    const copy = { ...stats };
    expect(Object.keys(copy).sort()).toEqual(
      [
        'connections',
        'inFlight',
        'sessionsStarted',
        'sessionsDone',
        'sessionsFailDrawn',
        'sessionsRejected',
        'sessionsTransport',
        'handshakeFailures',
        'handshaking',
        'refused',
        'refusedByReason',
        'handshakeFailuresByReason',
        'failedByReason',
        'nBits',
      ].sort(),
    );
    expect(JSON.parse(JSON.stringify(stats))).toEqual(copy);
    expect(copy).toMatchObject({ connections: 1, sessionsStarted: 1, sessionsDone: 1, nBits: 8 });
  });

  it('close() counts a handshake it cuts before it resolves', async () => {
    const seen = recordAll();
    const s = await start();
    // A client that has sent nothing yet: pending when the server closes.
    await tcpConnect(s.port, sockets);
    await until(() => s.server.stats.handshaking === 1, 'the pending handshake', 5000);
    await s.server.close();
    servers.splice(servers.indexOf(s), 1);
    expect(s.server.stats).toMatchObject({ handshaking: 0, handshakeFailures: 1 });
    expect(s.server.stats.handshakeFailuresByReason).toEqual({ closed_early: 1 });
    expect(of(seen, s.server, 'handshakeFailed')).toMatchObject([
      { reason: 'closed_early', text: 'closed before sending anything' },
    ]);
  });

  it('after close, the server has unsubscribed its counters', async () => {
    const s = await start();
    expect(await completeSessions(s.port, certs, 1)).toBe(1);
    await s.sessionsEnded(1);
    const server = s.server;
    await server.close();
    servers.splice(servers.indexOf(s), 1);
    const before = { ...server.stats };
    // A stray message on the channel with this server as source changes nothing now.
    diagnosticsChannel.channel(SERVER_CHANNELS.connectionAccepted).publish({
      server,
      ip: '127.0.0.1',
      peer: '127.0.0.1:1',
    });
    expect(server.stats).toEqual(before);
  });
});
