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
 * Needs haproxy (Debian: apt-get install haproxy). Everything stays on loopback; the run
 * stops by itself (--deadline, default 120 s). With --json the last line is one JSON object.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { parseArgs } from 'node:util';

const { values: opts } = parseArgs({
  options: {
    sessions: { type: 'string', default: '200' },
    concurrency: { type: 'string', default: '16' },
    repeat: { type: 'string', default: '3' },
    deadline: { type: 'string', default: '120' },
    json: { type: 'boolean', default: false },
  },
});
const sessions = Number(opts.sessions);
const concurrency = Number(opts.concurrency);
const repeat = Number(opts.repeat);

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

const children = [];
const stopAll = () => {
  for (const c of children) c.kill('SIGKILL');
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

async function freePort() {
  const s = net.createServer();
  await new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve(undefined)));
  const { port } = /** @type {net.AddressInfo} */ (s.address());
  await new Promise((resolve) => s.close(resolve));
  return port;
}

const dir = mkdtempSync(join(tmpdir(), 'tlslp-bench-lb-'));
const certs = await lib.generateCertificateSet();
const { paths } = await lib.writeCertificateSet(dir, certs);

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
    '--max-handshake-failures-per-ip',
    '0',
    '--max-handshakes-per-ip',
    '10000',
    '--log-file',
    'none',
    '--quiet',
  ],
  {
    cwd: new URL('..', import.meta.url),
    env: { ...process.env, XDG_STATE_HOME: dir },
    stdio: ['ignore', 'pipe', 'inherit'],
  },
);
children.push(server);
const serverPort = await new Promise((resolve, reject) => {
  let out = '';
  server.stdout.setEncoding('utf8').on('data', (d) => {
    out += d;
    const m = /listening on 127\.0\.0\.1:(\d+)/.exec(out);
    if (m) resolve(Number(m[1]));
  });
  server.once('exit', (code) => reject(new Error(`server exited ${code}`)));
});

const frontPort = await freePort();
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
    'frontend fe',
    `  bind 127.0.0.1:${frontPort}`,
    '  default_backend be',
    'backend be',
    `  server s1 127.0.0.1:${serverPort} send-proxy-v2 source 127.0.0.2`,
    '',
  ].join('\n'),
);
const haproxy = spawn(haproxyBin, ['-f', cfg, '-db'], { stdio: ['ignore', 'ignore', 'inherit'] });
children.push(haproxy);
await new Promise((resolve) => setTimeout(resolve, 500));

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

await phase(serverPort, Math.min(20, sessions)); // warm-up: JIT, solver pool
await phase(frontPort, Math.min(20, sessions));
const direct = [];
const viaHaproxy = [];
for (let i = 0; i < repeat; i++) {
  // Alternate which goes first, so drift on a shared machine hits both.
  if (i % 2 === 0) {
    direct.push(await phase(serverPort, sessions));
    viaHaproxy.push(await phase(frontPort, sessions));
  } else {
    viaHaproxy.push(await phase(frontPort, sessions));
    direct.push(await phase(serverPort, sessions));
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const result = {
  command: `node bench/lb.mjs ${process.argv.slice(2).join(' ')}`.trim(),
  sessions,
  concurrency,
  repeat,
  directSessionsPerSecond: direct.map((x) => Math.round(x)),
  haproxySessionsPerSecond: viaHaproxy.map((x) => Math.round(x)),
  directMedian: Math.round(median(direct)),
  haproxyMedian: Math.round(median(viaHaproxy)),
  ratio: Number((median(viaHaproxy) / median(direct)).toFixed(2)),
};
await lib.closeSolverPool();
stopAll();
process.stdout.write(
  `${result.command}\n` +
    `sessions/s direct:  ${result.directSessionsPerSecond.join(', ')} (median ${result.directMedian})\n` +
    `sessions/s HAProxy: ${result.haproxySessionsPerSecond.join(', ')} (median ${result.haproxyMedian})\n` +
    `ratio HAProxy/direct: ${result.ratio} (same server process, alternating phases, ${concurrency} clients, ${sessions} sessions a phase)\n`,
);
if (opts.json) process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);
