/**
 * Cluster mode faults: a port that cannot be had, workers that keep dying, and aggregated
 * counters across a worker's restart. Real processes on loopback.
 */
import { spawn } from 'node:child_process';
import cluster from 'node:cluster';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CertificateSet } from '../src/pki/generate.js';
import { CRASH_LOOP_EXIT, runPrimary } from '../src/server/cluster.js';
import { completeSessions, memoryLogger, testCerts, until, within } from './helpers.js';

const serverBin = resolve(import.meta.dirname, '..', 'dist', 'cli', 'server.js');

let certs: CertificateSet;
let dir: string;
let tlsFlags: string[];

beforeAll(async () => {
  certs = await testCerts();
  dir = await mkdtemp(join(tmpdir(), 'tlslp-cluster-faults-'));
  const files = {
    '--server-cert': ['server-cert.pem', certs.serverCert],
    '--server-key': ['server-key.pem', certs.serverKey],
    '--ca-cert': ['ca_cert.pem', certs.caCert],
  } as const;
  tlsFlags = [];
  for (const [flag, [name, pem]] of Object.entries(files)) {
    await writeFile(join(dir, name), pem, { mode: 0o600 });
    tlsFlags.push(flag, join(dir, name));
  }
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('cluster mode faults', () => {
  it('a port in use with --workers 2: the bin exits non-zero and prints the error once', async () => {
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      const child = spawn(
        process.execPath,
        [
          serverBin,
          '--workers',
          '2',
          '--host',
          '127.0.0.1',
          '--port',
          String(port),
          '--log-file',
          'none',
          ...tlsFlags,
        ],
        { cwd: dir, env: { ...process.env, FORCE_COLOR: '0' }, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const closed = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
      let code: number | null;
      try {
        code = await within(closed, 30_000, 'the server bin to exit');
      } catch (err) {
        child.kill('SIGKILL');
        throw err;
      }
      const line = `tlslp-server: error: cannot listen on 127.0.0.1:${port}: address already in use (pick another --port)`;
      expect(code).not.toBe(0);
      expect(code).not.toBeNull();
      expect(stderr.split('\n').filter((l) => l === line)).toHaveLength(1);
      expect(stderr.trim()).toBe(line);
      expect(stdout).not.toMatch(/listening on/);
    } finally {
      taken.close();
    }
  });

  it.each([1, 2])(
    '%i worker(s) that keep dying: the primary stops with a non-zero code and one ERROR saying why',
    async (workers) => {
      // Listens (so it counts as started), then dies soon after (its listening message reaches
      // the primary first).
      const script = join(dir, 'dies.mjs');
      await writeFile(
        script,
        "import net from 'node:net';\n" +
          "net.createServer().listen(0, '127.0.0.1', () => setTimeout(() => process.exit(3), 20));\n",
      );
      const logger = memoryLogger();
      const code = await within(
        runPrimary({ workers, logger, shutdownGraceMs: 1000, exec: script, args: [] }),
        60_000,
        'the primary to give up',
      );
      expect(code).toBe(CRASH_LOOP_EXIT);
      expect(code).not.toBe(0);
      const why = logger.lines.filter((l) => /keep dying/.test(l.msg));
      expect(why).toHaveLength(1);
      expect(why[0]?.level).toBe('ERROR');
      expect(why[0]?.msg).toMatch(/more than 10 restarts in a minute/);
    },
  );

  it('aggregated counters do not go backwards when workers are killed and restarted', async () => {
    const logger = memoryLogger();
    let port = 0;
    const listens: number[] = [];
    const onListening = (w: { id: number }): void => void listens.push(w.id);
    cluster.on('listening', onListening);
    const exit = runPrimary({
      workers: 2,
      logger,
      shutdownGraceMs: 5000,
      exec: serverBin,
      host: '127.0.0.1',
      args: [
        '--host',
        '127.0.0.1',
        '--port',
        '0',
        '--n_bits',
        '4',
        '--metrics-port',
        '0',
        ...tlsFlags,
      ],
      metrics: { host: '127.0.0.1', port: 0 },
      onListening: (a) => (port = a.port),
    });
    try {
      await until(() => port > 0, 'workers listening', 20_000);
      const metricsUrl = /Metrics on (http:\S+)/.exec(
        logger.lines.map((l) => l.msg).join('\n'),
      )?.[1];
      expect(metricsUrl).toBeDefined();
      const scrape = async (): Promise<string> => (await fetch(metricsUrl as string)).text();

      const sessions = 8;
      // Each ends in DONE/OK or a drawn FAIL; either is a started session.
      await completeSessions(port, certs, sessions);
      // Sessions are counted at their handshake; wait until every one shows.
      let before = '';
      await until(async () => {
        before = await scrape();
        return counterSamples(before).get('tlslp_sessions_started_total') === sessions;
      }, 'every session in the scraped counters');
      const was = counterSamples(before);
      expect(was.get('tlslp_sessions_started_total')).toBe(sessions);

      // Kill every original worker in turn (the sessions ran on one or both), each time
      // waiting for its replacement to listen.
      for (const w of Object.values(cluster.workers ?? {})) {
        if (!w) continue;
        const seen = listens.length;
        w.process.kill('SIGKILL');
        await until(() => listens.length > seen, 'a replacement worker listening', 20_000);
        const now = counterSamples(await scrape());
        for (const [key, value] of was)
          expect(now.get(key) ?? 0, key).toBeGreaterThanOrEqual(value);
        expect(now.get('tlslp_sessions_started_total')).toBe(sessions);
      }
      expect(
        logger.lines.filter((l) => /died \(SIGKILL\); starting another/.test(l.msg)),
      ).toHaveLength(2);
    } finally {
      cluster.off('listening', onListening);
      process.emit('SIGTERM');
    }
    expect(await within(exit, 30_000, 'the primary to stop')).toBe(0);
  });
});

/** The samples of the counter and histogram families in an exposition text, by name and labels. */
function counterSamples(text: string): Map<string, number> {
  const cumulative = new Set<string>();
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (counter|histogram)$/.exec(line);
    if (type) {
      cumulative.add(type[1] as string);
      continue;
    }
    const sample = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!sample) continue;
    const name = sample[1] as string;
    const family = name.replace(/_(bucket|sum|count)$/, '');
    if (cumulative.has(name) || cumulative.has(family))
      samples.set(`${name}${sample[2] ?? ''}`, Number(sample[3]));
  }
  return samples;
}
