/**
 * The health endpoints of the metrics listener, against a real server on loopback: /healthz
 * while the process serves, /readyz 200 while it takes sessions and 503 when it is full or
 * draining (close() with sessions still in flight).
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CertificateSet } from '../src/pki/generate.js';
import { ServerMetrics, serveMetrics } from '../src/server/metrics.js';
import { heldAtWork, startServer, testCerts, type TestServer } from './helpers.js';

let certs: CertificateSet;
const cleanups: Array<() => unknown> = [];

beforeAll(async () => {
  certs = await testCerts();
});

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function withHealth(
  options: Parameters<typeof startServer>[1] = {},
): Promise<{ s: TestServer; get: (path: string) => Promise<{ status: number; body: string }> }> {
  const s = await startServer(certs, { workTimeoutMs: 60_000, ...options });
  cleanups.push(() => s.server.close());
  const http = await serveMetrics(new ServerMetrics().registry, '127.0.0.1', 0, () =>
    s.server.readiness(),
  );
  cleanups.push(() => http.close());
  return {
    s,
    get: async (path) => {
      const res = await fetch(`http://127.0.0.1:${http.port}${path}`, {
        signal: AbortSignal.timeout(5000),
      });
      return { status: res.status, body: await res.text() };
    },
  };
}

describe('health endpoints', () => {
  it('/healthz and /readyz answer 200 while the server takes sessions; other paths 404', async () => {
    const { get } = await withHealth();
    expect(await get('/healthz')).toEqual({ status: 200, body: 'ok\n' });
    expect(await get('/readyz')).toEqual({ status: 200, body: 'ready\n' });
    expect((await get('/readyz?verbose=1')).status).toBe(200);
    expect((await get('/nothing')).status).toBe(404);
    expect((await get('/metrics')).status).toBe(200);
  });

  it('/readyz is 503 at max-connections, and 200 again when a session ends', async () => {
    const { s, get } = await withHealth({ maxConnections: 1 });
    const socket = await heldAtWork(s.port, certs, (socket) =>
      cleanups.push(() => socket.destroy()),
    );
    expect(await get('/readyz')).toEqual({ status: 503, body: 'not ready: at max-connections\n' });
    expect((await get('/healthz')).status).toBe(200);
    socket.destroy();
    await s.nextReport();
    expect((await get('/readyz')).status).toBe(200);
  });

  it('/readyz is 503 while draining: close() with a session in flight and a grace', async () => {
    const { s, get } = await withHealth();
    await heldAtWork(s.port, certs, (socket) => cleanups.push(() => socket.destroy()));
    const closing = s.server.close(30_000);
    expect(await get('/readyz')).toEqual({ status: 503, body: 'not ready: draining\n' });
    expect((await get('/healthz')).status).toBe(200);
    expect(s.server.inFlight).toBe(1);
    await s.server.close(0);
    await closing;
  });
});
