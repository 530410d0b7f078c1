/** The client's session is bounded: a cap on body requests and a whole-session deadline. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CertificateSet } from '../src/pki/generate.js';
import { runClient } from '../src/client/client.js';
import { ConfigError, ProtocolError, TransportError } from '../src/errors/index.js';
import { clientCertFlags, clientTls, runClientBin, scriptedServer, testCerts } from './helpers.js';

let certs: CertificateSet;
let dir: string;

beforeAll(async () => {
  certs = await testCerts();
  dir = await mkdtemp(join(tmpdir(), 'tlslp-bounds-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/**
 * A server that asks for ever: HELLO, an easy WORK, then one body request after each reply,
 * up to `limit`, every `delayMs`. `replies` counts the body replies it got.
 */
async function endlessServer(limit: number, delayMs = 0) {
  const stats = { replies: 0 };
  const server = await scriptedServer(certs, (socket) => {
    let step = 0;
    socket.setEncoding('utf8');
    socket.write('HELLO\n');
    let pending = '';
    socket.on('data', (chunk: string) => {
      pending += chunk;
      let i;
      while ((i = pending.indexOf('\n')) >= 0) {
        pending = pending.slice(i + 1);
        step++;
        if (step === 1) socket.write('WORK abc 1\n');
        else {
          if (step > 2) stats.replies++;
          if (stats.replies >= limit) return void socket.end('DONE\n');
          setTimeout(() => socket.writable && socket.write('EMAIL1 abc\n'), delayMs);
        }
      }
    });
  });
  return { ...server, stats };
}

describe('client session bounds', () => {
  it('stops a server that sends 10,000 requests at the default cap of 100', async () => {
    const server = await endlessServer(10_000);
    try {
      const err = await runClient({
        host: '127.0.0.1',
        ports: [server.port],
        tls: clientTls(certs),
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ProtocolError);
      expect((err as ProtocolError).code).toBe('TLSLP_ERR_TOO_MANY_REQUESTS');
      expect((err as Error).message).toBe(
        'server sent more than 100 body requests without DONE; stopped',
      );
      // It answered exactly 100 and sent the profile no more.
      expect(server.stats.replies).toBe(100);
    } finally {
      server.close();
    }
  });

  it('still finishes a normal session of 20 under a cap of 20', async () => {
    const server = await endlessServer(20);
    try {
      const r = await runClient({
        host: '127.0.0.1',
        ports: [server.port],
        tls: clientTls(certs),
        maxRequests: 20,
      });
      expect(r.answered).toHaveLength(20);
    } finally {
      server.close();
    }
  });

  it('ends a session that a slow server drags past the session deadline', async () => {
    // One request every 300 ms, each well inside the 10 s step deadline.
    const server = await endlessServer(10_000, 300);
    try {
      const err = await runClient({
        host: '127.0.0.1',
        ports: [server.port],
        tls: clientTls(certs),
        sessionTimeoutMs: 1500,
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TransportError);
      expect((err as TransportError).code).toBe('TLSLP_ERR_SESSION_TIMEOUT');
      expect((err as Error).message).toBe('session not finished within 1.5 s; stopped');
      expect(server.stats.replies).toBeLessThan(100);
    } finally {
      server.close();
    }
  });

  it('refuses bad limits as configuration errors', async () => {
    const base = { host: '127.0.0.1', ports: [1], tls: clientTls(certs) };
    await expect(runClient({ ...base, maxRequests: -1 })).rejects.toBeInstanceOf(ConfigError);
    await expect(runClient({ ...base, sessionTimeoutMs: 0 })).rejects.toBeInstanceOf(ConfigError);
  });

  it('tlslp-client --max-requests: exit 1 and one line naming the flag', async () => {
    const server = await endlessServer(10_000);
    const flags = await clientCertFlags(certs, join(dir, 'certs'));
    try {
      const { code, stderr } = await runClientBin(
        [
          '--host',
          '127.0.0.1',
          '--ports',
          String(server.port),
          ...flags,
          '--max-requests',
          '5',
          '--quiet',
        ],
        dir,
      );
      expect(code).toBe(1);
      expect(stderr.trim()).toBe(
        'tlslp-client: error: server sent more than 5 body requests without DONE; stopped (the limit is --max-requests)',
      );
      expect(server.stats.replies).toBe(5);
    } finally {
      server.close();
    }
  });
});
