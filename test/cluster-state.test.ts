/**
 * `--workers 2` without `--state`: the primary keeps the workers' shared limits, so two
 * workers do not double `--max-per-ip`, `--max-per-identity` or the handshake-failure budget.
 * The real bin (`node dist/cli/server.js`) on loopback, sessions going to both workers, the
 * counts read from the primary's aggregated /metrics.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import tls from 'node:tls';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { writeCertificateSet, type CertificateSet } from '../src/pki/generate.js';
import { FAIL_REASONS } from '../src/server/session.js';
import { firstLine } from './first-line.js';
import { heldAtWork, testCerts, until, useTempDirs, within } from './helpers.js';

const serverBin = resolve(import.meta.dirname, '..', 'dist', 'cli', 'server.js');
const TIMEOUT = 20_000;
const tempDir = useTempDirs('tlslp-cluster-state-');

let certs: CertificateSet;
let tlsFlags: string[];

beforeAll(async () => {
  certs = await testCerts();
  const { paths } = await writeCertificateSet(await tempDir(), certs);
  tlsFlags = ['--server-cert', paths.serverCert, '--server-key', paths.serverKey];
  tlsFlags.push('--ca-cert', paths.caCert);
}, 60_000);

/** A `tlslp-server --workers 2` of the test's own. */
interface Cluster {
  port: number;
  /** The primary's aggregated /metrics. */
  metrics(): Promise<string>;
  /** What it wrote to stderr so far (`--log-file -`: every record, workers' as `[wN] …`). */
  log(): string;
  child: ChildProcess;
}

const running: Cluster[] = [];
const held: tls.TLSSocket[] = [];

afterEach(async () => {
  for (const socket of held.splice(0)) socket.destroy();
  for (const c of running.splice(0)) await stop(c.child);
});

/** SIGTERM by PID, and SIGKILL if it has not stopped within 10 s. */
async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  try {
    await within(exited, 10_000, 'the server to stop');
  } catch {
    child.kill('SIGKILL');
    await exited;
  }
}

/** Start the bin with two workers, no store, and `args`; resolves once both listen. */
async function cluster(args: string[]): Promise<Cluster> {
  const child = spawn(
    process.execPath,
    [
      serverBin,
      ...['--workers', '2', '--host', '127.0.0.1', '--port', '0', '--n_bits', '4'],
      ...['--metrics-port', '0', '--log-file', '-', '--log-level', 'DEBUG'],
      ...tlsFlags,
      ...args,
    ],
    {
      env: { ...process.env, FORCE_COLOR: '0', XDG_STATE_HOME: await tempDir() },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const c: Cluster = {
    port: 0,
    metrics: async () => (await fetch(metricsUrl)).text(),
    log: () => stderr,
    child,
  };
  running.push(c);
  let metricsUrl = '';
  await until(
    () => {
      if (child.exitCode !== null) throw new Error(`the server exited: ${stdout}${stderr}`);
      const listening = /listening on 127\.0\.0\.1:(\d+) \(2 workers\)/.exec(stdout);
      const metrics = /Metrics on (http:\S+)/.exec(stderr);
      if (!listening || !metrics) return false;
      c.port = Number(listening[1]);
      metricsUrl = metrics[1] as string;
      return true;
    },
    'both workers to listen',
    15_000,
  );
  return c;
}

/** The sum of the samples of `name` (with `labels` among theirs, when given) in a scrape. */
function metricSum(text: string, name: string, labels = ''): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m?.[1] === name && (m[2] ?? '').includes(labels)) sum += Number(m[3]);
  }
  return sum;
}

/** The worker (`wN`) of each session in the log (its "Client connected" line), in order. */
function sessionWorkers(log: string): string[] {
  // `[w1] [#1 127.0.0.1:44756] Client connected …`: the worker, then the session.
  return [...log.matchAll(/\[(w\d+)\] (?:\[[^\]]*\] )?Client connected/g)].map(
    (m) => m[1] as string,
  );
}

/** `n` sessions left at WORK; resolves once the log shows they went to both workers. */
async function holdOnBoth(c: Cluster, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await heldAtWork(c.port, certs, (s) => held.push(s));
  await until(() => sessionWorkers(c.log()).length === n, `${n} sessions in the log`);
  expect(new Set(sessionWorkers(c.log()))).toEqual(new Set(['w1', 'w2']));
}

/** Resolves once the log shows both workers refusing connections for `reason`. */
async function refusedOnBoth(c: Cluster, reason: string): Promise<void> {
  const line = new RegExp(`\\[(w\\d+)\\] Refused connection from [^:]+: ${reason} limit`, 'g');
  const workers = (): Set<string> =>
    new Set([...c.log().matchAll(line)].map((m) => m[1] as string));
  await until(() => workers().size === 2, `both workers to refuse for ${reason}`);
  expect(workers()).toEqual(new Set(['w1', 'w2']));
}

/** Resolves with the samples of `name`/`labels`, once they reach `n` (the scrape polls the workers). */
async function metricReaches(c: Cluster, n: number, name: string, labels = ''): Promise<void> {
  let seen = -1;
  await until(
    async () => (seen = metricSum(await c.metrics(), name, labels)) === n,
    `${name}${labels} to reach ${n} (last seen ${seen})`,
  );
}

/** One mutual-TLS handshake without a client certificate: the server fails it (or refuses it first). */
function noCertHandshake(port: number): Promise<void> {
  const socket = tls.connect({
    host: '127.0.0.1',
    port,
    ca: certs.caCert,
    servername: 'localhost',
  });
  socket.on('error', () => {});
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  return within(closed, 5000, 'the no-certificate handshake to end').finally(() =>
    socket.destroy(),
  );
}

describe('--workers 2 without --state: the primary keeps one set of limits', () => {
  it(
    '--max-per-ip 2 holds exactly 2 sessions across both workers; the next ones are refused before HELLO, on either worker',
    async () => {
      const c = await cluster(['--max-per-ip', '2']);
      await holdOnBoth(c, 2);
      // Each worker has one session of its own: on its own it would let another in.
      expect(await firstLine(c.port, certs)).toBe('closed');
      expect(await firstLine(c.port, certs)).toBe('closed');
      await metricReaches(c, 2, 'tlslp_connections_refused_total', 'reason="max-per-ip"');
      await refusedOnBoth(c, 'max-per-ip');
      await metricReaches(c, 2, 'tlslp_sessions_in_flight');
      // A session ends: its place is the fleet's again.
      held.shift()?.destroy();
      await metricReaches(c, 1, 'tlslp_sessions_in_flight');
      await heldAtWork(c.port, certs, (s) => held.push(s));
      expect(await firstLine(c.port, certs)).toBe('closed');
      await metricReaches(c, 3, 'tlslp_connections_refused_total', 'reason="max-per-ip"');
    },
    TIMEOUT,
  );

  it(
    '--max-per-identity 3 holds exactly 3 sessions of one certificate across both workers; the 4th gets FAIL before HELLO',
    async () => {
      const c = await cluster(['--max-per-identity', '3']);
      await holdOnBoth(c, 3);
      const fail = `FAIL ${FAIL_REASONS.maxPerIdentity}`;
      expect(await firstLine(c.port, certs)).toBe(fail);
      expect(await firstLine(c.port, certs)).toBe(fail);
      await metricReaches(c, 2, 'tlslp_sessions_failed_total', 'reason="max_per_identity"');
      await metricReaches(c, 3, 'tlslp_sessions_in_flight');
      held.shift()?.destroy();
      await metricReaches(c, 2, 'tlslp_sessions_in_flight');
      expect(await firstLine(c.port, certs)).toBe('HELLO');
    },
    TIMEOUT,
  );

  it(
    'the handshake-failure budget (burst 5) is one for both workers: 30 no-certificate handshakes from one source get at most 8 through',
    async () => {
      const c = await cluster(['--max-handshake-failures-per-ip', '6']);
      for (let i = 0; i < 30; i++) await noCertHandshake(c.port);
      let failed = 0;
      let refused = 0;
      await until(async () => {
        const text = await c.metrics();
        failed = metricSum(text, 'tlslp_handshake_failures_total');
        refused = metricSum(text, 'tlslp_connections_refused_total', 'reason="handshake-failures"');
        return failed + refused === 30;
      }, 'the 30 attempts to be counted');
      // Two budgets of 5 would let about 10 through; one lets 5, and a few more at most
      // while a spend crosses to the primary.
      expect(failed).toBeGreaterThanOrEqual(5);
      expect(failed).toBeLessThanOrEqual(8);
      expect(refused).toBe(30 - failed);
      // Both workers refused some: the blocked IP reached the one that did not spend last.
      await refusedOnBoth(c, 'handshake-failures');
    },
    TIMEOUT,
  );
});
