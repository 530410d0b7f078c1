/**
 * Every limit of the server, over real mutual TLS on loopback (certificates made at test
 * time): the handshake deadline, the step deadline against trickling, max-connections,
 * max-per-ip, the 1000-byte line, floods, and graceful shutdown. No assertion on speed:
 * only that a thing happened, and (for deadlines) not before the deadline nor after a
 * generous bound.
 */
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CertificateSet } from '../src/pki/generate.js';
import { runClient } from '../src/client/client.js';
import { ServerFailError } from '../src/errors/index.js';
import { checksum, verifyWork } from '../src/protocol/hash.js';
import { FAIL_REASONS } from '../src/server/session.js';
import { closeSolverPool } from '../src/solver/index.js';
import {
  clientTls,
  rawClient,
  testCerts,
  haveSecondLoopback,
  tcpConnect,
  sleep,
  until,
  useServers,
} from './helpers.js';

let certs: CertificateSet;
const { server } = useServers(() => certs);
const sockets = new Set<net.Socket>();

beforeAll(async () => {
  certs = await testCerts();
});

afterEach(async () => {
  for (const s of sockets) s.destroy();
  sockets.clear();
});

afterAll(async () => {
  await closeSolverPool();
});

/** Resolves with the time from now to the socket's close; rejects after `withinMs`. */
function closedWithin(socket: net.Socket, withinMs: number): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    if (socket.destroyed && socket.readyState === 'closed') return resolve(0);
    const timer = setTimeout(
      () => reject(new Error(`socket still open after ${withinMs} ms`)),
      withinMs,
    );
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(performance.now() - t0);
    });
  });
}

/** A plain TCP connection, connected, kept for cleanup. */
const tcp = (port: number, localAddress?: string): Promise<net.Socket> =>
  tcpConnect(port, sockets, { localAddress });

/** A raw mutual-TLS client that is kept for cleanup. */
async function raw(port: number): Promise<Awaited<ReturnType<typeof rawClient>>> {
  const c = await rawClient(port, certs);
  sockets.add(c.socket);
  c.socket.on('error', () => {});
  return c;
}

/** Try a mutual-TLS handshake; resolves 'secure' or how it failed. */
function tryTls(port: number, localAddress?: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      ...clientTls(certs),
      ...(localAddress ? { localAddress } : {}),
    });
    sockets.add(socket);
    socket.once('secureConnect', () => {
      // TLS 1.3: the server may still refuse; wait for its first line or the close.
      socket.once('data', () => resolve('served'));
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
    socket.once('close', () => resolve('closed'));
  });
}

describe('handshake deadline', () => {
  it('closes an idle TCP socket after handshakeTimeoutMs, not before', async () => {
    const s = await server({ handshakeTimeoutMs: 400 });
    const socket = await tcp(s.port);
    const ms = await closedWithin(socket, 10_000);
    expect(ms).toBeGreaterThanOrEqual(350);
    await until(
      () => s.server.stats.handshakeFailures === 1,
      'the handshake failure to be counted',
      5000,
    );
    expect(s.server.stats.sessionsStarted).toBe(0);
  });

  it('closes a socket that trickles a TLS handshake a byte at a time', async () => {
    const s = await server({ handshakeTimeoutMs: 400 });
    const socket = await tcp(s.port);
    // A TLS handshake record header announcing 512 bytes, then one byte every 50 ms (26 s in all).
    socket.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00]));
    let sent = 0;
    const timer = setInterval(() => {
      if (!socket.destroyed) socket.write(Buffer.of(sent++ & 0xff));
    }, 50);
    try {
      const ms = await closedWithin(socket, 10_000);
      expect(ms).toBeGreaterThanOrEqual(300);
      expect(sent).toBeLessThan(512); // cut while bytes were still coming
    } finally {
      clearInterval(timer);
    }
  });
});

describe('step deadline', () => {
  it('FAILs and closes at otherTimeoutMs even though bytes keep arriving', async () => {
    const s = await server({ otherTimeoutMs: 500 });
    const { ch, socket } = await raw(s.port);
    expect(await ch.readLine(5000)).toBe('HELLO');
    // HELLOBACK padded to 60 bytes, one byte every 50 ms: 3 s in all, the step allows 0.5 s.
    const line = Buffer.from(`HELLOBACK${'x'.repeat(50)}\n`);
    let sent = 0;
    const timer = setInterval(() => {
      if (sent < line.length && !socket.destroyed) socket.write(line.subarray(sent, ++sent));
    }, 50);
    try {
      const t0 = performance.now();
      expect(await ch.readLine(10_000)).toBe(`FAIL ${FAIL_REASONS.timeout}`);
      expect(performance.now() - t0).toBeGreaterThanOrEqual(400);
      expect(sent).toBeLessThan(line.length); // the line was still trickling in
      await closedWithin(socket, 10_000);
      expect((await s.nextReport()).result).toMatchObject({
        outcome: 'transport',
        code: 'TLSLP_ERR_TIMEOUT',
      });
    } finally {
      clearInterval(timer);
    }
  });

  it('the WORK step has its own, longer deadline', async () => {
    const s = await server({ otherTimeoutMs: 300, workTimeoutMs: 1200, nBits: 30 });
    const { ch, socket } = await raw(s.port);
    await ch.readLine(5000);
    ch.writeLine('HELLOBACK');
    expect(await ch.readLine(5000)).toMatch(/^WORK /);
    const t0 = performance.now();
    expect(await ch.readLine(10_000)).toBe(`FAIL ${FAIL_REASONS.timeout}`);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(1100);
    await closedWithin(socket, 10_000);
  });
});

describe('max-connections', () => {
  it('refuses the N+1th session while N run, counts it, and accepts again once one ends', async () => {
    const s = await server({
      maxConnections: 2,
      handshakeTimeoutMs: 30_000,
      nBits: 4,
      simulateFailures: false,
      bodyRequests: 1,
    });
    // A socket still before TLS does not take a session slot: two sessions start beside it.
    const idle = await tcp(s.port);
    const held = [await raw(s.port), await raw(s.port)];
    for (const h of held) expect(await h.ch.readLine(5000)).toBe('HELLO');
    await until(() => s.server.stats.connections === 3, 'three accepted connections', 5000);
    expect(idle.destroyed).toBe(false);

    // A third session: refused (the check is made at accept and again after the handshake).
    expect(await tryTls(s.port)).not.toBe('served');
    await until(() => s.server.stats.refused === 1, 'the refusal to be counted', 5000);
    expect(s.server.stats.refusedByReason['max-connections']).toBe(1);
    expect(s.server.stats.sessionsStarted).toBe(2);

    // One ends: room for a full session again.
    held[0]?.socket.destroy();
    await until(() => s.server.inFlight < 2, 'the server to see the close', 5000);
    const r = await runClient({
      host: '127.0.0.1',
      ports: [s.port],
      tls: clientTls(certs),
      solverOptions: { threads: 1 },
    });
    expect(r.answered).toHaveLength(1);
  });
});

describe('max-per-ip', () => {
  it('refuses the N+1th session from one IP (every loopback client is 127.0.0.1)', async () => {
    const s = await server({
      maxPerIp: 2,
      handshakeTimeoutMs: 30_000,
      nBits: 4,
      simulateFailures: false,
      bodyRequests: 1,
    });
    const held = [await raw(s.port), await raw(s.port)];
    for (const h of held) expect(await h.ch.readLine(5000)).toBe('HELLO');
    expect(await tryTls(s.port)).not.toBe('served');
    await until(() => s.server.stats.refused === 1, 'the refusal to be counted', 5000);
    expect(s.server.stats.refusedByReason['max-per-ip']).toBe(1);
    // A full session is refused too…
    await expect(
      runClient({
        host: '127.0.0.1',
        ports: [s.port],
        tls: clientTls(certs),
        otherTimeoutMs: 5000,
      }),
    ).rejects.toThrow();
    // …until one of the two ends.
    held[0]?.socket.destroy();
    await until(() => s.server.inFlight < 2, 'the server to see the close', 5000);
    const r = await runClient({
      host: '127.0.0.1',
      ports: [s.port],
      tls: clientTls(certs),
      solverOptions: { threads: 1 },
    });
    expect(r.answered).toHaveLength(1);
  });

  it('counts per address: another source address still gets in', async (ctx) => {
    if (!(await haveSecondLoopback())) ctx.skip();
    const s = await server({ maxPerIp: 1, handshakeTimeoutMs: 30_000 });
    const held = await raw(s.port);
    expect(await held.ch.readLine(5000)).toBe('HELLO');
    expect(await tryTls(s.port, '127.0.0.1')).not.toBe('served');
    expect(await tryTls(s.port, '127.0.0.2')).toBe('served');
    expect(s.server.stats.refusedByReason['max-per-ip']).toBe(1);
  });
});

describe('the 1000-byte line limit over TLS', () => {
  it('999 bytes and a newline is a line (a wrong answer here); 1000 and a newline is too long', async () => {
    const s = await server();
    const a = await raw(s.port);
    await a.ch.readLine(5000);
    a.socket.write(`${'a'.repeat(999)}\n`);
    expect(await a.ch.readLine(5000)).toBe(`FAIL ${FAIL_REASONS.badHello}`);
    expect((await s.nextReport()).result).toMatchObject({
      outcome: 'rejected',
      code: 'TLSLP_ERR_BAD_HELLO',
    });

    const b = await raw(s.port);
    await b.ch.readLine(5000);
    b.socket.write(`${'a'.repeat(1000)}\n`);
    expect(await b.ch.readLine(5000)).toBe(`FAIL ${FAIL_REASONS.lineTooLong}`);
    expect((await s.nextReport()).result).toMatchObject({
      outcome: 'rejected',
      code: 'TLSLP_ERR_LINE_TOO_LONG',
    });
    await closedWithin(b.socket, 5000);
  });

  it('1000 bytes without a newline are refused at once, not at the step deadline', async () => {
    const s = await server({ otherTimeoutMs: 60_000 });
    const { ch, socket } = await raw(s.port);
    await ch.readLine(5000);
    // Multi-byte characters, split across writes: 500 × 'é' = 1000 bytes.
    const bytes = Buffer.from('é'.repeat(500));
    socket.write(bytes.subarray(0, 333));
    await sleep(20);
    socket.write(bytes.subarray(333));
    expect(await ch.readLine(10_000)).toBe(`FAIL ${FAIL_REASONS.lineTooLong}`);
    await closedWithin(socket, 10_000);
  });

  it('the limit holds in the body too', async () => {
    const s = await server({ nBits: 4, simulateFailures: false });
    const { ch, socket } = await raw(s.port);
    await ch.readLine(5000);
    ch.writeLine('HELLOBACK');
    const token = (await ch.readLine(5000)).split(' ')[1] as string;
    let i = 0;
    while (!verifyWork(token, `s${i}`, 4)) i++;
    ch.writeLine(`s${i}`);
    const arg = (await ch.readLine(5000)).split(' ')[1] as string;
    // A right checksum, but a value that takes the line past 1000 bytes.
    socket.write(`${checksum(token, arg)} ${'v'.repeat(1000 - 65)}\n`);
    expect(await ch.readLine(5000)).toBe(`FAIL ${FAIL_REASONS.lineTooLong}`);
  });
});

describe('floods', () => {
  it('many lines at once get FAIL Unexpected lines, and the server keeps serving', async () => {
    const s = await server({ nBits: 4, simulateFailures: false, bodyRequests: 1 });
    const { ch, socket } = await raw(s.port);
    expect(await ch.readLine(5000)).toBe('HELLO');
    socket.write('HELLOBACK\n'.repeat(50)); // one write, one TLS record
    expect(await ch.readLine(5000)).toBe(`FAIL ${FAIL_REASONS.flood}`);
    expect((await s.nextReport()).result).toMatchObject({
      outcome: 'rejected',
      code: 'TLSLP_ERR_FLOOD',
    });
    await closedWithin(socket, 5000);
    const r = await runClient({
      host: '127.0.0.1',
      ports: [s.port],
      tls: clientTls(certs),
      solverOptions: { threads: 1 },
    });
    expect(r.answered).toHaveLength(1);
  });

  it('a large flood (200 KB of lines) is cut off and does not stop the server', async () => {
    const s = await server({ nBits: 4, simulateFailures: false, bodyRequests: 1 });
    const { ch, socket } = await raw(s.port);
    await ch.readLine(5000);
    socket.write('OK\n'.repeat(70_000));
    const first = await ch.readLine(5000);
    expect(first).toMatch(/^FAIL /);
    await closedWithin(socket, 10_000);
    const r = await runClient({
      host: '127.0.0.1',
      ports: [s.port],
      tls: clientTls(certs),
      solverOptions: { threads: 1 },
    });
    expect(r.answered).toHaveLength(1);
  });

  // After a protocol violation the rest of a flood is discarded, not left unread: the
  // connection must be released (openConnections, max-connections and max-per-ip slots).
  it('forgets a connection after a large flood', async () => {
    const s = await server({ nBits: 4 });
    const { ch, socket } = await raw(s.port);
    await ch.readLine(5000);
    socket.write('OK\n'.repeat(70_000));
    await ch.readLine(5000).catch(() => '');
    await closedWithin(socket, 10_000);
    await until(() => s.server.openConnections === 0, 'the server to forget the connection', 3000);
  });

  // After its FAIL (or DONE/OK) the server ends its side; a client that keeps the connection
  // half-open is cut after a short linger.
  it('closes a connection the client keeps half-open after FAIL', async () => {
    const s = await server({ otherTimeoutMs: 500 });
    const rawSocket = net.connect({ host: '127.0.0.1', port: s.port, allowHalfOpen: true });
    sockets.add(rawSocket);
    const socket = tls.connect({
      socket: rawSocket,
      ...clientTls(certs),
      servername: 'localhost',
    });
    sockets.add(socket);
    socket.on('error', () => {});
    let got = '';
    socket.on('data', (d: Buffer) => (got += d.toString()));
    await until(() => got.includes('\n'), 'HELLO', 5000);
    socket.write('HELLOBACKX\n');
    await until(() => got.includes('FAIL'), 'the FAIL', 5000);
    // The client never closes its side; the server releases the connection anyway.
    await until(() => s.server.openConnections === 0, 'the server to release the connection', 5000);
  });
});

describe('graceful shutdown', () => {
  it('close(grace) lets a session in progress finish and closes an idle one after the grace', async () => {
    const s = await server({
      nBits: 4,
      simulateFailures: false,
      bodyRequests: 3,
      otherTimeoutMs: 60_000,
    });
    const busy = await raw(s.port);
    const idle = await raw(s.port);
    expect(await busy.ch.readLine(5000)).toBe('HELLO');
    expect(await idle.ch.readLine(5000)).toBe('HELLO');
    busy.ch.writeLine('HELLOBACK');
    const token = (await busy.ch.readLine(5000)).split(' ')[1] as string;

    const t0 = performance.now();
    let closedAt = 0;
    const closing = s.server.close(800).then(() => (closedAt = performance.now() - t0));
    const idleClosed = closedWithin(idle.socket, 10_000);

    // New connections are refused at once.
    await expect(
      runClient({
        host: '127.0.0.1',
        ports: [s.port],
        tls: clientTls(certs),
        otherTimeoutMs: 5000,
      }),
    ).rejects.toMatchObject({ code: 'TLSLP_ERR_CONNECTION_REFUSED', causeCode: 'ECONNREFUSED' });

    // The busy session finishes by hand within the grace.
    let i = 0;
    while (!verifyWork(token, `z${i}`, 4)) i++;
    busy.ch.writeLine(`z${i}`);
    for (let k = 0; k < 3; k++) {
      const arg = (await busy.ch.readLine(5000)).split(' ')[1] as string;
      busy.ch.writeLine(`${checksum(token, arg)} v`);
    }
    expect(await busy.ch.readLine(5000)).toBe('DONE');
    busy.ch.writeLine('OK');

    // The idle one is cut after the grace, not before.
    const idleMs = await idleClosed;
    expect(idleMs).toBeGreaterThanOrEqual(700);
    await closing;
    expect(closedAt).toBeGreaterThanOrEqual(700);
    await s.sessionsEnded(2);
    expect(s.server.stats.sessionsDone).toBe(1);
    const outcomes = s.reports.map((r) => r.result.outcome).sort();
    expect(outcomes).toEqual(['done', 'transport']);
    expect(s.server.inFlight).toBe(0);
  });

  it('close() without grace ends sessions at once, and a client sees the connection end', async () => {
    const s = await server({ otherTimeoutMs: 60_000 });
    const c = await raw(s.port);
    await c.ch.readLine(5000);
    await s.server.close();
    await closedWithin(c.socket, 5000);
    await s.sessionsEnded(1);
    expect(s.server.inFlight).toBe(0);
    // runClient against it fails cleanly rather than hanging.
    const err = await runClient({
      host: '127.0.0.1',
      ports: [s.port],
      tls: clientTls(certs),
      otherTimeoutMs: 2000,
    }).catch((e: unknown) => e);
    expect(err).not.toBeInstanceOf(ServerFailError);
  });
});
