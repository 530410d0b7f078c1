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
 * certificates, same concurrency, also in a child process).
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
import { bigCrl } from './attack-certs.mjs';
import { execFileSync, fork } from 'node:child_process';
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
  '       node bench/server.mjs --compare-crl N [--handshakes H] [--phases P] [--concurrency C] [--json] [--deadline SECONDS]\n';

const { opts, int: intFlag } = benchArgs('bench/server.mjs', USAGE, {
  sessions: { type: 'string', default: '2000' },
  concurrency: { type: 'string', default: '200' },
  reference: { type: 'string', default: '1000' },
  'n-bits': { type: 'string', default: '8' },
  hold: { type: 'string' },
  batch: { type: 'string', default: '200' },
  'compare-key-types': { type: 'boolean', default: false },
  'compare-crl': { type: 'string' },
  handshakes: { type: 'string', default: '4000' },
  phases: { type: 'string', default: '6' },
  deadline: { type: 'string', default: '85' },
  'cpu-prof': { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
});

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
 * Fork bench/server-child.mjs, start a server in it and resolve once it listens.
 * @returns {Promise<{ port: number, request(type: string, extra?: object): Promise<any>, close(): Promise<number|null>, child: import('node:child_process').ChildProcess }>}
 */
async function startChild(mode, certs, server, execArgv = [], extraTls = {}) {
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
  return `node bench/server.mjs ${process.argv.slice(2).join(' ')}`.trim();
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
    ? await startChild('tlslp', certs, tlslp.server, [], tlslp.tls)
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

// ---------------------------------------------------------------------------------------------
// Throughput

async function throughput() {
  const sessions = intFlag('sessions', 1);
  const concurrency = intFlag('concurrency', 1);
  const referenceCount = intFlag('reference', 1);
  const nBits = intFlag('n-bits', 0);
  const limit = fdLimit();
  if (Number.isFinite(limit) && concurrency + 100 > limit) {
    process.stderr.write(
      `bench/server.mjs: --concurrency ${concurrency} needs more file descriptors than ulimit -n (${limit})\n`,
    );
    process.exit(2);
  }

  const certs = await generateCertificateSet();
  const clientTls = { ca: certs.caCert, cert: certs.clientCert, key: certs.clientKey };

  const ref = await startReference(certs, concurrency);
  await ref.measure(Math.ceil(referenceCount / 2));

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

  const durations = [];
  const failedByReason = {};
  let failed = 0;
  let done = 0;
  let failDrawn = 0;
  const runOne = async () => {
    const t = performance.now();
    let reason = null;
    try {
      await runClient({
        host: '127.0.0.1',
        ports: [srv.port],
        tls: clientTls,
        solverOptions: { threads: 1 },
        otherTimeoutMs: 30_000,
        signal: overall.signal,
      });
      done++;
    } catch (err) {
      if (
        err instanceof ServerFailError &&
        DRAWN_FAIL.test(err.reason) &&
        !SERVER_REASONS.has(err.reason)
      ) {
        failDrawn++;
      } else if (err instanceof ServerFailError) {
        reason = `SERVER_FAIL: ${err.reason}`;
      } else {
        reason = err?.code ?? err?.name ?? 'UNKNOWN';
      }
    }
    if (reason) {
      failed++;
      failedByReason[reason] = (failedByReason[reason] ?? 0) + 1;
    } else {
      durations.push(performance.now() - t);
    }
  };

  // Warm-up outside the timing (the JIT, the solver's first load).
  await runPool(Math.min(50, sessions), concurrency, overall.signal, runOne);
  durations.length = 0;
  failed = 0;
  done = 0;
  failDrawn = 0;
  for (const k of Object.keys(failedByReason)) delete failedByReason[k];

  const before = await srv.request('stats');
  const cpu0 = cpuMicros();
  const t0 = performance.now();
  await runPool(sessions, concurrency, overall.signal, runOne);
  const seconds = (performance.now() - t0) / 1000;
  const clientCpu = cpuMicros() - cpu0;
  const aborted = overall.signal.aborted;
  const snap = await srv.request('stats');
  const exitCode = await srv.close();
  await closeSolverPool();
  if (!overall.signal.aborted) await ref.measure(Math.floor(referenceCount / 2));
  await ref.close();
  const reference = ref.result();

  const completed = done + failDrawn;
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
        : await throughput();
} catch (err) {
  process.stderr.write(`bench/server.mjs: ${err?.stack ?? err}\n`);
  code = 1;
} finally {
  clearTimeout(deadlineTimer);
  killChildren();
}
process.exit(code);
