#!/usr/bin/env node
// @ts-check
/**
 * Attack harness (`npm run attack`, which builds first): what strangers and one rogue
 * certificate holder cost the server's good clients.
 *
 * For each attack kind: a fresh TlslpServer in a child process (bench/server-child.mjs;
 * mutual TLS, default limits, logging at INFO to a file), good clients in this process
 * (runClient from 127.0.0.1, --good concurrent loops) for --seconds without an attack, then
 * for --seconds while the attackers run in another child process (bench/attack-child.mjs)
 * from 127.0.0.2 and 127.0.0.3. It reports, per kind, the good-session rate during the attack
 * over the rate without it (same run; on a 2-core machine the attackers' own CPU weighs on
 * the good clients too, so the server's CPU per good session before and during is given as
 * well, as `serverCapacityRatio`), the share of good sessions refused or failed, the
 * server's peak RSS, log lines (all, and warnings: what also reaches stderr) per second during
 * the attack, and what the attackers got.
 *
 * Kinds:
 *   crafted-chain      2 attackers presenting a self-made root + 70 intermediates (RSA-3072
 *                      keys with ~3070-bit public exponents, ~96 KB; nothing from our CA)
 *   crafted-chain-fit  the same, cut to the most intermediates that fit --max-handshake-bytes
 *   slot-flood         one IP holding up to 10,000 TCP sockets that never send (each reopened
 *                      10 s after the server closes it)
 *   slot-flood-fast    the same, each reopened after 1 s (about 10,000 connections a second)
 *   no-cert-loop       one IP connecting without a certificate in a loop (4 at a time)
 *   renegotiation      a good certificate over TLS 1.2 asking to renegotiate, again and again
 *   weak-key           an RSA-1024 client certificate issued by our CA, in a loop
 *   refused-identity   an RSA-2048 certificate from our CA whose CN is not on the server's
 *                      --allow-cn list (refused before HELLO), in a loop
 *   pump               with --n_bits auto (16..28): one certificate holder connecting 190
 *                      times a second and dropping at WORK; the n_bits rise for others
 *   metrics-flood      8 keep-alive connections pipelining GET /metrics on the server's
 *                      metrics listener (--metrics-port); /healthz latency is probed too
 *   metrics-idle       one IP opening up to 20,000 idle sockets on the metrics listener,
 *                      each reopened 1 s after it is closed
 *   crl-big            the server loads a CRL of 200,000 entries; 2 attackers present
 *                      certificates that name our CA as issuer but are signed by another
 *                      key (forged), 4 at a time each
 *   sighup-storm       the server rereads its files (and a CRL of 50,000 entries) on
 *                      SIGHUP, as tlslp-server does; 100 SIGHUPs a second
 *
 *   node bench/attack.mjs [--kinds k1,k2,…] [--seconds S] [--good C] [--state auto|URL] [--json] [--deadline S]
 *
 * With --state every server of the run shares its limits through that Redis store (`auto`: a
 * private redis-server on a free port), so a kind's cost is that of a fleet member.
 *
 * With --json the last line of output is one JSON object. Loopback only; bounded in time
 * (each phase --seconds, whole run --deadline) and in count (the attack kinds' own caps).
 */
import { benchArgs } from './args.mjs';
import { bigCrl, craftedChain, weakClientCert } from './attack-certs.mjs';
import { maskUrl, startRedis } from './redis.mjs';
import { fork } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

if (!existsSync(fileURLToPath(new URL('../dist/index.js', import.meta.url)))) {
  process.stderr.write('bench/attack.mjs: dist/ is missing: run npm run build first\n');
  process.exit(2);
}
const { DEFAULTS, ServerFailError, closeSolverPool, generateCertificateSet, runClient } =
  await import('tlslp');

const ALL_KINDS = [
  'crafted-chain',
  'crafted-chain-fit',
  'slot-flood',
  'slot-flood-fast',
  'no-cert-loop',
  'renegotiation',
  'weak-key',
  'refused-identity',
  'pump',
  'metrics-flood',
  'metrics-idle',
  'crl-big',
  'sighup-storm',
];
const USAGE =
  'usage: node bench/attack.mjs [--kinds k1,k2,…] [--seconds S] [--good C] [--state auto|URL] [--json] [--deadline SECONDS]\n' +
  `kinds: ${ALL_KINDS.join(', ')}\n`;
const { opts, int: intFlag } = benchArgs('bench/attack.mjs', USAGE, {
  kinds: { type: 'string', default: ALL_KINDS.join(',') },
  seconds: { type: 'string', default: '4' },
  good: { type: 'string', default: '2' },
  deadline: { type: 'string', default: '85' },
  json: { type: 'boolean', default: false },
  // Every server of the run shares its limits through this store (issue 22: what strangers
  // cost a gate whose budgets are fleet-wide); `auto`: a private redis-server.
  state: { type: 'string' },
});
const KINDS = opts.kinds.split(',').map((k) => k.trim());
for (const k of KINDS)
  if (!ALL_KINDS.includes(k)) {
    process.stderr.write(`bench/attack.mjs: unknown kind ${k}\n${USAGE}`);
    process.exit(2);
  }
const PHASE_MS = intFlag('seconds', 1) * 1000;
const GOOD = intFlag('good', 1);
const DEADLINE_MS = intFlag('deadline', 10) * 1000;
const STARTED = performance.now();
const out = (line = '') => process.stdout.write(`${line}\n`);
const dir = mkdtempSync(join(tmpdir(), 'tlslp-attack-'));
const deadline = setTimeout(() => {
  process.stderr.write(`bench/attack.mjs: stopped at the --deadline of ${DEADLINE_MS / 1000} s\n`);
  process.exit(3);
}, DEADLINE_MS);
deadline.unref();
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

// ---------------------------------------------------------------------------------------------
// Children: the server and the attackers, each driven over IPC.

const children = new Set();
process.on('exit', () => {
  for (const proc of children)
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
});

function child(script) {
  const proc = fork(fileURLToPath(new URL(script, import.meta.url)), [], {
    execArgv: [],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const waiting = new Map();
  proc.on('message', (/** @type {any} */ msg) => {
    const w = waiting.get(msg.type);
    if (w) {
      waiting.delete(msg.type);
      w(msg);
    }
  });
  children.add(proc);
  proc.once('exit', () => children.delete(proc));
  const ask = (msg, answer) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${script} did not answer ${msg.type}`)),
        20_000,
      );
      waiting.set(answer, (m) => (clearTimeout(timer), resolve(m)));
      proc.send(msg);
    });
  return { proc, ask };
}

const lineCount = (file) => {
  try {
    return readFileSync(file, 'utf8').split('\n').length - 1;
  } catch {
    return 0;
  }
};

// ---------------------------------------------------------------------------------------------
// Good clients.

/** One `GET /healthz` on a fresh connection: its latency in ms (null when it failed). */
function healthzMs(port) {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const req = http.get(
      { host: '127.0.0.1', port, path: '/healthz', agent: false, timeout: 5000 },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode === 200 ? performance.now() - t0 : null));
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(null));
  });
}

const percentile = (values, p) => {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return Number(
    (sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0).toFixed(1),
  );
};

async function goodPhase(port, tlsOptions, ms, server, healthPort = 0) {
  const end = performance.now() + ms;
  const result = { done: 0, failed: 0, failures: {}, peakRss: 0, nBitsMax: 0, nBitsMin: Infinity };
  // With a metrics listener: /healthz probed 10 times a second, as a balancer would.
  /** @type {{ ok: number[], failed: number }} */
  const health = { ok: [], failed: 0 };
  const prober = (async () => {
    while (healthPort && performance.now() < end) {
      const t = await healthzMs(healthPort);
      if (t === null) health.failed++;
      else health.ok.push(t);
      await sleep(100);
    }
  })();
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const s = await server.ask({ type: 'stats' }, 'stats');
      result.peakRss = Math.max(result.peakRss, s.rss);
      result.nBitsMax = Math.max(result.nBitsMax, s.stats.nBits);
      result.nBitsMin = Math.min(result.nBitsMin, s.stats.nBits);
      await sleep(250);
    }
  })();
  await Promise.all(
    Array.from({ length: GOOD }, async () => {
      while (performance.now() < end) {
        try {
          await runClient({
            host: '127.0.0.1',
            ports: [port],
            tls: tlsOptions,
            solverOptions: { threads: 1 },
            otherTimeoutMs: 5000,
            workTimeoutMs: 20_000,
          });
          result.done++;
        } catch (err) {
          if (err instanceof ServerFailError) result.done++;
          else {
            result.failed++;
            const code = err.code ?? err.name;
            result.failures[code] = (result.failures[code] ?? 0) + 1;
            // A refused client backs off a little, as a real one would.
            await sleep(20);
          }
        }
      }
    }),
  );
  sampling = false;
  await sampler;
  await prober;
  result.rate = result.done / (ms / 1000);
  result.healthzP50Ms = percentile(health.ok, 0.5);
  result.healthzP99Ms = percentile(health.ok, 0.99);
  result.healthzFailed = health.failed;
  return result;
}

// ---------------------------------------------------------------------------------------------
// The run.

const certs = await generateCertificateSet();
const goodTls = { ca: certs.caCert, cert: certs.clientCert, key: certs.clientKey };
const needs = new Set(KINDS);
const crafted = needs.has('crafted-chain') ? await craftedChain(70) : null;
let fit = null;
if (needs.has('crafted-chain-fit')) {
  // The most intermediates whose whole client flight still fits under the byte limit.
  const limit = (DEFAULTS.maxHandshakeBytes ?? 16_384) - 1500;
  let n = 4;
  fit = await craftedChain(n);
  for (;;) {
    const next = await craftedChain(n + 1);
    if (next.bytes > limit) break;
    fit = next;
    n++;
  }
}
const weak = needs.has('weak-key') ? await weakClientCert(certs, 1024) : null;
const refusedCert = needs.has('refused-identity')
  ? await weakClientCert(certs, 2048, 'refused client')
  : null;
const forgedCert = needs.has('crl-big')
  ? await weakClientCert(certs, 2048, 'forged client', true)
  : null;
const crlOf = (entries) => bigCrl(certs, entries);
// sighup-storm rereads these files on every reload, as tlslp-server rereads its own.
const files = {
  cert: join(dir, 'server-cert.pem'),
  key: join(dir, 'server-key.pem'),
  ca: join(dir, 'ca_cert.pem'),
  crl: join(dir, 'ca_crl.pem'),
};
if (needs.has('sighup-storm')) {
  writeFileSync(files.cert, certs.serverCert);
  writeFileSync(files.key, certs.serverKey);
  writeFileSync(files.ca, certs.caCert);
  writeFileSync(files.crl, crlOf(50_000));
}

const SOURCES = ['127.0.0.2', '127.0.0.3'];
const attacks = {
  'crafted-chain': () => ({
    kind: 'crafted-chain',
    params: { sources: SOURCES, cert: crafted?.cert, key: crafted?.key },
    about: `${crafted?.certificates} certificates, ${crafted?.bytes} bytes, 2 attackers`,
  }),
  'crafted-chain-fit': () => ({
    kind: 'crafted-chain',
    params: { sources: SOURCES, cert: fit?.cert, key: fit?.key },
    about: `${fit?.certificates} certificates, ${fit?.bytes} bytes, 2 attackers`,
  }),
  'slot-flood': () => ({
    kind: 'slot-flood',
    params: { sources: SOURCES.slice(0, 1), sockets: 10_000, reconnectMs: 10_000 },
    about: 'one IP, up to 10000 silent sockets, each reopened 10 s after it is closed',
  }),
  'slot-flood-fast': () => ({
    kind: 'slot-flood',
    params: { sources: SOURCES.slice(0, 1), sockets: 10_000, reconnectMs: 1000 },
    about: 'one IP, up to 10000 silent sockets, each reopened 1 s after it is closed',
  }),
  'no-cert-loop': () => ({
    kind: 'no-cert',
    params: { sources: SOURCES.slice(0, 1), concurrency: 4 },
    about: 'one IP, no certificate, 4 at a time',
  }),
  renegotiation: () => ({
    kind: 'renegotiation',
    params: { sources: SOURCES.slice(0, 1), ...goodTls },
    about: 'a good certificate, TLS 1.2, renegotiation asked again and again',
  }),
  'weak-key': () => ({
    kind: 'weak-key',
    params: { sources: SOURCES.slice(0, 1), cert: weak?.cert, key: weak?.key, ca: certs.caCert },
    about: 'RSA-1024 client certificate issued by our CA',
  }),
  'refused-identity': () => ({
    // The same loop as weak-key: a certificate from our CA, again and again.
    kind: 'weak-key',
    params: {
      sources: SOURCES.slice(0, 1),
      cert: refusedCert?.cert,
      key: refusedCert?.key,
      ca: certs.caCert,
    },
    about: 'RSA-2048 certificate from our CA, CN not on --allow-cn',
  }),
  pump: () => ({
    kind: 'pump',
    params: { sources: SOURCES.slice(0, 1), ...goodTls, perSecond: 190 },
    about: 'a certificate holder connecting 190/s, dropping at WORK',
  }),
  'metrics-flood': () => ({
    kind: 'http-pipeline',
    target: 'metrics',
    params: { sources: SOURCES.slice(0, 1), connections: 8, path: '/metrics' },
    about: '8 keep-alive connections pipelining GET /metrics',
  }),
  'metrics-idle': () => ({
    kind: 'slot-flood',
    target: 'metrics',
    params: { sources: SOURCES.slice(0, 1), sockets: 20_000, reconnectMs: 1000 },
    about:
      'one IP, up to 20000 idle sockets on the metrics port, each reopened 1 s after it is closed',
  }),
  'crl-big': () => ({
    kind: 'weak-key',
    params: {
      sources: SOURCES,
      concurrency: 4,
      cert: forgedCert?.cert,
      key: forgedCert?.key,
      ca: certs.caCert,
    },
    about:
      'CRL of 200000 entries; forged certificates naming our CA, 2 attackers, 4 at a time each',
  }),
  'sighup-storm': (serverPid) => ({
    kind: 'signal',
    params: { pid: serverPid, perSecond: 100 },
    about: '100 SIGHUPs a second, each rereading the files and a CRL of 50000 entries',
  }),
};

const redis = opts.state === 'auto' ? await startRedis() : null;
const stateUrl = redis ? redis.url : opts.state;
const rows = [];
for (const name of KINDS) {
  const log = join(dir, `${name}.log`);
  const server = child('./server-child.mjs');
  const attack = attacks[name](server.proc.pid);
  const withMetrics = name === 'metrics-flood' || name === 'metrics-idle';
  const serverOptions =
    name === 'pump'
      ? {
          adaptive: { minBits: 16, maxBits: 28 },
          nBits: 16,
          simulateFailures: false,
          bodyRequests: 4,
        }
      : {
          nBits: 8,
          simulateFailures: false,
          bodyRequests: 4,
          // The good clients' certificate (CN client) is the one allowed.
          ...(name === 'refused-identity' ? { allowCn: ['client'] } : {}),
        };
  const { port, metricsPort } = await server.ask(
    {
      type: 'start',
      mode: 'tlslp',
      tls: {
        cert: certs.serverCert,
        key: certs.serverKey,
        ca: certs.caCert,
        ...(name === 'crl-big' ? { crl: crlOf(200_000) } : {}),
        ...(name === 'sighup-storm' ? { crl: readFileSync(files.crl, 'utf8') } : {}),
      },
      server: stateUrl
        ? { ...serverOptions, state: stateUrl, statePrefix: `attack:${name}:` }
        : serverOptions,
      log: { file: log },
      ...(withMetrics ? { metrics: true } : {}),
      ...(name === 'sighup-storm' ? { reloadFiles: files } : {}),
    },
    'listening',
  );
  const healthPort = withMetrics ? metricsPort : 0;
  const cpu0 = (await server.ask({ type: 'stats' }, 'stats')).cpuMicros;
  const tb0 = performance.now();
  const before = await goodPhase(port, goodTls, PHASE_MS, server, healthPort);
  const loopBefore = (await server.ask({ type: 'stats', resetLoopDelay: true }, 'stats'))
    .loopDelayMaxMs;
  const cpuBefore =
    ((await server.ask({ type: 'stats' }, 'stats')).cpuMicros - cpu0) /
    1000 /
    (performance.now() - tb0);
  const statsBefore = (await server.ask({ type: 'stats' }, 'stats')).stats;
  const attacker = child('./attack-child.mjs');
  const target = attack.target === 'metrics' ? metricsPort : port;
  await attacker.ask(
    { type: 'start', kind: attack.kind, port: target, params: attack.params },
    'started',
  );
  await sleep(500); // the attack builds up before the good clients are measured again
  const linesAtStart = lineCount(log);
  const atStart = await server.ask({ type: 'stats' }, 'stats');
  const warningsAtStart = atStart.stderrLines;
  const t0 = performance.now();
  const during = await goodPhase(port, goodTls, PHASE_MS, server, healthPort);
  const seconds = (performance.now() - t0) / 1000;
  const linesDuring = lineCount(log) - linesAtStart;
  const cpuDuring =
    ((await server.ask({ type: 'stats' }, 'stats')).cpuMicros - atStart.cpuMicros) /
    1000 /
    (seconds * 1000);
  const { counts } = await attacker.ask({ type: 'stop' }, 'stopped');
  const final = await server.ask({ type: 'stats' }, 'stats');
  await server.ask({ type: 'close' }, 'closed');
  const delta = (a, b) => {
    const d = {};
    for (const [k, v] of Object.entries(b)) if (v - (a[k] ?? 0) > 0) d[k] = v - (a[k] ?? 0);
    return d;
  };
  const goodAttempts = during.done + during.failed;
  rows.push({
    kind: name,
    attack: attack.about,
    goodPerSecondBefore: Number(before.rate.toFixed(1)),
    goodPerSecondDuring: Number(during.rate.toFixed(1)),
    ratio: Number((during.rate / Math.max(before.rate, 1e-9)).toFixed(3)),
    goodFailedShare: Number((goodAttempts ? during.failed / goodAttempts : 0).toFixed(4)),
    goodFailures: during.failures,
    // Server CPU time over wall time (1 = one core busy): whether the server is the bottleneck.
    serverCpuBefore: Number(cpuBefore.toFixed(2)),
    serverCpuDuring: Number(cpuDuring.toFixed(2)),
    // Server CPU per good session before over during: what the ratio would be if the server
    // were the bottleneck. On a small machine the attackers' own CPU also slows the good
    // clients, which the plain ratio includes.
    serverCapacityRatio: Number(
      (cpuBefore / Math.max(before.rate, 1e-9) / (cpuDuring / Math.max(during.rate, 1e-9))).toFixed(
        3,
      ),
    ),
    serverPeakRssMB: Number((Math.max(during.peakRss, before.peakRss) / 1048576).toFixed(1)),
    serverRssBeforeMB: Number((before.peakRss / 1048576).toFixed(1)),
    logLinesPerSecond: Number((linesDuring / seconds).toFixed(1)),
    // Warnings (what also goes to stderr): the lines strangers cause.
    warningLinesPerSecond: Number(((final.stderrLines - warningsAtStart) / seconds).toFixed(1)),
    nBitsBefore: before.nBitsMax,
    nBitsDuringMax: during.nBitsMax,
    nBitsRise: during.nBitsMax - before.nBitsMax,
    // The longest event-loop stall (5 ms steps): before (the first phase) and during.
    loopDelayMaxMsBefore: loopBefore,
    loopDelayMaxMsDuring: final.loopDelayMaxMs,
    ...(withMetrics
      ? {
          healthzP50MsBefore: before.healthzP50Ms,
          healthzP50MsDuring: during.healthzP50Ms,
          healthzP99MsDuring: during.healthzP99Ms,
          healthzFailedDuring: during.healthzFailed,
        }
      : {}),
    ...(name === 'sighup-storm' ? { reloads: final.reloads } : {}),
    attacker: counts,
    handshakeFailures: delta(
      statsBefore.handshakeFailuresByReason,
      final.stats.handshakeFailuresByReason,
    ),
    refused: delta(statsBefore.refusedByReason, final.stats.refusedByReason),
    sessionsFailed: delta(statsBefore.failedByReason, final.stats.failedByReason),
  });
  const r = /** @type {(typeof rows)[number]} */ (rows.at(-1));
  out(
    `${name.padEnd(18)} good ${String(r.goodPerSecondBefore).padStart(6)}/s -> ${String(r.goodPerSecondDuring).padStart(6)}/s  ratio ${r.ratio.toFixed(2)} (server capacity ${r.serverCapacityRatio.toFixed(2)})  failed ${(r.goodFailedShare * 100).toFixed(1)}%  server CPU ${r.serverCpuBefore}->${r.serverCpuDuring}  peak RSS ${r.serverPeakRssMB} MB  log ${r.logLinesPerSecond}/s (warnings ${r.warningLinesPerSecond}/s)  n_bits ${r.nBitsBefore}->${r.nBitsDuringMax}  attacker: ${counts.attempts} tries, ${counts.served} served${counts.renegotiated ? `, ${counts.renegotiated} renegotiated` : ''}${counts.responses ? `, ${counts.responses} HTTP answers (${counts.tooMany} 429)` : ''}${counts.signals ? `, ${counts.signals} SIGHUPs -> ${final.reloads} reloads` : ''}${withMetrics ? `  /healthz p50 ${before.healthzP50Ms} -> ${during.healthzP50Ms} ms` : ''}  loop stall max ${final.loopDelayMaxMs} ms`,
  );
}
await closeSolverPool();
await redis?.stop();
const summary = {
  command: `node bench/attack.mjs ${process.argv
    .slice(2)
    .map((a) => (/^[a-z]+:\/\//.test(a) ? maskUrl(a) : a))
    .join(' ')}`.trim(),
  state: stateUrl ? (redis ? 'a private redis-server' : maskUrl(stateUrl)) : null,
  seconds: PHASE_MS / 1000,
  goodConcurrency: GOOD,
  limits: {
    maxHandshakeBytes: DEFAULTS.maxHandshakeBytes,
    maxChainDepth: DEFAULTS.maxChainDepth,
    maxHandshakes: DEFAULTS.maxHandshakes,
    maxHandshakesPerIp: DEFAULTS.maxHandshakesPerIp,
    maxHandshakeFailuresPerIp: DEFAULTS.maxHandshakeFailuresPerIp,
  },
  kinds: rows,
  elapsedSeconds: Number(((performance.now() - STARTED) / 1000).toFixed(1)),
};
if (opts.json) out(JSON.stringify(summary));
process.exit(0);
