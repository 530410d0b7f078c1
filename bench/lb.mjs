#!/usr/bin/env node
// @ts-check
/**
 * Load-balancer benchmark (`npm run bench:lb`, which builds first): full sessions per second
 * through HAProxy (`mode tcp`, `send-proxy-v2`) against the same tlslp-server dialled
 * directly, measured in alternating phases of one run. One server process serves both
 * paths: it trusts PROXY headers only from 127.0.0.2, the address HAProxy dials it from, so
 * direct clients on 127.0.0.1 are served as usual.
 *
 *   node bench/lb.mjs [--sessions S] [--concurrency C] [--repeat R] [--json]
 *
 * Fleet mode (issue 22): HAProxy in front of three tlslp-server processes that share one
 * Redis store (`--state`; a private redis-server on a free port unless --state names one),
 * against three alike but for `--state`, behind a second HAProxy frontend, in alternating
 * phases of one run; every server has --max-per-ip and --max-per-identity set high but on, so
 * each session with the store takes a lease. Prints sessions/s of both trios and their ratio,
 * then the fleet-wide effect of one attacker: --attempts (default 60) handshakes without a
 * client certificate, one after the other from one source address (127.0.0.3), round-robin
 * through HAProxy to each trio; counted on the servers (their /metrics): failed handshakes
 * admitted, and connections refused by the failure budget (default 30 a minute, a burst of 5
 * an IP). With the store the fleet admits about one burst; without, one a server.
 *
 *   node bench/lb.mjs --fleet [--state redis://host:port] [--sessions S] [--concurrency C] [--repeat R] [--attempts A] [--json]
 *
 * Needs haproxy (Debian: apt-get install haproxy). Everything stays on loopback; the run
 * stops by itself (--deadline, default 120 s). With --json the last line is one JSON object.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import tls from 'node:tls';
import { parseArgs } from 'node:util';
import { bareStateMeansAuto, freePort, maskUrl, startRedis } from './redis.mjs';

bareStateMeansAuto();
const { values: opts } = parseArgs({
  options: {
    sessions: { type: 'string', default: '200' },
    concurrency: { type: 'string', default: '16' },
    repeat: { type: 'string', default: '3' },
    deadline: { type: 'string', default: '120' },
    fleet: { type: 'boolean', default: false },
    state: { type: 'string', default: 'auto' },
    attempts: { type: 'string', default: '60' },
    json: { type: 'boolean', default: false },
  },
});
const sessions = Number(opts.sessions);
const concurrency = Number(opts.concurrency);
const repeat = Number(opts.repeat);
const attempts = Number(opts.attempts);
for (const [name, n] of Object.entries({ sessions, concurrency, repeat, attempts }))
  if (!Number.isInteger(n) || n < 1) {
    process.stderr.write(`bench/lb.mjs: --${name} must be an integer >= 1\n`);
    process.exit(2);
  }

const haproxyBin =
  ['/usr/sbin/haproxy', '/usr/local/sbin/haproxy'].find((p) => existsSync(p)) ??
  (spawnSync('sh', ['-c', 'command -v haproxy'], { encoding: 'utf8' }).stdout.trim() || null);
if (!haproxyBin) {
  process.stderr.write('bench/lb.mjs: haproxy not found (apt-get install haproxy)\n');
  process.exit(2);
}
if (!existsSync(new URL('../dist/index.js', import.meta.url))) {
  process.stderr.write('bench/lb.mjs: dist/ is missing: run npm run build first\n');
  process.exit(2);
}
const lib = await import('tlslp');

/** @type {Array<{ kill(signal?: NodeJS.Signals): unknown }>} */
const children = [];
let stopping = false;
/** Stop every process started, the last started first (the servers before their store). */
const stopAll = () => {
  stopping = true;
  for (const c of [...children].reverse()) c.kill('SIGKILL');
};
const deadline = setTimeout(
  () => {
    process.stderr.write('bench/lb.mjs: deadline reached\n');
    stopAll();
    process.exit(1);
  },
  Number(opts.deadline) * 1000,
);
deadline.unref();
process.on('exit', stopAll);

const dir = mkdtempSync(join(tmpdir(), 'tlslp-bench-lb-'));
const certs = await lib.generateCertificateSet();
const { paths } = await lib.writeCertificateSet(dir, certs);

/**
 * Start `node dist/cli/server.js` on a free port of 127.0.0.1, trusting PROXY headers from
 * 127.0.0.2 (HAProxy's source address), with `extra` flags; resolves with its ports once it
 * listens (the metrics port with `--metrics-port 0` in `extra`).
 * @param {string[]} extra
 * @returns {Promise<{ port: number, metricsPort: number | null }>}
 */
async function startServer(extra = []) {
  /** @type {NodeJS.ProcessEnv} */
  const env = { ...process.env, XDG_STATE_HOME: dir };
  // Only the flags say whether a server has a store.
  delete env.TLSLP_STATE_URL;
  const server = spawn(
    process.execPath,
    [
      'dist/cli/server.js',
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--server-cert',
      paths.serverCert,
      '--server-key',
      paths.serverKey,
      '--ca-cert',
      paths.caCert,
      '--proxy-protocol',
      '--proxy-from',
      '127.0.0.2/32',
      '--n_bits',
      '8',
      '--max-handshakes-per-ip',
      '10000',
      '--log-file',
      'none',
      '--quiet',
      ...extra,
    ],
    { cwd: new URL('..', import.meta.url), env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.push(server);
  // Its warnings (one a failed or refused handshake of the attacker) are shown only if it
  // exits before the end: the last 20 lines.
  const lines = [];
  server.stderr.setEncoding('utf8').on('data', (d) => {
    lines.push(...d.split('\n').filter(Boolean));
    lines.splice(0, Math.max(0, lines.length - 20));
  });
  server.once('exit', (code, signal) => {
    if (!stopping)
      process.stderr.write(
        `bench/lb.mjs: a server exited (code ${code}, signal ${signal}):\n${lines.join('\n')}\n`,
      );
  });
  const wantMetrics = extra.includes('--metrics-port');
  return new Promise((resolve, reject) => {
    let out = '';
    server.stdout.setEncoding('utf8').on('data', (d) => {
      out += d;
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(out);
      const metrics = /metrics on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m && (metrics || !wantMetrics))
        resolve({ port: Number(m[1]), metricsPort: metrics ? Number(metrics[1]) : null });
    });
    server.once('exit', (code) => reject(new Error(`server exited ${code}`)));
  });
}

/**
 * Start HAProxy (`mode tcp`) with one frontend on a free port for each backend list, each
 * server dialled from 127.0.0.2 with a PROXY v2 header, round-robin; resolves with the
 * frontends' ports.
 * @param {number[][]} backends
 */
async function startHaproxy(backends) {
  const fronts = [];
  for (let i = 0; i < backends.length; i++) fronts.push(await freePort());
  const cfg = join(dir, 'haproxy.cfg');
  writeFileSync(
    cfg,
    [
      'global',
      '  maxconn 4096',
      'defaults',
      '  mode tcp',
      '  timeout connect 2s',
      '  timeout client 60s',
      '  timeout server 60s',
      ...backends.flatMap((ports, i) => [
        `frontend fe${i}`,
        `  bind 127.0.0.1:${fronts[i]}`,
        `  default_backend be${i}`,
        `backend be${i}`,
        '  balance roundrobin',
        ...ports.map(
          (port, j) => `  server s${j + 1} 127.0.0.1:${port} send-proxy-v2 source 127.0.0.2`,
        ),
      ]),
      '',
    ].join('\n'),
  );
  const haproxy = spawn(/** @type {string} */ (haproxyBin), ['-f', cfg, '-db'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.push(haproxy);
  await new Promise((resolve) => setTimeout(resolve, 500));
  if (haproxy.exitCode !== null) throw new Error(`haproxy exited ${haproxy.exitCode}`);
  return fronts;
}

const tlsMaterial = { ca: certs.caCert, cert: certs.clientCert, key: certs.clientKey };

/** `count` full sessions against `port`, `concurrency` at a time; sessions per second. */
async function phase(port, count) {
  let next = 0;
  let failed = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        next++;
        await lib
          .runClient({
            host: '127.0.0.1',
            ports: [port],
            tls: tlsMaterial,
            solverOptions: { threads: 1 },
          })
          .catch((err) => {
            if (err.name !== 'ServerFailError') failed++;
          });
      }
    }),
  );
  if (failed > 0) throw new Error(`${failed} sessions failed on port ${port}`);
  return count / ((performance.now() - started) / 1000);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const command = `node bench/lb.mjs ${process.argv
  .slice(2)
  .map((a) => (/^[a-z]+:\/\//.test(a) ? maskUrl(a) : a))
  .join(' ')}`.trim();

/**
 * `repeat` phases of `sessions` against port `a` and port `b`, which goes first alternating
 * (so drift on a shared machine hits both), after a warm-up of each; the sessions per second
 * of each phase, of `a` and of `b`.
 * @returns {Promise<[number[], number[]]>}
 */
async function alternate(a, b) {
  /** @type {number[]} */
  const ofA = [];
  /** @type {number[]} */
  const ofB = [];
  await phase(a, Math.min(20, sessions)); // warm-up: JIT, solver pool
  await phase(b, Math.min(20, sessions));
  for (let i = 0; i < repeat; i++) {
    if (i % 2 === 0) {
      ofA.push(await phase(a, sessions));
      ofB.push(await phase(b, sessions));
    } else {
      ofB.push(await phase(b, sessions));
      ofA.push(await phase(a, sessions));
    }
  }
  return [ofA, ofB];
}

// ---------------------------------------------------------------------------------------------
// HAProxy against direct

async function viaHaproxyVsDirect() {
  const { port: serverPort } = await startServer(['--max-handshake-failures-per-ip', '0']);
  const [frontPort] = /** @type {[number]} */ (await startHaproxy([[serverPort]]));
  const [direct, viaHaproxy] = await alternate(serverPort, frontPort);
  const result = {
    command,
    sessions,
    concurrency,
    repeat,
    directSessionsPerSecond: direct.map((x) => Math.round(x)),
    haproxySessionsPerSecond: viaHaproxy.map((x) => Math.round(x)),
    directMedian: Math.round(median(direct)),
    haproxyMedian: Math.round(median(viaHaproxy)),
    ratio: Number((median(viaHaproxy) / median(direct)).toFixed(2)),
  };
  process.stdout.write(
    `${result.command}\n` +
      `sessions/s direct:  ${result.directSessionsPerSecond.join(', ')} (median ${result.directMedian})\n` +
      `sessions/s HAProxy: ${result.haproxySessionsPerSecond.join(', ')} (median ${result.haproxyMedian})\n` +
      `ratio HAProxy/direct: ${result.ratio} (same server process, alternating phases, ${concurrency} clients, ${sessions} sessions a phase)\n`,
  );
  if (opts.json) process.stdout.write(`${JSON.stringify(result)}\n`);
}

// ---------------------------------------------------------------------------------------------
// A fleet: three servers on one store against three on their own

/** The sum of the samples of metric `name` in Prometheus `text` whose labels include `label`. */
function metricSum(text, name, label = '') {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m && m[1] === name && (m[2] ?? '').includes(label)) sum += Number(m[3]);
  }
  return sum;
}

/** What the trio's /metrics say now: the attacker's figures and the fleet state's. */
async function trioFigures(metricsPorts) {
  const texts = await Promise.all(
    metricsPorts.map(async (p) => (await fetch(`http://127.0.0.1:${p}/metrics`)).text()),
  );
  const sum = (name, label) => texts.reduce((n, t) => n + metricSum(t, name, label), 0);
  return {
    handshakeFailures: sum('tlslp_handshake_failures_total'),
    refusedByBudget: sum('tlslp_connections_refused_total', 'reason="handshake-failures"'),
    stateFallbacks: sum('tlslp_state_fallbacks_total'),
    stateUp: texts.map((t) =>
      t.includes('tlslp_state_up ') ? metricSum(t, 'tlslp_state_up') : null,
    ),
    fleetServers: texts.map((t) => metricSum(t, 'tlslp_fleet_servers')),
  };
}

/** One handshake without a client certificate from `source`; resolves when it is over. */
function noCertAttempt(port, source) {
  return new Promise((resolve) => {
    const raw = net.connect({ host: '127.0.0.1', port, localAddress: source });
    raw.on('error', () => {});
    const socket = tls.connect({ socket: raw, rejectUnauthorized: false, minVersion: 'TLSv1.2' });
    const timer = setTimeout(() => socket.destroy(), 5000);
    socket.on('error', () => {});
    socket.once('close', () => {
      clearTimeout(timer);
      raw.destroy();
      resolve(undefined);
    });
  });
}

/** `attempts` no-certificate handshakes from 127.0.0.3, one at a time, through `frontPort`. */
async function attack(frontPort, metricsPorts) {
  const before = await trioFigures(metricsPorts);
  const t0 = performance.now();
  for (let i = 0; i < attempts; i++) await noCertAttempt(frontPort, '127.0.0.3');
  const seconds = (performance.now() - t0) / 1000;
  // Failures are counted as the servers close, and /metrics is rendered at most once a
  // second: read until every attempt shows (5 s at most).
  let after = await trioFigures(metricsPorts);
  for (let waited = 0; waited < 5000; waited += 250) {
    const seen =
      after.handshakeFailures -
      before.handshakeFailures +
      (after.refusedByBudget - before.refusedByBudget);
    if (seen >= attempts) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
    after = await trioFigures(metricsPorts);
  }
  return {
    attempts,
    seconds: Number(seconds.toFixed(2)),
    admitted: after.handshakeFailures - before.handshakeFailures,
    refused: after.refusedByBudget - before.refusedByBudget,
  };
}

async function fleet() {
  let url = opts.state;
  const redis = url === 'auto' ? await startRedis() : null;
  if (redis) children.push({ kill: () => void redis.stop() });
  if (redis) url = redis.url;
  else if (!/^(redis|rediss|valkey|valkeys):\/\/./.test(url))
    throw new Error(`--state takes auto or a redis://host:port URL, not ${url}`);
  const prefix = `tlslp-bench-lb:${randomBytes(4).toString('hex')}:`;
  // Alike but for --state: leases on for every session (limits never reached), the default
  // failure budget (30 a minute, a burst of 5 an IP), metrics to count on.
  const common = [
    '--max-per-ip',
    '1000000',
    '--max-per-identity',
    '1000000',
    '--max-handshake-failures-per-ip',
    '30',
    '--metrics-port',
    '0',
  ];
  const trios = {
    withStore: await Promise.all(
      [1, 2, 3].map(() => startServer([...common, '--state', url, '--state-prefix', prefix])),
    ),
    withoutStore: await Promise.all([1, 2, 3].map(() => startServer(common))),
  };
  const [frontWith, frontWithout] = /** @type {[number, number]} */ (
    await startHaproxy([trios.withStore.map((s) => s.port), trios.withoutStore.map((s) => s.port)])
  );
  const [ratesWith, ratesWithout] = await alternate(frontWith, frontWithout);
  const metricsOf = (trio) => trio.map((s) => /** @type {number} */ (s.metricsPort));
  // Good clients are 127.0.0.1; the attacker is 127.0.0.3, with a budget of its own.
  const state = await trioFigures(metricsOf(trios.withStore));
  const attackWith = await attack(frontWith, metricsOf(trios.withStore));
  const attackWithout = await attack(frontWithout, metricsOf(trios.withoutStore));
  const result = {
    command,
    mode: 'fleet',
    store: redis ? 'private redis-server' : maskUrl(url),
    servers: 3,
    sessions,
    concurrency,
    repeat,
    withStore: {
      sessionsPerSecond: ratesWith.map((x) => Math.round(x)),
      median: Math.round(median(ratesWith)),
      stateFallbacks: state.stateFallbacks,
      stateUp: state.stateUp,
      fleetServers: state.fleetServers,
      attack: attackWith,
    },
    withoutStore: {
      sessionsPerSecond: ratesWithout.map((x) => Math.round(x)),
      median: Math.round(median(ratesWithout)),
      attack: attackWithout,
    },
    ratio: Number((median(ratesWith) / median(ratesWithout)).toFixed(2)),
  };
  const w = result.withStore;
  const wo = result.withoutStore;
  process.stdout.write(
    `${command}\n` +
      `HAProxy (mode tcp, send-proxy-v2, round-robin) in front of 3 tlslp-server processes; store: ${redis ? `${url} (private redis-server, pid ${redis.pid})` : result.store}\n` +
      `sessions/s, 3 servers on one store: ${w.sessionsPerSecond.join(', ')} (median ${w.median})\n` +
      `sessions/s, 3 servers on their own: ${wo.sessionsPerSecond.join(', ')} (median ${wo.median})\n` +
      `ratio with/without the store: ${result.ratio} (alternating phases, ${concurrency} clients, ${sessions} sessions a phase; fallbacks to local limits ${w.stateFallbacks}, tlslp_state_up ${w.stateUp.join('/')}, tlslp_fleet_servers ${w.fleetServers.join('/')})\n` +
      `one attacker, ${attempts} handshakes without a certificate from 127.0.0.3, round-robin:\n` +
      `  with the store:    ${w.attack.admitted} failed handshakes admitted, ${w.attack.refused} refused by the budget (${w.attack.seconds} s)\n` +
      `  without the store: ${wo.attack.admitted} failed handshakes admitted, ${wo.attack.refused} refused by the budget (${wo.attack.seconds} s)\n`,
  );
  if (opts.json) process.stdout.write(`${JSON.stringify(result)}\n`);
}

let code = 0;
try {
  if (opts.fleet) await fleet();
  else await viaHaproxyVsDirect();
} catch (err) {
  process.stderr.write(`bench/lb.mjs: ${err?.stack ?? err}\n`);
  code = 1;
} finally {
  await lib.closeSolverPool();
  stopAll();
}
process.exit(code);
