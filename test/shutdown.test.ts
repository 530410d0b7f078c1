/**
 * Shutdown faults: a client that resets its connection right after OK (during the linger),
 * and SIGTERM with idle keep-alive connections on the metrics port.
 */
import http from 'node:http';
import net from 'node:net';
import { Duplex } from 'node:stream';
import tls from 'node:tls';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CertificateSet } from '../src/pki/generate.js';
import { checksum, verifyWork } from '../src/protocol/hash.js';
import { SocketLineChannel } from '../src/transport/channel.js';
import {
  clientTls,
  serverBin,
  testCerts,
  until,
  useServers,
  useTempDirs,
  within,
} from './helpers.js';

let certs: CertificateSet;
const tempDir = useTempDirs('tlslp-shutdown-');
const { server } = useServers(() => certs, { simulateFailures: false, bodyRequests: 2 });

beforeAll(async () => {
  certs = await testCerts();
});

/**
 * A whole session by hand, then OK and a TCP reset at once (as the original Python client
 * often does): resolves once the reset is sent.
 */
async function sessionThenReset(port: number, beforeReset?: () => void): Promise<void> {
  const raw = net.connect({ host: '127.0.0.1', port });
  raw.on('error', () => {});
  await new Promise<void>((resolve) => raw.once('connect', resolve));
  // TLS over a stream of our own, so the TCP socket keeps its handle and can send a reset
  // (a TLS socket given the TCP socket itself takes the handle over).
  const pipe = new Duplex({
    read: () => {},
    write: (chunk: Buffer, _enc, done) => {
      raw.write(chunk, () => done());
    },
  });
  raw.on('data', (b: Buffer) => pipe.push(b));
  raw.on('close', () => pipe.destroy());
  const socket = tls.connect({ socket: pipe, ...clientTls(certs), servername: 'localhost' });
  socket.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', resolve);
    socket.once('error', reject);
  });
  const ch = new SocketLineChannel(socket);
  expect(await ch.readLine(5000)).toBe('HELLO');
  ch.writeLine('HELLOBACK');
  const [, token = '', bits = '0'] = (await ch.readLine(5000)).split(' ');
  let i = 0;
  while (!verifyWork(token, `r${i}`, Number(bits))) i++;
  ch.writeLine(`r${i}`);
  for (;;) {
    const line = await ch.readLine(5000);
    if (line === 'DONE') break;
    const arg = line.split(' ')[1] ?? '';
    ch.writeLine(`${checksum(token, arg)} v`);
  }
  // The server ends its side once it has the OK: the session is complete, and the socket
  // lingers for this client to close (the tutorial server is closing by then).
  const ended = new Promise<void>((resolve) => socket.once('end', resolve));
  ch.writeLine('OK');
  await ended;
  beforeReset?.();
  await new Promise<void>((resolve) => setImmediate(resolve));
  raw.resetAndDestroy();
}

describe('a reset right after OK', () => {
  it('normal mode: close() during the linger resolves', async () => {
    const s = await server();
    await sessionThenReset(s.port);
    await s.sessionsEnded(1);
    await within(s.server.close(), 10_000, 'close() after a reset');
    expect(s.server.stats.sessionsDone).toBe(1);
  });

  it('normal mode: close() while the socket lingers, then the peer resets', async () => {
    const s = await server();
    let closing: Promise<void> | undefined;
    await sessionThenReset(s.port, () => {
      // close() is already waiting on the lingering socket when the reset arrives.
      closing = s.server.close();
    });
    await within(closing ?? Promise.resolve(), 10_000, 'close() after a reset');
    expect(s.server.openConnections).toBe(0);
  });

  it('tutorial mode: the server exits 0 with no stack trace', async () => {
    const bin = await serverBin(certs, await tempDir(), ['--n_bits', '4', '--tutorial']);
    await sessionThenReset(bin.port);
    const code = await within(bin.exited, 15_000, 'the tutorial server to exit');
    expect(code, bin.stderr()).toBe(0);
    expect(bin.stderr()).not.toMatch(/ECONNRESET|\n\s+at /);
  });
});

/** A keep-alive connection to `port` that made one request and now sits idle. */
async function idleKeepAlive(port: number): Promise<http.Agent> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  await new Promise<void>((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/healthz', agent }, (res) => {
        res.resume();
        res.on('end', resolve);
      })
      .on('error', reject);
  });
  return agent;
}

describe('SIGTERM with an idle keep-alive connection on the metrics port', () => {
  for (const workers of ['1', '2'])
    it(`--workers ${workers}: the server exits after the grace`, async () => {
      const bin = await serverBin(certs, await tempDir(), [
        '--workers',
        workers,
        '--shutdown-grace',
        '1',
        '--metrics-port',
        '0',
        '--health-port',
        '0',
      ]);
      const metricsUrl = /metrics on http:\/\/127\.0\.0\.1:(\d+)/i;
      let metricsPort = 0;
      // The primary logs the address; a single process prints it after its listening line.
      await until(async () => {
        metricsPort = Number(metricsUrl.exec(bin.stdout() + (await bin.log()))?.[1] ?? 0);
        return metricsPort > 0;
      }, 'the metrics address');
      const idle = await idleKeepAlive(metricsPort);
      // And a scraper that keeps its connection busy, which used to hold close() for good.
      const busy = await idleKeepAlive(metricsPort);
      let scraping = true;
      const scrape = (): void => {
        if (!scraping) return;
        http
          .get({ host: '127.0.0.1', port: metricsPort, path: '/readyz', agent: busy }, (res) => {
            res.resume();
            res.on('end', () => setTimeout(scrape, 50));
          })
          .on('error', () => {});
      };
      scrape();
      try {
        bin.kill('SIGTERM');
        // Generous: the bound checked is that it exits at all (it used to stay for minutes).
        expect(await within(bin.exited, 15_000, 'the server to exit after SIGTERM')).toBe(0);
      } finally {
        scraping = false;
        idle.destroy();
        busy.destroy();
      }
    });
});
