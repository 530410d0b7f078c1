#!/usr/bin/env node
// @ts-check
/**
 * Server benchmark (`npm run bench:server`, which builds first).
 *
 * Throughput mode (default): a TlslpServer in a child process (bench/server-child.mjs;
 * mutual TLS, n_bits 8, normal mode) and C concurrent clients (runClient, one solver thread)
 * in this process driving S full sessions. A server-drawn FAIL (about 90% of sessions in
 * normal mode) is a completed session. Next to it, a reference measured in the same run:
 * bare mutual-TLS handshakes per second against a minimal `tls.createServer` (same
 * certificates, same concurrency, also in a child process). With it, the same handshakes
 * against a TlslpServer child, each ended at the server's HELLO, measured in the same
 * alternating quarters as the reference: the server CPU a tlslp handshake costs against a
 * bare one (`server CPU handshake / ref.`, goal <= 1.15x), and what a whole session costs
 * against it (`server CPU session / ref.`: the handshake, WORK and the body steps). A bare
 * `--reference` means its default count, 1000.
 *
 *   node bench/server.mjs [--sessions S] [--concurrency C] [--reference N] [--json] [--cpu-prof]
 *
 * Hold mode: N concurrent idle-but-valid sessions (TLS up, HELLO/HELLOBACK done, WORK
 * received, then silence), server RSS before and after.
 *
 *   node bench/server.mjs --hold N [--batch B] [--json]
 *
 * Key-type mode: bare mutual-TLS handshakes per second against two minimal TLS servers, one
 * with an RSA 2048 server key (the default set) and one with EC P-256 (`tlslp certs
 * --key-type ec`), in alternating phases of one run (RSA first in odd phases, EC first in
 * even ones), so background load falls on both alike; prints both rates and their ratio.
 * --handshakes is per key type (default 4000), split evenly over the phases (default 6).
 *
 *   node bench/server.mjs --compare-key-types [--handshakes N] [--phases P] [--concurrency C] [--json]
 *
 * Store mode (issue 22): full sessions as in throughput mode against two server children
 * alike but for the fleet state, one without a store and one with `state` (a Redis URL, or
 * `auto` or no value: a private redis-server on a free port, stopped by PID at the end), in
 * alternating phases of one run (without first in odd phases, with first in even ones). Both
 * have `maxPerIp`, `maxPerIdentity` and the failure budget set high but on, so with the store
 * every session costs an acquire and a release round trip and a failure a spend. Prints
 * sessions/s of both and their ratio (goal >= 0.9), p50/p99 session time and the p99 the store
 * adds (goal <= 2 ms), server CPU per session, the store's calls per session and the decisions
 * that fell back to local limits (they should be 0). --sessions is per side (default 3000),
 * split over the phases (default 4); --concurrency defaults to 200 as elsewhere.
 *
 *   node bench/server.mjs --state [auto|redis://host:port] [--sessions S] [--phases P] [--concurrency C] [--json]
 *
 * CRL mode: mutual-TLS handshakes (up to the server's HELLO, which comes once the gate has
 * judged the certificate) against two TlslpServers alike but for their CRL: an empty one and
 * one of N entries, in alternating phases of one run; prints the rates, the server CPU per
 * handshake of each, their ratio, and each server's RSS.
 *
 *   node bench/server.mjs --compare-crl N [--handshakes H] [--phases P] [--concurrency C] [--json]
 *
 * With --json the last line of output is exactly one JSON object. Everything stays on
 * 127.0.0.1 and the run stops by itself (--deadline, default 85 s).
 */
import { benchArgs } from './args.mjs';
import { bareStateMeansAuto, maskUrl, scriptCalls, startRedis } from './redis.mjs';
import { bigCrl } from './attack-certs.mjs';
import { execFileSync, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { clearTimeout, setTimeout } from 'node:timers';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';

const distIndex = fileURLToPath(new URL('../dist/index.js', import.meta.url));
if (!existsSync(distIndex)) {
  process.stderr.write('bench/server.mjs: dist/ is missing: run npm run build first\n');
  process.exit(2);
}
const lib = await import('tlslp');
const {
  FAIL_REASONS,
  ServerFailError,
  SocketLineChannel,
  closeSolverPool,
  generateCertificateSet,
  runClient,
} = lib;

const USAGE =
  'usage: node bench/server.mjs [--sessions S] [--concurrency C] [--reference N] [--n-bits B] [--json] [--cpu-prof] [--deadline SECONDS]\n' +
  '       node bench/server.mjs --hold N [--batch B] [--json] [--deadline SECONDS]\n' +
  '       node bench/server.mjs --compare-key-types [--handshakes N] [--phases P] [--concurrency C] [--json] [--deadline SECONDS]\n' +
  '       node bench/server.mjs --state [auto|redis://host:port] [--sessions S] [--phases P] [--concurrency C] [--n-bits B] [--json] [--deadline SECONDS]\n' +
  '       node bench/server.mjs --compare-crl N [--handshakes H] [--phases P] [--concurrency C] [--json] [--deadline SECONDS]\n';

bareStateMeansAuto();
// A bare --reference (as in `npm run bench:server -- --reference`) means its default count.
{
  const i = process.argv.indexOf('--reference');
  const next = process.argv[i + 1];
  if (i > 1 && (next === undefined || next.startsWith('-'))) process.argv.splice(i + 1, 0, '1000');
}

const { opts, int: intFlag } = benchArgs('bench/server.mjs', USAGE, {
  sessions: { type: 'string' },
  concurrency: { type: 'string', default: '200' },
  reference: { type: 'string', default: '1000' },
  'n-bits': { type: 'string', default: '8' },
  hold: { type: 'string' },
  batch: { type: 'string', default: '200' },
  'compare-key-types': { type: 'boolean', default: false },
  'compare-crl': { type: 'string' },
  handshakes: { type: 'string', default: '4000' },
  phases: { type: 'string' },
  state: { type: 'string' },
  deadline: { type: 'string', default: '85' },
  'cpu-prof': { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
});

// Defaults that differ by mode: --sessions is per side in store mode.
opts.sessions ??= opts.state !== undefined ? '3000' : '2000';
opts.phases ??= opts.state !== undefined ? '4' : '6';

const deadlineMs = intFlag('deadline', 1) * 1000;
const started = performance.now();
/** Aborts every client when the overall deadline passes. */
const overall = new AbortController();
setMaxListeners(0, overall.signal);
const deadlineTimer = setTimeout(() => overall.abort(new Error('deadline')), deadlineMs);
deadlineTimer.unref();

const children = new Set();

// ---------------------------------------------------------------------------------------------
// The server child

/**
 * Fork bench/server-child.mjs, start a server in it and resolve once it listens. `start`:
 * more fields of the start message (`metrics: true`); `extraTls`: more TLS material (`crl`).
 * @returns {Promise<{ port: number, request(type: string, extra?: object): Promise<any>, close(): Promise<number|null>, child: import('node:child_process').ChildProcess }>}
 */
async function startChild(mode, certs, server, execArgv = [], start = {}, extraTls = {}) {
  const child = fork(fileURLToPath(new URL('./server-child.mjs', import.meta.url)), [], {
    execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.add(child);
  const waiting = new Map();
  let exited = null;
  const exit = new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      children.delete(child);
      exited = { code, signal };
      for (const [, w] of waiting)
        w.reject(new Error(`server child exited (code ${code}, signal ${signal})`));
      waiting.clear();
      resolve(code);
    }),
  );
  child.on('message', (/** @type {any} */ msg) => {
    const w = waiting.get(msg.type);
    if (w) {
      waiting.delete(msg.type);
      w.resolve(msg);
    }
  });
  const request = (type, extra = {}, answer = type) =>
    new Promise((resolve, reject) => {
      if (exited) return reject(new Error(`server child exited (code ${exited.code})`));
      const timer = setTimeout(() => {
        waiting.delete(answer);
        reject(new Error(`server child did not answer ${type}`));
      }, 15_000);
      waiting.set(answer, {
        resolve: (m) => (clearTimeout(timer), resolve(m)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      child.send({ type, ...extra });
    });
  const listening = await request(
    'start',
    {
      ...start,
      mode,
      tls: { cert: certs.serverCert, key: certs.serverKey, ca: certs.caCert, ...extraTls },
      server,
    },
    'listening',
  );
  return {
    child,
    port: listening.port,
    request,
    async close() {
      if (!exited) {
        await request('close', {}, 'closed').catch(() => undefined);
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exit;
        clearTimeout(t);
      }
      return exited.code;
    },
  };
}

function killChildren() {
  for (const c of children) c.kill('SIGKILL');
}
process.on('exit', killChildren);

// ---------------------------------------------------------------------------------------------
// Helpers

/** Run `count` jobs with at most `concurrency` at a time; stop starting new ones on abort. */
async function runPool(count, concurrency, signal, job) {
  let next = 0;
  const worker = async () => {
    while (next < count && !signal.aborted) {
      const i = next++;
      await job(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

function percentile(sorted, p) {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

const round = (x, digits = 1) => Number(x.toFixed(digits));
const mb = (bytes) => round(bytes / (1024 * 1024), 1);
const DRAWN_FAIL = /^[A-Za-z0-9_-]{1,128}$/;
/** @type {Set<string>} */
const SERVER_REASONS = new Set(Object.values(FAIL_REASONS));

function table(rows) {
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`).join('\n');
}

function out(line = '') {
  process.stdout.write(`${line}\n`);
}

function commandLine() {
  // A store URL's password is not shown.
  const args = process.argv.slice(2).map((a) => (/^[a-z]+:\/\//.test(a) ? maskUrl(a) : a));
  return `node bench/server.mjs ${args.join(' ')}`.trim();
}

/** CPU time this process has used, in microseconds (user + system). */
function cpuMicros() {
  const u = process.cpuUsage();
  return u.user + u.system;
}

function fdLimit() {
  try {
    return Number(execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim());
  } catch {
    return NaN;
  }
}

/** Exit 2 when `concurrency` clients (and the servers' side) need more descriptors than ulimit -n. */
function checkFds(concurrency) {
  const limit = fdLimit();
  if (Number.isFinite(limit) && concurrency + 100 > limit) {
    process.stderr.write(
      `bench/server.mjs: --concurrency ${concurrency} needs more file descriptors than ulimit -n (${limit})\n`,
    );
    process.exit(2);
  }
}

// ---------------------------------------------------------------------------------------------
// Reference: bare mutual-TLS handshakes

/** One mutual-TLS handshake, confirmed by the server's first line, then hang up. */
function handshakeOnce(port, certs, timeoutMs) {
  return new Promise((resolve) => {
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      ca: certs.caCert,
      cert: certs.clientCert,
      key: certs.clientKey,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.2',
    });
    const done = (err) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(err ? (err.code ?? 'ERROR') : null);
    };
    const timer = setTimeout(() => done({ code: 'TIMEOUT' }), timeoutMs);
    socket.once('error', done);
    // The server writes a line once it has verified the client certificate.
    socket.once('data', () => done(null));
    socket.once('end', () => done({ code: 'CLOSED' }));
  });
}

/**
 * The reference: a bare mutual-TLS server in its own child. Measured in two halves, one
 * before and one after the sessions, so a change in background load during the run
 * affects both measurements alike.
 * @param {any} certs
 * @param {number} concurrency
 * @param {{ server: object, tls: object } | null} [tlslp]
 */
async function startReference(certs, concurrency, tlslp = null) {
  // With `tlslp`: a TlslpServer (these server options and TLS extras) in place of bare TLS.
  const ref = tlslp
    ? await startChild('tlslp', certs, tlslp.server, [], {}, tlslp.tls)
    : await startChild('tls', certs, {});
  // Warm up both sides (JIT, first-connection costs) outside the timing.
  await runPool(50, concurrency, overall.signal, () => handshakeOnce(ref.port, certs, 10_000));
  /** @type {{ ok: number, failures: Record<string, number>, seconds: number, serverCpu: number, clientCpu: number, halves: number[] }} */
  const total = { ok: 0, failures: {}, seconds: 0, serverCpu: 0, clientCpu: 0, halves: [] };
  return {
    total,
    async measure(count) {
      const before = await ref.request('stats');
      const cpu0 = cpuMicros();
      const t0 = performance.now();
      let ok = 0;
      await runPool(count, concurrency, overall.signal, async () => {
        const err = await handshakeOnce(ref.port, certs, 10_000);
        if (err) total.failures[err] = (total.failures[err] ?? 0) + 1;
        else ok++;
      });
      const seconds = (performance.now() - t0) / 1000;
      total.clientCpu += cpuMicros() - cpu0;
      const snap = await ref.request('stats');
      total.serverCpu += snap.cpuMicros - before.cpuMicros;
      total.ok += ok;
      total.seconds += seconds;
      total.halves.push(ok / seconds);
    },
    result() {
      const n = Math.max(1, total.ok);
      return {
        ok: total.ok,
        failures: total.failures,
        seconds: total.seconds,
        perSecond: total.ok / total.seconds,
        halves: total.halves,
        serverCpuMsEach: total.serverCpu / 1000 / n,
        clientCpuMsEach: total.clientCpu / 1000 / n,
      };
    },
    rss: async () => (await ref.request('stats')).rss,
    close: () => ref.close(),
  };
}

/**
 * Full sessions against `port` (runClient, one solver thread), counted: DONE/OK and
 * server-drawn FAIL are completed (with their durations in ms), anything else failed, by
 * reason. `reset()` forgets what was counted (after a warm-up).
 */
function sessionTally(port, clientTls) {
  const counts = {
    /** @type {number[]} */ durations: [],
    /** @type {Record<string, number>} */ failedByReason: {},
    failed: 0,
    done: 0,
    failDrawn: 0,
  };
  const runOne = async () => {
    const t = performance.now();
    let reason = null;
    try {
      await runClient({
        host: '127.0.0.1',
        ports: [port],
        tls: clientTls,
        solverOptions: { threads: 1 },
        otherTimeoutMs: 30_000,
        signal: overall.signal,
      });
      counts.done++;
    } catch (err) {
      if (
        err instanceof ServerFailError &&
        DRAWN_FAIL.test(err.reason) &&
        !SERVER_REASONS.has(err.reason)
      ) {
        counts.failDrawn++;
      } else if (err instanceof ServerFailError) {
        reason = `SERVER_FAIL: ${err.reason}`;
      } else {
        reason = err?.code ?? err?.name ?? 'UNKNOWN';
      }
    }
    if (reason) {
      counts.failed++;
      counts.failedByReason[reason] = (counts.failedByReason[reason] ?? 0) + 1;
    } else {
      counts.durations.push(performance.now() - t);
    }
  };
  const reset = () => {
    counts.durations = [];
    counts.failedByReason = {};
    counts.failed = counts.done = counts.failDrawn = 0;
  };
  return { counts, runOne, reset };
}

// ---------------------------------------------------------------------------------------------
// Throughput

async function throughput() {
  const sessions = intFlag('sessions', 1);
  const concurrency = intFlag('concurrency', 1);
  const referenceCount = intFlag('reference', 1);
  const nBits = intFlag('n-bits', 0);
  checkFds(concurrency);

  const certs = await generateCertificateSet();
  const clientTls = { ca: certs.caCert, cert: certs.clientCert, key: certs.clientKey };

  const ref = await startReference(certs, concurrency);
  // The same handshakes against a TlslpServer, ended at its HELLO: what the gate adds to a
  // bare handshake (meter, admission, identity check, the first line), measured in the same
  // halves as the reference. No budget or per-IP limit may refuse the loop.
  const hs = await startReference(certs, concurrency, {
    server: {
      nBits,
      maxHandshakeFailuresPerIp: 0,
      maxHandshakesPerIp: 100_000,
      maxHandshakes: 100_000,
      maxConnections: 10_000,
    },
    tls: {},
  });
  await ref.measure(Math.ceil(referenceCount / 4));
  await hs.measure(Math.ceil(referenceCount / 2));
  await ref.measure(Math.ceil(referenceCount / 4));

  let profDir = null;
  const execArgv = [];
  if (opts['cpu-prof']) {
    profDir = mkdtempSync(join(tmpdir(), 'tlslp-bench-prof-'));
    execArgv.push('--cpu-prof', `--cpu-prof-dir=${profDir}`);
  }
  const srv = await startChild(
    'tlslp',
    certs,
    // Every client is 127.0.0.1: the per-IP handshake cap would refuse most of 200 at once
    // (it is for strangers; bench/attack.mjs measures it). This measures throughput.
    { nBits, otherTimeoutMs: 30_000, maxConnections: 10_000, maxHandshakesPerIp: 10_000 },
    execArgv,
  );

  const tally = sessionTally(srv.port, clientTls);
  // Warm-up outside the timing (the JIT, the solver's first load).
  await runPool(Math.min(50, sessions), concurrency, overall.signal, tally.runOne);
  tally.reset();

  const before = await srv.request('stats');
  const cpu0 = cpuMicros();
  const t0 = performance.now();
  await runPool(sessions, concurrency, overall.signal, tally.runOne);
  const { durations, failedByReason, failed, done, failDrawn } = tally.counts;
  const seconds = (performance.now() - t0) / 1000;
  const clientCpu = cpuMicros() - cpu0;
  const aborted = overall.signal.aborted;
  const snap = await srv.request('stats');
  const exitCode = await srv.close();
  await closeSolverPool();
  if (!overall.signal.aborted) {
    await ref.measure(Math.floor(referenceCount / 4));
    await hs.measure(Math.floor(referenceCount / 2));
    await ref.measure(Math.floor(referenceCount / 4));
  }
  await ref.close();
  await hs.close();
  const reference = ref.result();
  const handshake = hs.result();
  // The issue's measure: a tlslp handshake (to HELLO) against a bare one (goal <= 1.15).
  const handshakeRatio = handshake.serverCpuMsEach / reference.serverCpuMsEach;

  const completed = done + failDrawn;
  const serverCpuMsEach =
    (snap.cpuMicros - before.cpuMicros) / 1000 / Math.max(1, completed + failed);
  // What a whole tlslp session costs the server against a bare mutual-TLS handshake.
  const cpuRatio = serverCpuMsEach / reference.serverCpuMsEach;
  const sorted = [...durations].sort((a, b) => a - b);
  const result = {
    sessions: completed + failed,
    concurrency,
    sessionsPerSecond: round(completed / seconds, 1),
    p50Ms: round(percentile(sorted, 50), 1),
    p99Ms: round(percentile(sorted, 99), 1),
    failed,
    failedByReason,
    serverRssMb: mb(snap.peakRss),
    referenceHandshakesPerSecond: round(reference.perSecond, 1),
    serverCpuMsEach: round(serverCpuMsEach, 3),
    referenceServerCpuMsEach: round(reference.serverCpuMsEach, 3),
    serverCpuRatio: round(cpuRatio, 2),
    handshakeServerCpuMsEach: round(handshake.serverCpuMsEach, 3),
    handshakeServerCpuRatio: round(handshakeRatio, 2),
  };
  const ratio = result.sessionsPerSecond / result.referenceHandshakesPerSecond;

  out(
    `tlslp server benchmark: ${sessions} sessions, ${concurrency} concurrent clients, n_bits ${nBits}, mutual TLS, normal mode`,
  );
  out(
    `(clients: runClient in this process, 1 solver thread; server: bench/server-child.mjs; reference: bare tls.createServer child)`,
  );
  out();
  out(
    table([
      [
        'sessions completed',
        `${completed} (${done} DONE/OK, ${failDrawn} server-drawn FAIL)${aborted ? '  ABORTED at the deadline' : ''}`,
      ],
      ['failed', `${failed}${failed ? `  ${JSON.stringify(failedByReason)}` : ''}`],
      ['wall time', `${seconds.toFixed(2)} s`],
      ['sessions/s', result.sessionsPerSecond.toFixed(1)],
      ['session time p50 / p99', `${result.p50Ms} ms / ${result.p99Ms} ms`],
      ['server peak RSS', `${result.serverRssMb} MB (now ${mb(snap.rss)} MB)`],
      [
        'server stats',
        `${snap.stats.sessionsDone} done, ${snap.stats.sessionsFailDrawn} FAIL drawn, ${snap.stats.sessionsRejected} rejected, ${snap.stats.sessionsTransport} transport, ${snap.stats.handshakeFailures} handshake failures, ${snap.stats.refused} refused`,
      ],
      ['server exit code', String(exitCode)],
      [
        'reference handshakes/s',
        `${result.referenceHandshakesPerSecond} (${reference.ok} mutual-TLS handshakes in ${reference.seconds.toFixed(2)} s, ${concurrency} concurrent; ` +
          `before/after the sessions: ${reference.halves.map((h) => h.toFixed(1)).join(' / ')}${Object.keys(reference.failures).length ? `; failures ${JSON.stringify(reference.failures)}` : ''})`,
      ],
      ['ratio sessions/handshakes', ratio.toFixed(2)],
      [
        'CPU per session',
        `server ${((snap.cpuMicros - before.cpuMicros) / 1000 / Math.max(1, completed + failed)).toFixed(2)} ms, client ${(clientCpu / 1000 / Math.max(1, completed + failed)).toFixed(2)} ms ` +
          `(CPU used / wall time: server ${((snap.cpuMicros - before.cpuMicros) / 1e6 / seconds).toFixed(2)}, client ${(clientCpu / 1e6 / seconds).toFixed(2)} cores)`,
      ],
      [
        'CPU per ref. handshake',
        `server ${reference.serverCpuMsEach.toFixed(2)} ms, client ${reference.clientCpuMsEach.toFixed(2)} ms`,
      ],
      [
        'CPU per tlslp handshake',
        `server ${handshake.serverCpuMsEach.toFixed(2)} ms, client ${handshake.clientCpuMsEach.toFixed(2)} ms (${handshake.ok} handshakes to HELLO${Object.keys(handshake.failures).length ? `; failures ${JSON.stringify(handshake.failures)}` : ''})`,
      ],
      ['server CPU handshake / ref.', `${handshakeRatio.toFixed(2)}x (goal <= 1.15x)`],
      [
        'server CPU session / ref.',
        `${cpuRatio.toFixed(2)}x (a session: handshake, WORK, body steps)`,
      ],
      [
        'targets',
        `>= 100 sessions/s: ${result.sessionsPerSecond >= 100 ? 'met' : 'MISSED'}; 0 failures: ${failed === 0 ? 'met' : 'MISSED'}; >= 0.6x handshakes: ${ratio >= 0.6 ? 'met' : 'MISSED'}`,
      ],
    ]),
  );
  if (profDir) out(`\nserver CPU profile: ${profDir} (open the .cpuprofile in Chrome DevTools)`);
  out(
    `\ncommand: ${commandLine()}   (node ${process.version}, ${((performance.now() - started) / 1000) | 0} s in all)`,
  );
  if (opts.json) out(JSON.stringify(result));
  return aborted || failed > 0 || exitCode !== 0 ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------
// Hold: many idle-but-valid sessions

/** Connect, HELLO/HELLOBACK, read WORK, then keep the socket and say nothing. */
async function holdOne(port, certs, sockets) {
  const socket = tls.connect({
    host: '127.0.0.1',
    port,
    ca: certs.caCert,
    cert: certs.clientCert,
    key: certs.clientKey,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.2',
  });
  sockets.add(socket);
  socket.once('close', () => sockets.delete(socket));
  try {
    await new Promise((resolve, reject) => {
      socket.once('secureConnect', resolve);
      socket.once('error', reject);
    });
    socket.on('error', () => {});
    const ch = new SocketLineChannel(socket);
    if ((await ch.readLine(30_000)) !== 'HELLO') throw new Error('no HELLO');
    ch.writeLine('HELLOBACK');
    const work = await ch.readLine(30_000);
    if (!work.startsWith('WORK ')) throw new Error(`expected WORK, got ${work.slice(0, 40)}`);
    return null;
  } catch (err) {
    socket.destroy();
    return err.code ?? err.message;
  }
}

async function hold() {
  const n = intFlag('hold', 1);
  const batch = intFlag('batch', 1);
  const limit = fdLimit();
  if (Number.isFinite(limit) && n + 200 > limit) {
    process.stderr.write(
      `bench/server.mjs: --hold ${n} needs about ${n + 200} file descriptors per process; ulimit -n is ${limit}\n`,
    );
    process.exit(2);
  }
  const certs = await generateCertificateSet();
  const srv = await startChild(
    'tlslp',
    certs,
    {
      nBits: 20,
      workTimeoutMs: 300_000,
      otherTimeoutMs: 30_000,
      maxConnections: Math.max(10_000, n + 100),
      maxHandshakesPerIp: 10_000,
    },
    ['--expose-gc'],
  );
  const settle = () => new Promise((r) => setTimeout(r, 500));
  // Baseline: listening, after the warm-up of one session, garbage collected.
  {
    const warm = new Set();
    await holdOne(srv.port, certs, warm);
    for (const s of warm) s.destroy();
  }
  await settle();
  await srv.request('gc');
  const before = await srv.request('stats');

  const sockets = new Set();
  const failures = {};
  let opened = 0;
  const t0 = performance.now();
  for (let i = 0; i < n && !overall.signal.aborted; i += batch) {
    const size = Math.min(batch, n - i);
    const results = await Promise.all(
      Array.from({ length: size }, () => holdOne(srv.port, certs, sockets)),
    );
    for (const r of results) {
      if (r === null) opened++;
      else failures[r] = (failures[r] ?? 0) + 1;
    }
  }
  const openSeconds = (performance.now() - t0) / 1000;
  await settle();
  await srv.request('gc');
  const after = await srv.request('stats');
  const stillOpen = sockets.size;
  const clientRss = process.memoryUsage().rss;

  for (const s of sockets) s.destroy();
  const exitCode = await srv.close();

  const delta = after.rss - before.rss;
  const result = {
    hold: n,
    serverRssMb: mb(after.rss),
    baselineRssMb: mb(before.rss),
    rssPerConnectionKb: round(opened > 0 ? delta / 1024 / opened : 0, 1),
  };
  out(
    `tlslp server hold benchmark: ${n} idle sessions (TLS up, HELLO/HELLOBACK, WORK received, then silence), mutual TLS`,
  );
  out();
  out(
    table([
      [
        'sessions held',
        `${opened} of ${n} (opened in ${openSeconds.toFixed(1)} s, batches of ${batch})${overall.signal.aborted ? '  ABORTED at the deadline' : ''}`,
      ],
      ['open failures', Object.keys(failures).length ? JSON.stringify(failures) : '0'],
      [
        'still open at measurement',
        `${stillOpen} client sockets; server: ${after.inFlight} sessions in flight, ${after.openConnections ?? 'n/a'} open connections`,
      ],
      ['server RSS baseline', `${result.baselineRssMb} MB (heap ${mb(before.heapUsed)} MB)`],
      [
        'server RSS holding',
        `${result.serverRssMb} MB (heap ${mb(after.heapUsed)} MB, peak ${mb(after.peakRss)} MB)`,
      ],
      ['RSS per connection', `${result.rssPerConnectionKb} KB (total ${mb(delta)} MB)`],
      ['client process RSS', `${mb(clientRss)} MB`],
      ['server exit code', String(exitCode)],
      [
        'target',
        `${n} idle sessions under 500 MB server RSS: ${after.rss < 500 * 1024 * 1024 && opened === n ? 'met' : 'MISSED'}`,
      ],
    ]),
  );
  out(
    `\ncommand: ${commandLine()}   (node ${process.version}, ${((performance.now() - started) / 1000) | 0} s in all)`,
  );
  if (opts.json) out(JSON.stringify(result));
  return opened === n && exitCode === 0 && !overall.signal.aborted ? 0 : 1;
}

// ---------------------------------------------------------------------------------------------
// Two servers side by side: phases alternate, so background load falls on both alike

/** Measure each of `refs` (in `order`, reversed in every other phase) for `phases` phases. */
async function alternate(refs, order, phases, perPhase) {
  for (let i = 0; i < phases && !overall.signal.aborted; i++)
    for (const k of i % 2 === 0 ? order : [...order].reverse()) await refs[k].measure(perPhase);
}

/** A table row of a reference's handshake rate, by phase, with its failures. */
function rateRow(label, r) {
  const failures = Object.keys(r.failures).length ? `; failures ${JSON.stringify(r.failures)}` : '';
  return [
    `${label} handshakes/s`,
    `${r.perSecond.toFixed(1)} (${r.ok} in ${r.seconds.toFixed(2)} s; by phase ${r.halves.map((h) => h.toFixed(0)).join(' / ')}${failures})`,
  ];
}

// ---------------------------------------------------------------------------------------------
// Key types: RSA 2048 against EC P-256 server keys

async function compareKeyTypes() {
  const handshakes = intFlag('handshakes', 2);
  const phases = intFlag('phases', 2);
  const concurrency = intFlag('concurrency', 1);
  const types = ['rsa', 'ec'];
  const names = { rsa: 'RSA 2048', ec: 'EC P-256' };
  // Two sets alike but for the server key: an RSA 2048 CA and an EC P-256 client each.
  const sets = {
    rsa: await generateCertificateSet(),
    ec: await generateCertificateSet({ serverKeyType: 'ec' }),
  };
  const refs = {};
  for (const t of types) refs[t] = await startReference(sets[t], concurrency);
  const perPhase = Math.ceil(handshakes / phases);
  await alternate(refs, types, phases, perPhase);
  const aborted = overall.signal.aborted;
  const results = {};
  for (const t of types) {
    results[t] = refs[t].result();
    await refs[t].close();
  }
  const failures = types.reduce((n, t) => n + Object.keys(results[t].failures).length, 0);
  const ratio = results.ec.perSecond / results.rsa.perSecond;
  const result = {
    concurrency,
    phases,
    rsaHandshakesPerSecond: round(results.rsa.perSecond, 1),
    ecHandshakesPerSecond: round(results.ec.perSecond, 1),
    ratioEcToRsa: round(ratio, 2),
    rsaServerCpuMsEach: round(results.rsa.serverCpuMsEach, 3),
    ecServerCpuMsEach: round(results.ec.serverCpuMsEach, 3),
  };
  out(
    `tlslp server key types: bare mutual-TLS handshakes/s, ${types.map((t) => names[t]).join(' vs ')} server key, ${concurrency} concurrent, ${phases} alternating phases of ${perPhase} each`,
  );
  out(
    '(clients: tls.connect in this process, EC P-256 client certificate; servers: bare tls.createServer children, one per key type)',
  );
  out();
  out(
    table([
      ...types.map((t) => rateRow(names[t], results[t])),
      ...types.map((t) => [
        `${names[t]} CPU per handshake`,
        `server ${results[t].serverCpuMsEach.toFixed(3)} ms, client ${results[t].clientCpuMsEach.toFixed(3)} ms`,
      ]),
      ['ratio EC / RSA', `${ratio.toFixed(2)}${aborted ? '  ABORTED at the deadline' : ''}`],
    ]),
  );
  out(
    `\ncommand: ${commandLine()}   (node ${process.version}, ${((performance.now() - started) / 1000) | 0} s in all)`,
  );
  if (opts.json) out(JSON.stringify(result));
  return aborted || failures > 0 ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------
// Store: the same sessions with and without the fleet state (a Redis store)

async function compareState() {
  const sessions = intFlag('sessions', 1);
  const phases = intFlag('phases', 1);
  const concurrency = intFlag('concurrency', 1);
  const nBits = intFlag('n-bits', 0);
  checkFds(concurrency);
  let url = opts.state;
  if (url !== 'auto' && !/^(redis|rediss|valkey|valkeys):\/\/./.test(url)) {
    process.stderr.write(
      `bench/server.mjs: --state takes auto (a private redis-server) or a redis://host:port URL, not ${url}\n${USAGE}`,
    );
    return 2;
  }
  const redis = url === 'auto' ? await startRedis() : null;
  if (redis) url = redis.url;
  const shown = redis ? `${url} (private redis-server, pid ${redis.pid})` : maskUrl(url);
  try {
    const certs = await generateCertificateSet();
    const clientTls = { ca: certs.caCert, cert: certs.clientCert, key: certs.clientKey };
    // Alike on both sides but for `state`. Every client is 127.0.0.1 with one certificate:
    // the limits are high enough never to refuse, and on, so that with the store each session
    // takes a lease (acquire) and gives it back (release), and a failure spends on the store.
    const limits = {
      nBits,
      otherTimeoutMs: 30_000,
      maxConnections: 10_000,
      maxHandshakesPerIp: 10_000,
      maxPerIp: 1_000_000,
      maxPerIdentity: 1_000_000,
      maxHandshakeFailuresPerIp: 1_000_000,
    };
    // A prefix of this run's own, so a shared store's other keys are left alone.
    const statePrefix = `tlslp-bench:${randomBytes(4).toString('hex')}:`;
    const sides = /** @type {const} */ (['without', 'with']);
    const servers = {
      without: await startChild('tlslp', certs, limits, [], { metrics: true }),
      with: await startChild('tlslp', certs, { ...limits, state: url, statePrefix }, [], {
        metrics: true,
      }),
    };
    const tallies = {
      without: sessionTally(servers.without.port, clientTls),
      with: sessionTally(servers.with.port, clientTls),
    };
    /** @type {Record<'with' | 'without', { seconds: number, serverCpu: number, byPhase: number[], first: any, last: any }>} */
    const acc = /** @type {any} */ ({});
    for (const side of sides) {
      // Warm-up outside the timing (the JIT, the solver, the store's connection and scripts).
      await runPool(Math.min(100, sessions), concurrency, overall.signal, tallies[side].runOne);
      tallies[side].reset();
      const first = await servers[side].request('stats');
      acc[side] = { seconds: 0, serverCpu: 0, byPhase: [], first, last: first };
    }
    const calls0 = await scriptCalls(url);
    const perPhase = Math.ceil(sessions / phases);
    for (let i = 0; i < phases && !overall.signal.aborted; i++)
      for (const side of i % 2 === 0 ? sides : [...sides].reverse()) {
        const tally = tallies[side];
        const completedBefore = tally.counts.done + tally.counts.failDrawn;
        const t0 = performance.now();
        await runPool(perPhase, concurrency, overall.signal, tally.runOne);
        const seconds = (performance.now() - t0) / 1000;
        const snap = await servers[side].request('stats');
        const a = acc[side];
        a.seconds += seconds;
        a.serverCpu += snap.cpuMicros - a.last.cpuMicros;
        a.last = snap;
        a.byPhase.push((tally.counts.done + tally.counts.failDrawn - completedBefore) / seconds);
      }
    const calls1 = await scriptCalls(url);
    const aborted = overall.signal.aborted;
    const exitCodes = { without: await servers.without.close(), with: await servers.with.close() };
    await closeSolverPool();

    /** @type {Record<'with' | 'without', any>} */
    const results = /** @type {any} */ ({});
    for (const side of sides) {
      const c = tallies[side].counts;
      const a = acc[side];
      const completed = c.done + c.failDrawn;
      const sorted = [...c.durations].sort((x, y) => x - y);
      results[side] = {
        sessions: completed + c.failed,
        completed,
        failed: c.failed,
        failedByReason: c.failedByReason,
        seconds: round(a.seconds, 2),
        sessionsPerSecond: round(a.seconds > 0 ? completed / a.seconds : 0, 1),
        byPhase: a.byPhase.map((x) => round(x, 1)),
        p50Ms: round(percentile(sorted, 50), 1),
        p99Ms: round(percentile(sorted, 99), 1),
        serverCpuMsEach: round(a.serverCpu / 1000 / Math.max(1, completed + c.failed), 3),
        serverRssMb: mb(a.last.peakRss),
        refused: a.last.stats.refused - a.first.stats.refused,
        // Decisions made on local limits because the store did not answer in time.
        stateFallbacks:
          a.last.state && a.first.state ? a.last.state.fallbacks - a.first.state.fallbacks : null,
        stateUp: a.last.state?.up ?? null,
        exitCode: exitCodes[side],
      };
    }
    const w = results.with;
    const wo = results.without;
    const scripts =
      calls0 && calls1
        ? { calls: calls1.calls - calls0.calls, usec: calls1.usec - calls0.usec }
        : null;
    const result = {
      mode: 'state',
      store: redis ? 'private redis-server' : maskUrl(url),
      sessionsPerSide: sessions,
      phases,
      concurrency,
      nBits,
      withStore: w,
      withoutStore: wo,
      ratio: round(wo.sessionsPerSecond > 0 ? w.sessionsPerSecond / wo.sessionsPerSecond : 0, 3),
      addedP50Ms: round(w.p50Ms - wo.p50Ms, 1),
      addedP99Ms: round(w.p99Ms - wo.p99Ms, 1),
      addedServerCpuMsEach: round(w.serverCpuMsEach - wo.serverCpuMsEach, 3),
      storeCallsPerSession: scripts ? round(scripts.calls / Math.max(1, w.sessions), 2) : null,
      storeUsecPerCall:
        scripts && scripts.calls > 0 ? round(scripts.usec / scripts.calls, 1) : null,
      command: commandLine(),
    };
    const failures = w.failed + wo.failed;
    const fallbacks = w.stateFallbacks ?? 0;
    const sideRow = (name, r) => [
      `sessions/s ${name}`,
      `${r.sessionsPerSecond.toFixed(1)} (${r.completed} in ${r.seconds.toFixed(2)} s; by phase ${r.byPhase.map((x) => x.toFixed(0)).join(' / ')}${r.failed ? `; failed ${r.failed} ${JSON.stringify(r.failedByReason)}` : ''}${r.refused ? `; refused ${r.refused}` : ''})`,
    ];
    out(
      `tlslp server with and without the fleet state: ${sessions} sessions a side, ${concurrency} concurrent clients, n_bits ${nBits}, mutual TLS, ${phases} alternating phases of ${perPhase} a side`,
    );
    out(
      `(store: ${shown}; both servers: maxPerIp, maxPerIdentity and the failure budget on, so each session with the store takes and gives back a lease)`,
    );
    out();
    out(
      table([
        sideRow('without store', wo),
        sideRow('with store', w),
        [
          'ratio with / without',
          `${result.ratio.toFixed(3)}${aborted ? '  ABORTED at the deadline' : ''}`,
        ],
        ['p50 / p99 without', `${wo.p50Ms} ms / ${wo.p99Ms} ms`],
        ['p50 / p99 with', `${w.p50Ms} ms / ${w.p99Ms} ms`],
        ['added p50 / p99', `${result.addedP50Ms} ms / ${result.addedP99Ms} ms`],
        [
          'server CPU per session',
          `without ${wo.serverCpuMsEach.toFixed(3)} ms, with ${w.serverCpuMsEach.toFixed(3)} ms (${result.addedServerCpuMsEach >= 0 ? '+' : ''}${(result.addedServerCpuMsEach * 1000).toFixed(0)} µs)`,
        ],
        [
          'store script calls',
          scripts
            ? `${scripts.calls} (${result.storeCallsPerSession} per session with the store; ${result.storeUsecPerCall ?? 0} µs each on the store)`
            : 'n/a (INFO commandstats not available)',
        ],
        [
          'fallbacks to local limits',
          `${w.stateFallbacks ?? 'n/a'} (tlslp_state_up ${w.stateUp === null ? 'absent' : w.stateUp ? 1 : 0})${fallbacks > 0 ? '  the with-store figures are partly without it' : ''}`,
        ],
        ['server peak RSS', `without ${wo.serverRssMb} MB, with ${w.serverRssMb} MB`],
        ['server exit codes', `without ${wo.exitCode}, with ${w.exitCode}`],
        [
          'targets',
          `ratio >= 0.9: ${result.ratio >= 0.9 ? 'met' : 'MISSED'}; added p99 <= 2 ms: ${result.addedP99Ms <= 2 ? 'met' : 'MISSED'}; 0 failures: ${failures === 0 ? 'met' : 'MISSED'}; 0 fallbacks: ${fallbacks === 0 ? 'met' : 'MISSED'}`,
        ],
      ]),
    );
    out(
      '\nAt this concurrency the server is saturated and session time is mostly queueing; the CPU per session shows what the store costs the server itself.',
    );
    out(
      `\ncommand: ${commandLine()}   (node ${process.version}, ${((performance.now() - started) / 1000) | 0} s in all)`,
    );
    if (opts.json) out(JSON.stringify(result));
    return aborted || failures > 0 || w.exitCode !== 0 || wo.exitCode !== 0 ? 1 : 0;
  } finally {
    killChildren();
    await redis?.stop();
  }
}

// CRL: an empty CRL against one of N entries

async function compareCrl() {
  const entries = intFlag('compare-crl', 0);
  const handshakes = intFlag('handshakes', 2);
  const phases = intFlag('phases', 2);
  const concurrency = intFlag('concurrency', 1);
  const set = await generateCertificateSet();
  const kinds = ['empty', 'big'];
  const names = { empty: 'empty CRL', big: `CRL of ${entries} entries` };
  // Each handshake ends at HELLO: no budget or per-IP limit may refuse the loop.
  const server = {
    nBits: 8,
    maxHandshakeFailuresPerIp: 0,
    maxHandshakesPerIp: 100_000,
    maxHandshakes: 100_000,
  };
  const refs = {};
  for (const k of kinds)
    refs[k] = await startReference(set, concurrency, {
      server,
      tls: { crl: bigCrl(set, k === 'big' ? entries : 0) },
    });
  const perPhase = Math.ceil(handshakes / phases);
  await alternate(refs, kinds, phases, perPhase);
  const aborted = overall.signal.aborted;
  const results = {};
  for (const k of kinds) {
    results[k] = { ...refs[k].result(), rss: await refs[k].rss() };
    await refs[k].close();
  }
  const failures = kinds.reduce((n, k) => n + Object.keys(results[k].failures).length, 0);
  const cpuRatio = results.big.serverCpuMsEach / results.empty.serverCpuMsEach;
  const result = {
    entries,
    concurrency,
    phases,
    emptyHandshakesPerSecond: round(results.empty.perSecond, 1),
    bigHandshakesPerSecond: round(results.big.perSecond, 1),
    emptyServerCpuMsEach: round(results.empty.serverCpuMsEach, 3),
    bigServerCpuMsEach: round(results.big.serverCpuMsEach, 3),
    serverCpuRatioBigToEmpty: round(cpuRatio, 2),
    emptyServerRssMB: mb(results.empty.rss),
    bigServerRssMB: mb(results.big.rss),
  };
  out(
    `tlslp server CRL size: mutual-TLS handshakes to HELLO, ${kinds.map((k) => names[k]).join(' vs ')}, ${concurrency} concurrent, ${phases} alternating phases of ${perPhase} each`,
  );
  out();
  out(
    table([
      ...kinds.map((k) => rateRow(names[k], results[k])),
      ...kinds.map((k) => [
        `${names[k]} server`,
        `${results[k].serverCpuMsEach.toFixed(3)} ms CPU per handshake, RSS ${mb(results[k].rss)} MB`,
      ]),
      [
        'server CPU per handshake, big / empty',
        `${cpuRatio.toFixed(2)}${aborted ? '  ABORTED at the deadline' : ''}`,
      ],
    ]),
  );
  out(
    `\ncommand: ${commandLine()}   (node ${process.version}, ${((performance.now() - started) / 1000) | 0} s in all)`,
  );
  if (opts.json) out(JSON.stringify(result));
  return aborted || failures > 0 ? 1 : 0;
}

let code = 1;
try {
  code = opts['compare-key-types']
    ? await compareKeyTypes()
    : opts['compare-crl'] !== undefined
      ? await compareCrl()
      : opts.hold !== undefined
        ? await hold()
        : opts.state !== undefined
          ? await compareState()
          : await throughput();
} catch (err) {
  process.stderr.write(`bench/server.mjs: ${err?.stack ?? err}\n`);
  code = 1;
} finally {
  clearTimeout(deadlineTimer);
  killChildren();
}
process.exit(code);
