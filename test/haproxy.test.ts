/**
 * Behind a real load balancer: HAProxy (Debian's package; `.ci/run` installs it) in `mode tcp`
 * with `send-proxy-v2` and HTTP health checks against `/readyz`, in front of two tlslp-server
 * processes on loopback. Full sessions go through it; clients on 127.0.0.2 and 127.0.0.3 are
 * seen as such by the servers (log lines and `--max-per-ip`); SIGTERM on one server drains
 * it: its /readyz goes 503, HAProxy sends new sessions to the other one, and the session in
 * flight finishes. Every wait is bounded; nothing asserts on speed.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeCertificateSet, type CertificateSet } from '../src/pki/generate.js';
import { builtinSolver, runClient } from '../src/client/client.js';
import type { WorkSolver } from '../src/client/session.js';
import { SocketLineChannel } from '../src/transport/channel.js';
import {
  clientTls,
  freePort,
  haveSecondLoopback,
  testCerts,
  until,
  useTempDirs,
} from './helpers.js';
import { jsonLog, startServerProcess, type ServerProcess } from './server-process.js';

/** The haproxy binary, or null (with why) when it is not installed here. */
function findHaproxy(): string | null {
  for (const path of ['/usr/sbin/haproxy', '/usr/local/sbin/haproxy', '/usr/bin/haproxy'])
    if (existsSync(path)) return path;
  const which = spawnSync('sh', ['-c', 'command -v haproxy'], { encoding: 'utf8' });
  return which.status === 0 ? which.stdout.trim() : null;
}

const HAPROXY = findHaproxy();
if (!HAPROXY)
  console.warn('test/haproxy.test.ts skipped: haproxy is not installed (apt-get install haproxy)');

const tempDir = useTempDirs('tlslp-haproxy-');

type Backend = ServerProcess;

/** A backend behind the balancer: PROXY v2 from it, two sessions per client address. */
function startBackend(name: string, dir: string, files: Record<string, string>): Promise<Backend> {
  return startServerProcess(name, dir, files, [
    // The balancer checks a listener of its own; the metrics stay for the test to read.
    '--health-port',
    '0',
    '--proxy-protocol',
    '--n_bits',
    '8',
    '--max-per-ip',
    '2',
    '--max-handshake-failures-per-ip',
    '0',
    '--work-timeout',
    '60',
    '--shutdown-grace',
    '30',
  ]);
}

async function status(url: string): Promise<number> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(2000) })).status;
  } catch {
    return 0;
  }
}

/** HAProxy's view of each backend server (`UP`, `DOWN`, …), from its CSV stats. */
async function haproxyStates(statsPort: number): Promise<Record<string, string>> {
  const csv = await (await fetch(`http://127.0.0.1:${statsPort}/stats;csv`)).text();
  const states: Record<string, string> = {};
  for (const line of csv.split('\n')) {
    const [px, sv, ...rest] = line.split(',');
    if (px === 'be' && sv && sv !== 'BACKEND' && sv !== 'FRONTEND') states[sv] = rest[15] ?? '';
  }
  return states;
}

describe.skipIf(!HAPROXY)('behind HAProxy (send-proxy-v2, /readyz checks)', () => {
  let certs: CertificateSet;
  let backends: Backend[] = [];
  let haproxy: ChildProcess | undefined;
  let frontPort = 0;
  let statsPort = 0;
  const sockets = new Set<tls.TLSSocket>();

  beforeAll(async () => {
    certs = await testCerts();
    const dir = await tempDir();
    const written = await writeCertificateSet(dir, certs);
    backends = await Promise.all(['s1', 's2'].map((n) => startBackend(n, dir, written.paths)));
    [frontPort, statsPort] = [await freePort(), await freePort()];
    const cfg = join(dir, 'haproxy.cfg');
    await writeFile(
      cfg,
      [
        'global',
        '  maxconn 256',
        'defaults',
        '  mode tcp',
        '  timeout connect 2s',
        // Above --work-timeout: the balancer must not cut a session that is still solving.
        '  timeout client 90s',
        '  timeout server 90s',
        '  retries 3',
        '  option redispatch',
        'frontend fe',
        `  bind 127.0.0.1:${frontPort}`,
        '  default_backend be',
        'backend be',
        // One client address always reaches the same server while it is up.
        '  balance source',
        '  option httpchk GET /readyz',
        '  http-check expect status 200',
        '  default-server inter 100ms fall 2 rise 2',
        ...backends.map(
          (b) => `  server ${b.name} 127.0.0.1:${b.port} send-proxy-v2 check port ${b.healthPort}`,
        ),
        'frontend stats',
        '  mode http',
        `  bind 127.0.0.1:${statsPort}`,
        '  stats enable',
        '  stats uri /stats',
        '',
      ].join('\n'),
    );
    haproxy = spawn(HAPROXY as string, ['-f', cfg, '-db'], { stdio: ['ignore', 'ignore', 'pipe'] });
    haproxy.stderr?.resume();
    await until(
      async () => {
        const states = await haproxyStates(statsPort).catch((): Record<string, string> => ({}));
        return states.s1 === 'UP' && states.s2 === 'UP';
      },
      'HAProxy to see both servers up',
      20_000,
    );
  }, 60_000);

  afterAll(async () => {
    for (const s of sockets) s.destroy();
    haproxy?.kill('SIGKILL');
    for (const b of backends) b.child.kill('SIGKILL');
    await Promise.all(backends.map((b) => b.exited));
  });

  /** A session through the balancer from `localAddress`, held at WORK. */
  async function heldAtWork(localAddress: string): Promise<tls.TLSSocket> {
    const tcp = net.connect({ host: '127.0.0.1', port: frontPort, localAddress });
    tcp.on('error', () => {});
    const socket = tls.connect({ socket: tcp, ...clientTls(certs), servername: 'localhost' });
    sockets.add(socket);
    socket.on('error', () => {});
    const ch = new SocketLineChannel(socket);
    expect(await ch.readLine(5000)).toBe('HELLO');
    ch.writeLine('HELLOBACK');
    expect(await ch.readLine(5000)).toMatch(/^WORK /);
    return socket;
  }

  function client(solver?: WorkSolver): ReturnType<typeof runClient> {
    return runClient({
      host: '127.0.0.1',
      ports: [frontPort],
      tls: clientTls(certs),
      ...(solver ? { solver } : { solverOptions: { threads: 1 } }),
    });
  }

  /** Sessions each backend has started, from its log. */
  async function started(): Promise<number[]> {
    return Promise.all(
      backends.map(
        async (b) => (await jsonLog(b.log)).filter((r) => r.event === 'connected').length,
      ),
    );
  }

  it('full sessions complete through it', async () => {
    for (let i = 0; i < 3; i++) {
      // A drawn FAIL is a completed session too (the server's normal mode).
      await client().catch((err: Error) => expect(err.name).toBe('ServerFailError'));
    }
    expect((await started()).reduce((a, b) => a + b, 0)).toBe(3);
  });

  it('clients on 127.0.0.2 and 127.0.0.3 are seen as such: logs and --max-per-ip 2', async (ctx) => {
    if (!(await haveSecondLoopback())) ctx.skip();
    const held = [await heldAtWork('127.0.0.2'), await heldAtWork('127.0.0.2')];
    try {
      // The third from 127.0.0.2 is refused before TLS by whichever server has its two.
      await expect(heldAtWork('127.0.0.2')).rejects.toThrow();
      // 127.0.0.3 has its own two slots, through the same balancer.
      held.push(await heldAtWork('127.0.0.3'));
      const records = (await Promise.all(backends.map((b) => jsonLog(b.log)))).flat();
      const peers = records.filter((r) => r.event === 'connected').map((r) => String(r.peer));
      expect(peers.filter((p) => p.startsWith('127.0.0.2:'))).toHaveLength(2);
      expect(peers.filter((p) => p.startsWith('127.0.0.3:'))).toHaveLength(1);
      const refusal = async (): Promise<Record<string, unknown> | undefined> =>
        (await Promise.all(backends.map((b) => jsonLog(b.log))))
          .flat()
          .find((r) =>
            /Refused connection from 127\.0\.0\.2: max-per-ip/.test(String(r.msg ?? r.message)),
          );
      await until(
        async () => (await refusal()) !== undefined,
        'the refusal of 127.0.0.2 in a log',
        5000,
      ).catch(async (err: Error) => {
        const all = (await Promise.all(backends.map((b) => jsonLog(b.log)))).flat();
        throw new Error(
          `${err.message}: ${JSON.stringify(all.filter((r) => r.level !== 'INFO').slice(0, 3))}`,
        );
      });
    } finally {
      for (const s of held) s.destroy();
    }
    await until(
      async () =>
        (
          await Promise.all(
            backends.map((b) =>
              fetch(`http://127.0.0.1:${b.metricsPort}/metrics`).then((r) => r.text()),
            ),
          )
        ).every((t) => /tlslp_sessions_in_flight 0\b/.test(t)),
      'the held sessions to end',
      10_000,
    );
  });

  it('SIGTERM drains a server: /readyz 503, new sessions go to the other, the one in flight finishes', async () => {
    // A session that is solving when the signal comes: its solver waits to be let go.
    let letGo!: () => void;
    const gate = new Promise<void>((resolve) => (letGo = resolve));
    let solving!: () => void;
    const atWork = new Promise<void>((resolve) => (solving = resolve));
    const solve = builtinSolver({ threads: 1 });
    const inFlight = client(async (token, nBits, signal) => {
      solving();
      await gate;
      return solve(token, nBits, signal);
    }).then(
      () => 'completed',
      (err: Error) => (err.name === 'ServerFailError' ? 'completed' : `failed: ${err.message}`),
    );
    await atWork;
    const before = await started();
    let busy: boolean[] = [];
    // /metrics is rendered at most once a second: the first renders may predate the session.
    await until(async () => {
      busy = await Promise.all(
        backends.map(async (b) =>
          /tlslp_sessions_in_flight 1\b/.test(
            await (await fetch(`http://127.0.0.1:${b.metricsPort}/metrics`)).text(),
          ),
        ),
      );
      return busy.includes(true);
    }, 'the backend with the session in flight');
    const drained = backends[busy.indexOf(true)] as Backend;
    const other = backends.find((b) => b !== drained) as Backend;
    drained.child.kill('SIGTERM');
    await until(
      async () => (await status(`http://127.0.0.1:${drained.healthPort}/readyz`)) === 503,
      'the drained server /readyz to say 503',
      5000,
    );
    await until(
      async () => (await haproxyStates(statsPort))[drained.name] === 'DOWN',
      'HAProxy to take the draining server out',
      10_000,
    );
    expect(await status(`http://127.0.0.1:${other.healthPort}/readyz`)).toBe(200);
    await client().catch((err: Error) => expect(err.name).toBe('ServerFailError'));
    const after = await started();
    const i = backends.indexOf(other);
    expect((after[i] ?? 0) - (before[i] ?? 0)).toBe(1);
    letGo();
    expect(await inFlight).toBe('completed');
    expect(await drained.exited).toBe(0);
  }, 60_000);
});
