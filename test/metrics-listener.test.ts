/**
 * The metrics and health listeners under abuse: renders cached, requests rate-limited,
 * connections capped, idle sockets cut, health never behind a render, close() with
 * connections still open.
 */
import http from 'node:http';
import net from 'node:net';
import { Gauge, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import {
  cachedRender,
  serveHealth,
  serveMetrics,
  type HttpListener,
  type MetricsText,
} from '../src/server/metrics.js';
import { tcpConnect, within } from './helpers.js';

const listeners: HttpListener[] = [];
const sockets = new Set<net.Socket>();

afterEach(async () => {
  for (const s of sockets) s.destroy();
  sockets.clear();
  await Promise.all(listeners.splice(0).map((l) => l.close(0)));
});

async function listen(p: Promise<HttpListener>): Promise<HttpListener> {
  const l = await p;
  listeners.push(l);
  return l;
}

/** One GET on a fresh connection: status, body and the Connection header. */
function get(
  port: number,
  path: string,
  agent: http.Agent | false = false,
): Promise<{ status: number; body: string; connection?: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          body,
          ...(res.headers.connection ? { connection: res.headers.connection } : {}),
        }),
      );
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  });
}

/** A registry whose renders are counted. */
function countingRegistry(): { registry: Registry; renders: () => number } {
  const registry = new Registry();
  let renders = 0;
  new Gauge({
    name: 'test_renders',
    help: 'renders so far',
    registers: [registry],
    collect() {
      this.set(++renders);
    },
  });
  return { registry, renders: () => renders };
}

/** Resolves when `socket` closes. */
const closed = (socket: net.Socket): Promise<void> =>
  new Promise((resolve) => {
    if (socket.destroyed) resolve();
    else socket.once('close', () => resolve());
  });

describe('metrics listener', () => {
  it('renders the registry at most once per cacheMs, whatever the requests', async () => {
    const { registry, renders } = countingRegistry();
    const l = await listen(serveMetrics(registry, '127.0.0.1', 0, undefined, { cacheMs: 60_000 }));
    const answers = await Promise.all(Array.from({ length: 10 }, () => get(l.port, '/metrics')));
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
    expect(renders()).toBe(1);
    expect(answers[9]?.body).toContain('test_renders 1');
  });

  it('renders again once the cache is older than cacheMs', async () => {
    let made = 0;
    const render = cachedRender(async () => ({ text: String(++made), contentType: 'x' }), 0);
    expect((await render()).text).toBe('1');
    expect((await render()).text).toBe('2');
  });

  it('/healthz and /readyz answer while a render is still running', async () => {
    const never = new Promise<MetricsText>(() => {});
    const l = await listen(serveMetrics(() => never, '127.0.0.1', 0));
    const pending = get(l.port, '/metrics').catch(() => null);
    expect(await get(l.port, '/healthz')).toMatchObject({ status: 200, body: 'ok\n' });
    expect(await get(l.port, '/readyz')).toMatchObject({ status: 200, body: 'ready\n' });
    void pending;
  });

  it('past the per-IP rate: 429 with Connection: close', async () => {
    const l = await listen(
      serveMetrics(new Registry(), '127.0.0.1', 0, undefined, { requestsPerSecondPerIp: 1 }),
    );
    // A burst of twice the rate is let through, then the bucket is empty.
    const statuses: number[] = [];
    let refused: { status: number; connection?: string } | undefined;
    for (let i = 0; i < 4; i++) {
      const a = await get(l.port, '/healthz');
      statuses.push(a.status);
      if (a.status === 429) refused = a;
    }
    expect(statuses.slice(0, 2)).toEqual([200, 200]);
    expect(statuses).toContain(429);
    expect(refused?.connection).toBe('close');
  });

  it('past the listener-wide rate: 429 for every IP', async () => {
    const l = await listen(
      serveMetrics(new Registry(), '127.0.0.1', 0, undefined, { requestsPerSecond: 1 }),
    );
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await get(l.port, '/readyz')).status);
    expect(statuses).toContain(429);
  });

  it('caps connections per IP: one past the cap is closed at once', async () => {
    const l = await listen(
      serveMetrics(new Registry(), '127.0.0.1', 0, undefined, { maxConnectionsPerIp: 2 }),
    );
    const a = await tcpConnect(l.port, sockets);
    const b = await tcpConnect(l.port, sockets);
    const c = await tcpConnect(l.port, sockets, { resetIsRefusal: true });
    await within(closed(c), 5000, 'the connection past the cap to close');
    expect(a.destroyed || b.destroyed).toBe(false);
  });

  it('caps connections in all (maxConnections)', async () => {
    const l = await listen(
      serveMetrics(new Registry(), '127.0.0.1', 0, undefined, { maxConnections: 1 }),
    );
    await tcpConnect(l.port, sockets);
    const c = await tcpConnect(l.port, sockets, { resetIsRefusal: true });
    await within(closed(c), 5000, 'the connection past maxConnections to close');
  });

  it('cuts a connection that sends nothing', async () => {
    const l = await listen(
      serveMetrics(new Registry(), '127.0.0.1', 0, undefined, {
        headersTimeoutMs: 200,
        keepAliveTimeoutMs: 200,
      }),
    );
    const idle = await tcpConnect(l.port, sockets);
    await within(closed(idle), 10_000, 'the idle connection to be cut');
  });

  it('cuts a connection that never finishes its headers', async () => {
    const l = await listen(
      serveMetrics(new Registry(), '127.0.0.1', 0, undefined, { headersTimeoutMs: 200 }),
    );
    const slow = await tcpConnect(l.port, sockets);
    slow.write('GET /metrics HTTP/1.1\r\nHost: x\r\n');
    await within(closed(slow), 10_000, 'the slow request to be cut');
  });

  it('close() ends with an idle keep-alive connection and with a half-sent request', async () => {
    const l = await serveMetrics(new Registry(), '127.0.0.1', 0);
    const agent = new http.Agent({ keepAlive: true });
    expect((await get(l.port, '/healthz', agent)).status).toBe(200);
    const half = await tcpConnect(l.port, sockets);
    half.write('GET /metrics HTTP/1.1\r\n');
    await within(l.close(100), 5000, 'close() with open connections');
    await within(closed(half), 5000, 'the half-sent request to be cut');
    agent.destroy();
  });
});

describe('health listener', () => {
  it('serves /healthz and /readyz only', async () => {
    const l = await listen(
      serveHealth('127.0.0.1', 0, () => ({ ready: false, reason: 'draining' })),
    );
    expect(await get(l.port, '/healthz')).toMatchObject({ status: 200 });
    expect(await get(l.port, '/readyz')).toMatchObject({
      status: 503,
      body: 'not ready: draining\n',
    });
    expect((await get(l.port, '/metrics')).status).toBe(404);
  });

  it('a port in use is a TransportError naming the health endpoint', async () => {
    const first = await listen(serveHealth('127.0.0.1', 0));
    const err = await serveHealth('127.0.0.1', first.port).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(
      /cannot serve health checks on 127\.0\.0\.1:\d+: address already in use/,
    );
  });
});
