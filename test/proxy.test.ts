/**
 * The PROXY protocol in the server, over real TLS on loopback: a balancer (played by a small
 * TCP relay in the test that sends a header, then pipes) makes the server see the client's
 * own address in reports, events and per-IP limits; a trusted source without a header, a
 * header from an untrusted source, and a header that never comes are refused and counted.
 * Every wait is bounded; nothing asserts on speed.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import net from 'node:net';
import * as pp from 'proxy-protocol-js';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CertificateSet } from '../src/pki/generate.js';
import { runClient } from '../src/client/client.js';
import { ConfigError } from '../src/errors/index.js';
import { SERVER_CHANNELS, type ConnectionRefusedEvent } from '../src/server/events.js';
import { TlslpServer } from '../src/server/server.js';
import {
  clientTls,
  heldAtWork as held,
  memoryLogger,
  startServer,
  testCerts,
  until,
  type TestServer,
} from './helpers.js';

let certs: CertificateSet;
const servers: TestServer[] = [];
const closers: Array<() => void> = [];

beforeAll(async () => {
  certs = await testCerts();
});

afterEach(async () => {
  for (const close of closers.splice(0)) close();
  await Promise.all(servers.splice(0).map((s) => s.server.close()));
});

function v2(address: string, port: number): Buffer {
  const octets = address.split('.').map(Number);
  return Buffer.from(
    new pp.V2ProxyProtocol(
      pp.Command.PROXY,
      pp.TransportProtocol.STREAM,
      new pp.IPv4ProxyAddress(
        pp.IPv4Address.createFrom(octets),
        port,
        pp.IPv4Address.createFrom([127, 0, 0, 1]),
        1234,
      ),
    ).build(),
  );
}

/**
 * A relay on loopback that, for each connection, opens one to `target`, sends
 * `header(n)` first (n counts connections from 0), and pipes both ways, as a balancer does.
 */
async function relay(target: number, header: (n: number) => Buffer): Promise<number> {
  let n = 0;
  const server = net.createServer((inbound) => {
    const outbound = net.connect(target, '127.0.0.1', () => {
      outbound.write(header(n++));
      inbound.pipe(outbound).pipe(inbound);
    });
    const cut = (): void => {
      inbound.destroy();
      outbound.destroy();
    };
    inbound.on('error', cut).on('close', cut);
    outbound.on('error', cut).on('close', cut);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => server.close());
  return (server.address() as net.AddressInfo).port;
}

async function start(options: Parameters<typeof startServer>[1] = {}): Promise<TestServer> {
  const s = await startServer(certs, { proxyProtocol: true, simulateFailures: false, ...options });
  servers.push(s);
  return s;
}

function client(port: number): ReturnType<typeof runClient> {
  return runClient({
    host: '127.0.0.1',
    ports: [port],
    tls: clientTls(certs),
    solverOptions: { threads: 1 },
  });
}

function recordRefusals(): ConnectionRefusedEvent[] {
  const seen: ConnectionRefusedEvent[] = [];
  const listener = (m: unknown): void => void seen.push(m as ConnectionRefusedEvent);
  diagnosticsChannel.subscribe(SERVER_CHANNELS.connectionRefused, listener);
  closers.push(() => diagnosticsChannel.unsubscribe(SERVER_CHANNELS.connectionRefused, listener));
  return seen;
}

describe('PROXY protocol', () => {
  it('a session through a balancer is reported with the client address of its header', async () => {
    const s = await start();
    const port = await relay(s.port, () => v2('203.0.113.7', 40001));
    await client(port);
    const report = await s.nextReport();
    expect(report.remoteAddress).toBe('203.0.113.7:40001');
    expect(report.result.outcome).toBe('done');
  });

  it('per-IP limits follow the address in the header, not the balancer', async () => {
    const s = await start({ maxPerIp: 1, workTimeoutMs: 60_000 });
    const refusals = recordRefusals();
    const sources = ['198.51.100.1', '198.51.100.1', '198.51.100.2'];
    const port = await relay(s.port, (n) => v2(sources[n] ?? '198.51.100.9', 50000 + n));
    await held(port, certs, (socket) => closers.push(() => socket.destroy()));
    // The second from 198.51.100.1 is over its limit: refused, counted under its own address.
    await expect(
      held(port, certs, (socket) => closers.push(() => socket.destroy())),
    ).rejects.toThrow();
    await until(() => refusals.some((r) => r.server === s.server), 'the refusal', 5000);
    expect(refusals.find((r) => r.server === s.server)).toMatchObject({
      ip: '198.51.100.1',
      reason: 'max-per-ip',
    });
    // 198.51.100.2 still has its own slot, through the same balancer.
    await held(port, certs, (socket) => closers.push(() => socket.destroy()));
    expect(s.server.inFlight).toBe(2);
  });

  it('a trusted source without a header is refused, and so is one whose header never comes', async () => {
    const logger = memoryLogger();
    const s = await start({ handshakeTimeoutMs: 300, logger });
    const refusals = recordRefusals();
    await expect(client(s.port)).rejects.toThrow();
    const silent = net.connect(s.port, '127.0.0.1');
    silent.on('error', () => {});
    closers.push(() => silent.destroy());
    await until(
      () => refusals.filter((r) => r.server === s.server).length === 2,
      'two refusals',
      5000,
    );
    const mine = refusals.filter((r) => r.server === s.server);
    expect(mine.map((r) => r.reason)).toEqual(['proxy-header', 'proxy-header']);
    expect(mine[0]?.detail).toMatch(/not a PROXY protocol header/);
    expect(mine[1]?.detail).toMatch(/within 300 ms/);
    expect(s.server.stats.refusedByReason['proxy-header']).toBe(2);
    // Logged as what it is, not as a limit.
    const warned = logger.lines.filter((l) => l.level === 'WARNING').map((l) => l.msg);
    expect(warned[0]).toMatch(
      /^Refused connection from 127\.0\.0\.1: no valid PROXY protocol header \(.*not a PROXY protocol header.*\)$/,
    );
    expect(warned.join('\n')).not.toMatch(/limit reached/);
  });

  it('a header from a source not in proxyFrom is refused; its plain TLS clients are served', async () => {
    const s = await start({ proxyFrom: ['10.0.0.0/8', '2001:db8::/32'] });
    const port = await relay(s.port, () => v2('203.0.113.7', 40001));
    await expect(client(port)).rejects.toThrow();
    await until(() => s.server.stats.handshakeFailures === 1, 'the handshake failure', 5000);
    expect(s.server.stats.handshakeFailuresByReason).toEqual({ proxy_header_untrusted: 1 });
    await client(s.port);
    expect((await s.nextReport()).remoteAddress).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it('a proxyFrom that is not a CIDR is a ConfigError naming the option', () => {
    expect(
      () =>
        new TlslpServer({
          host: '127.0.0.1',
          port: 0,
          tls: { cert: certs.serverCert, key: certs.serverKey, ca: certs.caCert },
          proxyProtocol: true,
          proxyFrom: ['10.0.0.0/33'],
        }),
    ).toThrow(expect.objectContaining({ option: 'proxyFrom' }) as ConfigError);
  });
});
