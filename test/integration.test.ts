/**
 * Integration over real mutual TLS on loopback, with certificates generated at test time.
 */
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CertificateSet } from '../src/pki/generate.js';
import { runClient } from '../src/client/client.js';
import { ConfigError, ServerFailError, TransportError } from '../src/errors/index.js';
import { verifyWork } from '../src/protocol/hash.js';
import { BODY_COMMANDS } from '../src/protocol/messages.js';
import { TlslpServer } from '../src/server/server.js';
import { FAIL_REASONS } from '../src/server/session.js';
import { closeSolverPool } from '../src/solver/index.js';
import { clientTls, rawClient, startServer, testCerts, useServers } from './helpers.js';

let certs: CertificateSet;
let foreign: CertificateSet;
const { server, servers } = useServers(() => certs);

beforeAll(async () => {
  [certs, foreign] = await Promise.all([testCerts(), testCerts('foreign')]);
});

afterAll(async () => {
  await closeSolverPool();
});

/** A free port that nothing listens on. */
async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as net.AddressInfo;
  await new Promise((r) => srv.close(r));
  return port;
}

describe('full sessions over mutual TLS', () => {
  it('a normal session: 20 requests then DONE/OK, with a fresh token per connection', async () => {
    const s = await server({ nBits: 12, simulateFailures: false });
    const works: string[] = [];
    const run = () =>
      runClient({
        host: '127.0.0.1',
        ports: [s.port],
        tls: clientTls(certs),
        onEvent: (e) => {
          if (e.type === 'recv' && e.line.startsWith('WORK ')) works.push(e.line);
        },
      });
    const first = await run();
    expect(first.answered).toHaveLength(20);
    expect(first.protocol).toBe('TLSv1.3');
    expect(first.nBits).toBe(12);
    await run();
    expect(works).toHaveLength(2);
    expect(works[0]).not.toBe(works[1]);
    expect(works[0]).toMatch(/^WORK [A-Za-z0-9_-]{64} 12$/);
    await s.sessionsEnded(2);
    expect(s.server.stats.sessionsDone).toBe(2);
  });

  it('serves many clients at the same time', async () => {
    const s = await server({ nBits: 6, simulateFailures: false, bodyRequests: 5 });
    const results = await Promise.all(
      Array.from({ length: 12 }, () =>
        runClient({
          host: '127.0.0.1',
          ports: [s.port],
          tls: clientTls(certs),
          solverOptions: { threads: 1 },
        }),
      ),
    );
    expect(results.every((r) => r.answered.length === 5)).toBe(true);
    await s.sessionsEnded(12);
    expect(s.server.stats.sessionsDone).toBe(12);
  });

  it('a drawn FAIL ends the session with ServerFailError (normal mode)', async () => {
    const s = await server({ nBits: 4 });
    // Each session draws FAIL with probability 1 - (8/9)^20 ≈ 0.9; 30 tries all without one is ~1e-30.
    let fail: ServerFailError | null = null;
    for (let i = 0; i < 30 && !fail; i++) {
      try {
        await runClient({ host: '127.0.0.1', ports: [s.port], tls: clientTls(certs) });
      } catch (err) {
        if (!(err instanceof ServerFailError)) throw err;
        fail = err;
      }
    }
    expect(fail).toBeInstanceOf(ServerFailError);
    expect(fail?.reason).toMatch(/^[A-Za-z0-9_-]{8}$/);
    expect(s.server.stats.sessionsFailDrawn).toBeGreaterThan(0);
  });

  it('tutorial mode: fixed token and order, one session, then the server stops', async () => {
    const s = await server({ tutorial: true, nBits: 10 });
    const received: string[] = [];
    const r = await runClient({
      host: '127.0.0.1',
      ports: [s.port],
      tls: clientTls(certs),
      onEvent: (e) => e.type === 'recv' && received.push(e.line),
    });
    expect(r.answered).toEqual([...BODY_COMMANDS]);
    expect(received[1]).toBe(
      'WORK gkcjcibIFynKssuJnJpSrgvawiVjLjEbdFuYQzuWROTeTaSmqFCAzuwkwLCRgIIq 10',
    );
    expect(received.slice(2, 10)).toEqual(BODY_COMMANDS.map((c) => `${c} LGTk`));
    await s.server.finished;
    await expect(
      runClient({ host: '127.0.0.1', ports: [s.port], tls: clientTls(certs) }),
    ).rejects.toBeInstanceOf(TransportError);
  });

  it('--token and --random-string fix the token and the argument', async () => {
    const s = await server({
      nBits: 4,
      token: 'abc',
      randomString: 'LGTk',
      simulateFailures: false,
      bodyRequests: 3,
    });
    const received: string[] = [];
    await runClient({
      host: '127.0.0.1',
      ports: [s.port],
      tls: clientTls(certs),
      onEvent: (e) => e.type === 'recv' && received.push(e.line),
    });
    expect(received[1]).toBe('WORK abc 4');
    expect(received.slice(2, 5).every((l) => l.endsWith(' LGTk'))).toBe(true);
  });

  it('n_bits 0 works end to end', async () => {
    const s = await server({ nBits: 0, simulateFailures: false, bodyRequests: 2 });
    const r = await runClient({ host: '127.0.0.1', ports: [s.port], tls: clientTls(certs) });
    expect(r.nBits).toBe(0);
  });
});

describe('wrong answers get their FAIL over TLS', () => {
  it('a wrong suffix', async () => {
    const s = await server({ nBits: 20 });
    const { ch } = await rawClient(s.port, certs);
    expect(await ch.readLine(2000)).toBe('HELLO');
    ch.writeLine('HELLOBACK');
    const work = await ch.readLine(2000);
    const token = work.split(' ')[1] as string;
    // Find a suffix that does NOT solve it (almost any).
    let bad = 'a';
    while (verifyWork(token, bad, 20)) bad += 'a';
    ch.writeLine(bad);
    expect(await ch.readLine(2000)).toBe('FAIL Invalid suffix returned from client.');
    expect((await s.nextReport()).result).toMatchObject({
      outcome: 'rejected',
      code: 'TLSLP_ERR_BAD_SUFFIX',
    });
  });

  it('a wrong checksum', async () => {
    const s = await server({ nBits: 1, simulateFailures: false });
    const { ch } = await rawClient(s.port, certs);
    await ch.readLine(2000);
    ch.writeLine('HELLOBACK');
    const token = (await ch.readLine(2000)).split(' ')[1] as string;
    let suffix = 0;
    while (!verifyWork(token, String(suffix), 1)) suffix++;
    ch.writeLine(String(suffix));
    await ch.readLine(2000);
    ch.writeLine(`${'ab'.repeat(32)} Jane Doe`);
    expect(await ch.readLine(2000)).toBe('FAIL Invalid checksum received.');
  });

  it('a solution cannot be replayed on another connection', async () => {
    const s = await server({ nBits: 12 });
    const a = await rawClient(s.port, certs);
    await a.ch.readLine(2000);
    a.ch.writeLine('HELLOBACK');
    const tokenA = (await a.ch.readLine(2000)).split(' ')[1] as string;
    let i = 0;
    while (!verifyWork(tokenA, `s${i}`, 12)) i++;
    const b = await rawClient(s.port, certs);
    await b.ch.readLine(2000);
    b.ch.writeLine('HELLOBACK');
    const tokenB = (await b.ch.readLine(2000)).split(' ')[1] as string;
    expect(tokenB).not.toBe(tokenA);
    // A's answer on B's connection: refused unless it happens to solve B's token too.
    b.ch.writeLine(`s${i}`);
    const reply = await b.ch.readLine(2000);
    if (!verifyWork(tokenB, `s${i}`, 12))
      expect(reply).toBe('FAIL Invalid suffix returned from client.');
    a.socket.destroy();
  });

  it('an overlong line', async () => {
    const s = await server();
    const { ch, socket } = await rawClient(s.port, certs);
    await ch.readLine(2000);
    socket.write(Buffer.alloc(5000, 0x41));
    expect(await ch.readLine(2000)).toBe(`FAIL ${FAIL_REASONS.lineTooLong}`);
  });
});

describe('TLS: who may talk to whom', () => {
  it('rejects a client without a certificate, and keeps serving', async () => {
    const s = await server({ nBits: 4, simulateFailures: false, bodyRequests: 1 });
    const err = await runClient({
      host: '127.0.0.1',
      ports: [s.port],
      tls: { ca: certs.caCert },
      solver: async () => ({ suffix: 'x', seconds: 0, solver: 'none' }),
    }).then(
      () => null,
      (e: unknown) => e,
    );
    // The library insists on a certificate in secure mode before dialling…
    expect(err).toBeInstanceOf(ConfigError);
    // …so dial by hand without one.
    const bare = tls.connect({
      host: '127.0.0.1',
      port: s.port,
      ca: certs.caCert,
      servername: 'localhost',
    });
    const outcome = await new Promise<string>((resolve) => {
      bare.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
      bare.on('data', () => resolve('data'));
      bare.on('close', () => resolve('closed'));
    });
    expect(outcome).toMatch(/ALERT|ECONNRESET|closed/);
    const ok = await runClient({ host: '127.0.0.1', ports: [s.port], tls: clientTls(certs) });
    expect(ok.answered).toHaveLength(1);
    expect(s.server.stats.handshakeFailures).toBeGreaterThanOrEqual(1);
  });

  it('rejects a client certificate from another CA', async () => {
    const s = await server({ nBits: 4 });
    const err = await runClient({
      host: '127.0.0.1',
      ports: [s.port],
      tls: { ca: certs.caCert, cert: foreign.clientCert, key: foreign.clientKey },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransportError);
    expect((err as Error).message).toMatch(/rejected the certificate|connection reset|closed/);
  });

  it('the client refuses a server whose certificate does not match the host name', async () => {
    const other = await testCerts('named');
    const s = await startServer(other);
    servers.push(s);
    const err = await runClient({
      host: '127.0.0.1',
      ports: [s.port],
      tls: clientTls(other),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransportError);
    expect((err as TransportError).code).toBe('TLSLP_ERR_TLS_HOSTNAME_MISMATCH');
    expect((err as Error).message).toMatch(/does not match the host name/);
  });

  it('the client refuses a server certificate from another CA', async () => {
    const s = await server();
    const err = await runClient({
      host: '127.0.0.1',
      ports: [s.port],
      tls: { ...clientTls(certs), ca: foreign.caCert },
    }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/not issued by the configured CA/);
  });

  it('insecure mode works on loopback and is refused elsewhere', async () => {
    const s = await server({ insecure: true, nBits: 4, simulateFailures: false, bodyRequests: 1 });
    const r = await runClient({ host: '127.0.0.1', ports: [s.port], tls: {}, insecure: true });
    expect(r.answered).toHaveLength(1);
    await expect(
      runClient({ host: '192.0.2.10', ports: [1], tls: {}, insecure: true }),
    ).rejects.toThrow(/only allowed with localhost/);
    expect(
      () =>
        new TlslpServer({
          host: '0.0.0.0',
          insecure: true,
          tls: { cert: certs.serverCert, key: certs.serverKey },
        }),
    ).toThrow(ConfigError);
  });
});

describe('ports', () => {
  it('tries the ports in order, warning for each that fails', async () => {
    const s = await server({ nBits: 4, simulateFailures: false, bodyRequests: 1 });
    const dead = await closedPort();
    const tried: number[] = [];
    const failed: number[] = [];
    const r = await runClient({
      host: '127.0.0.1',
      ports: [dead, s.port],
      tls: clientTls(certs),
      onEvent: (e) => {
        if (e.type === 'connecting') tried.push(e.port);
        if (e.type === 'connect-failed') failed.push(e.port);
      },
    });
    expect(tried).toEqual([dead, s.port]);
    expect(failed).toEqual([dead]);
    expect(r.port).toBe(s.port);
  });

  it('fails with one clear error when no port connects', async () => {
    const dead = await closedPort();
    const err = await runClient({ host: '127.0.0.1', ports: [dead], tls: clientTls(certs) }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TransportError);
    expect((err as Error).message).toBe(
      `could not connect to 127.0.0.1 on port ${dead}: connection refused (is the server running on that host and port?)`,
    );
  });
});

describe('hostile connections never stop the server', () => {
  it('plain TCP connect-and-close, garbage, idle sockets, foreign certificates: then a good session', async () => {
    const s = await server({
      nBits: 4,
      simulateFailures: false,
      bodyRequests: 2,
      handshakeTimeoutMs: 500,
      // Every client here is 127.0.0.1; the per-IP failure budget would (rightly) refuse the
      // good session after the hostile ones. test/gate.test.ts covers the budget.
      maxHandshakeFailuresPerIp: 0,
    });
    const hostile: Array<Promise<void>> = [];
    for (let i = 0; i < 10; i++) {
      hostile.push(
        new Promise((resolve) => {
          const sock = net.connect(s.port, '127.0.0.1', () => sock.end());
          sock.on('close', () => resolve());
          sock.on('error', () => resolve());
        }),
      );
      hostile.push(
        new Promise((resolve) => {
          const sock = net.connect(s.port, '127.0.0.1', () =>
            sock.write(Buffer.from('GET / HTTP/1.0\r\n\r\n\x00\xff')),
          );
          sock.on('close', () => resolve());
          sock.on('error', () => resolve());
        }),
      );
    }
    // Idle sockets: the handshake deadline must close them.
    const idle = Array.from({ length: 5 }, () => net.connect(s.port, '127.0.0.1'));
    const idleClosed = idle.map(
      (sock) => new Promise<void>((resolve) => sock.on('close', () => resolve())),
    );
    idle.forEach((sock) => sock.on('error', () => {}));
    const foreignTry = runClient({
      host: '127.0.0.1',
      ports: [s.port],
      tls: { ca: certs.caCert, cert: foreign.clientCert, key: foreign.clientKey },
    }).catch(() => null);
    await Promise.all([...hostile, foreignTry]);

    const ok = await runClient({ host: '127.0.0.1', ports: [s.port], tls: clientTls(certs) });
    expect(ok.answered).toHaveLength(2);
    await Promise.all(idleClosed);
    expect(s.server.stats.handshakeFailures).toBeGreaterThanOrEqual(20);
    expect(s.server.address()).not.toBeNull();
  });
});

describe('the client solves with an external solver (--work-binary)', () => {
  it('uses a script with the original interface', async () => {
    const { mkdtemp, writeFile, chmod, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = await mkdtemp(join(tmpdir(), 'tlslp-ext-'));
    await chmod(dir, 0o700);
    const solver = join(dir, 'work_challenge');
    await writeFile(
      solver,
      `#!${process.execPath}\nconst { createHash } = require('node:crypto');\nconst [t, n] = process.argv.slice(2);\nfor (let i = 0; ; i++) { const s = 'k' + i; const d = createHash('sha256').update(t + s).digest(); let z = 0; for (let j = 31; j >= 0; j--) { if (d[j] === 0) { z += 8; continue; } z += 31 - Math.clz32(d[j] & -d[j]); break; } if (z >= Number(n)) { console.log('RESULT:' + s); console.log('Time: 0.1 seconds'); break; } }\n`,
      { mode: 0o755 },
    );
    try {
      const s = await server({ nBits: 10, simulateFailures: false, bodyRequests: 2 });
      const r = await runClient({
        host: '127.0.0.1',
        ports: [s.port],
        tls: clientTls(certs),
        workBinary: solver,
      });
      expect(r.work.suffix).toMatch(/^k\d+$/);
      expect(r.work.solver).toContain('external');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('shutdown', () => {
  it('close(grace) lets a session in progress finish', async () => {
    const s = await server({ nBits: 4, simulateFailures: false, bodyRequests: 3 });
    const { ch } = await rawClient(s.port, certs);
    await ch.readLine(2000);
    const closing = s.server.close(5000);
    // Still mid-session: finish it by hand.
    ch.writeLine('HELLOBACK');
    const token = (await ch.readLine(2000)).split(' ')[1] as string;
    let i = 0;
    while (!verifyWork(token, `z${i}`, 4)) i++;
    ch.writeLine(`z${i}`);
    const { checksum } = await import('../src/protocol/hash.js');
    for (let k = 0; k < 3; k++) {
      const arg = (await ch.readLine(2000)).split(' ')[1] as string;
      ch.writeLine(`${checksum(token, arg)} v`);
    }
    expect(await ch.readLine(2000)).toBe('DONE');
    ch.writeLine('OK');
    await closing;
    await s.sessionsEnded(1);
    expect(s.server.stats.sessionsDone).toBe(1);
  });
});

describe('unusable TLS material', () => {
  it('a key that does not match the certificate is a ConfigError before dialling', async () => {
    const err = await runClient({
      host: '127.0.0.1',
      ports: [1],
      tls: { ca: certs.caCert, cert: certs.clientCert, key: foreign.clientKey },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/tls\.key/);
  });
});

describe('unusable server TLS material', () => {
  it('a key that does not match the certificate is a ConfigError naming the options', () => {
    expect(
      () =>
        new TlslpServer({
          host: '127.0.0.1',
          tls: { cert: certs.serverCert, key: foreign.serverKey, ca: certs.caCert },
        }),
    ).toThrow(/^tls\.key does not match the certificate in tls\.cert/);
  });
});

describe('which failure the client reports', () => {
  it('a certificate problem on one port is not hidden by a refused port after it', async () => {
    const other = await testCerts('named');
    const s = await startServer(other);
    servers.push(s);
    const dead = await closedPort();
    const err = await runClient({
      host: '127.0.0.1',
      ports: [s.port, dead],
      tls: clientTls(other),
    }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/does not match the host name/);
  });
});
