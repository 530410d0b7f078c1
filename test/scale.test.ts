/** Metrics, adaptive difficulty, the stats line, cluster mode and graceful shutdown of the bin. */
import { spawn } from 'node:child_process';
import diagnosticsChannel from 'node:diagnostics_channel';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCertificateSet, type CertificateSet } from '../src/pki/generate.js';
import { runClient } from '../src/client/client.js';
import type { Logger } from '../src/logging/index.js';
import { checksum, verifyWork } from '../src/protocol/hash.js';
import { ServerMetrics, serveMetrics } from '../src/server/metrics.js';
import {
  clientTls,
  completeSessions,
  copySharedCerts,
  rawClient,
  startServer,
  testCerts,
  until,
} from './helpers.js';

let certs: CertificateSet;
beforeAll(async () => {
  certs = await testCerts();
});

function memoryLogger(lines: string[]): Logger {
  const push = (m: string): void => void lines.push(m);
  return {
    name: 't',
    level: 'DEBUG',
    debug: push,
    info: push,
    warning: push,
    error: push,
    isEnabled: () => true,
    close: async () => {},
  };
}

describe('metrics', () => {
  it('counts sessions, outcomes, handshake failures and n_bits on /metrics', async () => {
    const metrics = new ServerMetrics();
    const s = await startServer(certs, {
      nBits: 5,
      simulateFailures: false,
      bodyRequests: 1,
      metrics,
    });
    const http = await serveMetrics(metrics.registry, '127.0.0.1', 0);
    try {
      await runClient({ host: '127.0.0.1', ports: [s.port], tls: clientTls(certs) });
      await s.sessionsEnded(1);
      const { ch } = await rawClient(s.port, certs);
      await ch.readLine(2000);
      ch.writeLine('nope');
      await s.sessionsEnded(2);
      const text = await (await fetch(`http://127.0.0.1:${http.port}/metrics`)).text();
      expect(text).toMatch(/^tlslp_sessions_started_total 2$/m);
      expect(text).toMatch(/^tlslp_sessions_completed_total\{outcome="done"\} 1$/m);
      expect(text).toMatch(/^tlslp_sessions_failed_total\{reason="bad_hello"\} 1$/m);
      expect(text).toMatch(/^tlslp_sessions_in_flight 0$/m);
      expect(text).toMatch(/^tlslp_n_bits 5$/m);
      expect(text).toMatch(/^tlslp_work_solve_seconds_count 1$/m);
      expect(text).toMatch(/^tlslp_session_duration_seconds_count 2$/m);
      expect((await fetch(`http://127.0.0.1:${http.port}/nothing`)).status).toBe(404);
    } finally {
      await http.close();
      await s.server.close();
    }
  });
});

describe('adaptive difficulty in the server', () => {
  it('raises n_bits for new connections under concurrent load and lowers it when calm, logging each change', async () => {
    const lines: string[] = [];
    const s = await startServer(certs, {
      adaptive: { minBits: 2, maxBits: 12, targetInFlight: 2, perIpWeight: 100, calmTicks: 2 },
      adaptiveIntervalMs: 50,
      workTimeoutMs: 60_000,
      logger: memoryLogger(lines),
    });
    const held = [];
    try {
      for (let i = 0; i < 8; i++) {
        const c = await rawClient(s.port, certs);
        await c.ch.readLine(2000);
        c.ch.writeLine('HELLOBACK');
        await c.ch.readLine(2000); // WORK, left unanswered: the session stays in flight
        held.push(c);
      }
      await until(() => s.server.stats.nBits > 2);
      const probe = await rawClient(s.port, certs);
      await probe.ch.readLine(2000);
      probe.ch.writeLine('HELLOBACK');
      const work = await probe.ch.readLine(2000);
      expect(Number(work.split(' ')[2])).toBeGreaterThan(2);
      held.push(probe);
      expect(lines.some((l) => /Difficulty raised: n_bits 2 -> \d+/.test(l))).toBe(true);
    } finally {
      for (const c of held) c.socket.destroy();
    }
    await until(() => s.server.stats.nBits === 2);
    expect(lines.some((l) => /Difficulty lowered/.test(l))).toBe(true);
    await s.server.close();
  });

  it('one IP cannot inflate the load past its weight', async () => {
    const s = await startServer(certs, {
      adaptive: { minBits: 2, maxBits: 12, targetInFlight: 2, perIpWeight: 1, calmTicks: 2 },
      adaptiveIntervalMs: 50,
      workTimeoutMs: 60_000,
    });
    const held = [];
    // Adaptive ticks, counted by the event each one publishes (public channel name): a rise
    // would come at the first tick that sees the 8 sessions, so a few ticks stand for "a while".
    let ticks = 0;
    const onTick = (message: unknown): void => {
      if ((message as { server?: unknown }).server === s.server) ticks++;
    };
    diagnosticsChannel.subscribe('tlslp:server:identity-difficulty', onTick);
    try {
      for (let i = 0; i < 8; i++) {
        const c = await rawClient(s.port, certs);
        await c.ch.readLine(2000);
        held.push(c);
      }
      const seen = ticks;
      await until(() => ticks >= seen + 3, 'three adaptive ticks with the 8 sessions held', 5000);
      // 8 sessions from 127.0.0.1 weigh 1: load 0.5, no rise.
      expect(s.server.stats.nBits).toBe(2);
    } finally {
      diagnosticsChannel.unsubscribe('tlslp:server:identity-difficulty', onTick);
      for (const c of held) c.socket.destroy();
      await s.server.close();
    }
  });
});

describe('periodic stats line', () => {
  it('logs a one-line summary', async () => {
    const lines: string[] = [];
    const s = await startServer(certs, { statsIntervalMs: 50, logger: memoryLogger(lines) });
    await until(() => lines.some((l) => l.startsWith('Stats: ')));
    expect(lines.find((l) => l.startsWith('Stats: '))).toMatch(
      /^Stats: 0 in flight, 0 open connections, 0 started, .* n_bits 8$/,
    );
    await s.server.close();
  });
});

describe('the server bin: cluster mode and graceful shutdown', () => {
  const bin = resolve(import.meta.dirname, '..', 'dist', 'cli', 'server.js');
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tlslp-scale-'));
    // The run's shared set, where the bin looks by default (./certificates).
    await copySharedCerts(join(dir, 'certificates'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  function startBin(args: string[]) {
    const child = spawn(process.execPath, [bin, '--host', '127.0.0.1', '--port', '0', ...args], {
      cwd: dir,
      env: { ...process.env, XDG_STATE_HOME: join(dir, 'state') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exit = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    const port = (async () => {
      await until(() => /listening on [^:]+:\d+/.test(out), 'the listening line', 20_000);
      return Number(/listening on [^:]+:(\d+)/.exec(out)?.[1]);
    })();
    return { child, exit, port, output: () => out };
  }

  const loadCerts = (): Promise<CertificateSet> => readCertificateSet(join(dir, 'certificates'));

  it('--workers 2 serves sessions and stops on SIGTERM with exit 0', async () => {
    const srv = startBin(['--workers', '2', '--n_bits', '4']);
    const port = await srv.port;
    const set = await loadCerts();
    // Each ends in DONE/OK or a drawn FAIL; none is refused.
    await completeSessions(port, set, 6);
    expect(srv.output()).toMatch(/\(2 workers\)/);
    srv.child.kill('SIGTERM');
    expect(await srv.exit).toBe(0);
  });

  it('SIGTERM lets a session in progress finish, then exits 0', async () => {
    const srv = startBin(['--n_bits', '4', '--random-string', 'abc', '--shutdown-grace', '20']);
    const port = await srv.port;
    const set = await loadCerts();
    const { ch } = await rawClient(port, set);
    await ch.readLine(2000);
    srv.child.kill('SIGTERM');
    ch.writeLine('HELLOBACK');
    const token = (await ch.readLine(2000)).split(' ')[1] as string;
    let i = 0;
    while (!verifyWork(token, `q${i}`, 4)) i++;
    ch.writeLine(`q${i}`);
    // The session runs to its end (DONE or a drawn FAIL) although shutdown has begun.
    for (;;) {
      const line = await ch.readLine(5000);
      if (line === 'DONE') {
        ch.writeLine('OK');
        break;
      }
      if (line.startsWith('FAIL ')) {
        expect(line).toBe('FAIL abc');
        break;
      }
      ch.writeLine(`${checksum(token, 'abc')} v`);
    }
    expect(await srv.exit).toBe(0);
  });

  it('SIGHUP reopens the log file (as logrotate expects) and the server keeps serving', async () => {
    const log = join(dir, 'hup', 'server.log');
    const srv = startBin(['--n_bits', '4', '--log-file', log]);
    const port = await srv.port;
    await completeSessions(port, await loadCerts(), 1);
    // logrotate: move the file away, then signal.
    await rename(log, `${log}.1`);
    srv.child.kill('SIGHUP');
    await until(
      () => existsSync(log) && readFileSync(log, 'utf8').includes('log file reopened'),
      'the reopened log file',
    );
    await completeSessions(port, await loadCerts(), 2);
    await until(
      () => (readFileSync(log, 'utf8').match(/Session ended/g) ?? []).length === 2,
      'two sessions in the new file',
    );
    expect(readFileSync(`${log}.1`, 'utf8').match(/Session ended/g)).toHaveLength(1);
    expect(srv.child.exitCode).toBeNull();
    srv.child.kill('SIGTERM');
    expect(await srv.exit).toBe(0);
  });

  it('a second signal exits at once, even with a session in progress', async () => {
    const log = join(dir, 'second-signal', 'server.log');
    const srv = startBin(['--n_bits', '4', '--shutdown-grace', '60', '--log-file', log]);
    const port = await srv.port;
    const { ch } = await rawClient(port, await loadCerts());
    await ch.readLine(2000);
    srv.child.kill('SIGTERM');
    // The second signal must find the first handled (graceful shutdown begun): its log line.
    await until(
      () => existsSync(log) && readFileSync(log, 'utf8').includes('SIGTERM received'),
      'the first SIGTERM handled',
    );
    srv.child.kill('SIGTERM');
    expect(await srv.exit).toBe(130);
  });

  it('the client bin stops solving at once on Ctrl-C (exit 130)', async () => {
    const srv = startBin(['--n_bits', '60', '--work-timeout', '600']);
    const port = await srv.port;
    const clientLog = join(dir, 'ctrl-c', 'client.log');
    const client = spawn(
      process.execPath,
      [
        resolve(import.meta.dirname, '..', 'dist', 'cli', 'client.js'),
        '--host',
        '127.0.0.1',
        '--ports',
        String(port),
        '--json',
        '--log-file',
        clientLog,
      ],
      {
        cwd: dir,
        env: { ...process.env, XDG_STATE_HOME: join(dir, 'state') },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    client.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => client.on('close', (code) => r(code)));
    // Interrupt it solving: once it logs the WORK it received, it is in the solver.
    await until(
      () =>
        existsSync(clientLog) &&
        readFileSync(clientLog, 'utf8').includes('Received WORK with n_bits 60'),
      'the client at WORK',
    );
    client.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(JSON.parse(out.trim())).toMatchObject({
      ok: false,
      nBits: 60,
      errorCode: 'TLSLP_ERR_INTERRUPTED',
    });
    srv.child.kill('SIGTERM');
    expect(await srv.exit).toBe(0);
  });
});
