#!/usr/bin/env node
// @ts-check
/**
 * A server in a child process, for the harnesses (bench/server.mjs, bench/fuzz.mjs).
 * Not meant to be run by hand: the parent starts it with `child_process.fork` and drives it
 * over IPC.
 *
 *   parent → child  {type:'start', mode:'tlslp'|'tls', tls:{cert,key,ca,crl?}, server:{…ServerOptions},
 *                    log?:{file}, metrics?: boolean, reloadFiles?: {cert,key,ca,crl?}}
 *   child  → parent {type:'listening', port, metricsPort?}
 *   parent → child  {type:'stats', fds?: boolean, resetLoopDelay?: boolean}
 *   child  → parent {type:'stats', stats, inFlight, openConnections, stderrLines, rss, peakRss,
 *                    heapUsed, cpuMicros, loopDelayMaxMs (since the last reset), reloads,
 *                    state (with metrics: true: {up, fallbacks} of the fleet state, from
 *                    tlslp_state_up and tlslp_state_fallbacks_total),
 *                    socketFds (with fds: true, on Linux; the listening socket and IPC count too)}
 *   parent → child  {type:'gc'}            (when forked with --expose-gc; answers {type:'gc'})
 *   parent → child  {type:'close', graceMs?}
 *   child  → parent {type:'closed'}, then the child exits 0
 *
 * mode 'tlslp' (default) runs a TlslpServer on 127.0.0.1, port 0, mutual TLS unless
 * `server.insecure`, with no logger (quiet). mode 'tls' runs the reference: a bare Node
 * `tls.createServer` (requestCert, rejectUnauthorized, the same certificates) that writes
 * `HELLO\n` on every completed handshake and counts handshakes.
 *
 * With `metrics`, the tlslp server also serves its metrics and health on 127.0.0.1 (a free
 * port, `metricsPort`), as `--metrics-port` does. With `reloadFiles`, SIGHUP rereads those
 * files into it as tlslp-server does (one reload at a time, a burst merged), counted in
 * `reloads`.
 *
 * No handler is installed for uncaught exceptions or unhandled rejections: either one makes
 * Node exit non-zero, which is how the harnesses count server crashes. If the parent goes
 * away, the child exits.
 */
import { readdirSync, readlinkSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import process from 'node:process';
import { Writable } from 'node:stream';
import tls from 'node:tls';

const { TlslpServer, ServerMetrics, serveMetrics } = await import('tlslp/server');
const { createLogger } = await import('tlslp/logging');
const { readTlsFiles } = await import('tlslp/tls');
const { serialReloads } = await import('tlslp/bench');

// The longest the event loop stalled (a render, a reload), in resolution steps of 5 ms.
const loopDelay = monitorEventLoopDelay({ resolution: 5 });
loopDelay.enable();

if (!process.send) {
  process.stderr.write(
    'bench/server-child.mjs is started by bench/server.mjs or bench/fuzz.mjs (fork + IPC)\n',
  );
  process.exit(2);
}

/** @type {{ port: number, metricsPort?: number, close: (graceMs?: number) => Promise<void>, snapshot: () => object | Promise<object> } | null} */
let running = null;

/** Socket file descriptors this process holds (Linux: /proc/self/fd), or null elsewhere. */
function socketFds() {
  try {
    let n = 0;
    for (const fd of readdirSync('/proc/self/fd')) {
      try {
        if (readlinkSync(`/proc/self/fd/${fd}`).startsWith('socket:')) n++;
      } catch {
        // closed meanwhile
      }
    }
    return n;
  } catch {
    return null;
  }
}

function memory() {
  return {
    loopDelayMaxMs: Math.round(loopDelay.max / 1e6),
    rss: process.memoryUsage().rss,
    heapUsed: process.memoryUsage().heapUsed,
    peakRss: process.resourceUsage().maxRSS * 1024,
    // Microseconds of CPU used so far (user + system), to tell which side is the bottleneck.
    cpuMicros: process.cpuUsage().user + process.cpuUsage().system,
  };
}

/** Lines the server's logger wrote to its stderr stream (with `log`). */
let stderrLines = 0;

async function startTlslp(msg) {
  // With `log: {file}` the server logs at INFO to that file, and its warnings to a stream that
  // only counts lines (what a terminal or journald would get); without it, nowhere.
  const logger = msg.log?.file
    ? createLogger({
        name: 'tlslp.server',
        file: msg.log.file,
        stderr: new Writable({
          write(chunk, _encoding, done) {
            for (const b of chunk) if (b === 10) stderrLines++;
            done();
          },
        }),
      })
    : undefined;
  const metrics = msg.metrics ? new ServerMetrics({ defaultMetrics: true }) : undefined;
  const server = new TlslpServer({
    ...(msg.server ?? {}),
    host: '127.0.0.1',
    port: 0,
    tls: msg.tls,
    ...(logger ? { logger } : {}),
    ...(metrics ? { metrics } : {}),
  });
  const http = metrics
    ? await serveMetrics(metrics.registry, '127.0.0.1', 0, () => server.readiness())
    : null;
  let reloads = 0;
  const files = msg.reloadFiles;
  if (files) {
    const quiet = createLogger({ name: 'tlslp.server', file: null, stderr: null });
    const reload = serialReloads(
      quiet,
      {
        reloadAsync: async (material, labels) => {
          reloads++;
          return server.reloadAsync(material, labels);
        },
      },
      () =>
        readTlsFiles({
          cert: { path: files.cert, flag: '--server-cert' },
          key: { path: files.key, flag: '--server-key' },
          ca: { path: files.ca, flag: '--ca-cert' },
          ...(files.crl ? { crl: { path: files.crl, flag: '--crl' } } : {}),
        }),
      { cert: files.cert, key: files.key, ca: files.ca, crl: files.crl },
    );
    process.on('SIGHUP', () => void reload('signal'));
  }
  const { port } = await server.listen();
  return {
    port,
    ...(http ? { metricsPort: http.port } : {}),
    close: async (graceMs) => {
      await server.close(graceMs ?? 0);
      await http?.close();
      await logger?.close();
    },
    snapshot: async () => ({
      reloads,
      stderrLines,
      stats: server.stats,
      inFlight: server.inFlight,
      // Not every version of the server has it: null when missing.
      openConnections: typeof server.openConnections === 'number' ? server.openConnections : null,
      state: metrics ? await stateFigures(metrics) : null,
    }),
  };
}

/**
 * The fleet state's figures from `metrics`: whether the store answers (null without a store)
 * and the decisions made locally because it did not answer in time.
 * @param {InstanceType<typeof ServerMetrics>} metrics
 */
async function stateFigures(metrics) {
  const up = (await metrics.stateUp.get()).values[0]?.value;
  const fallbacks = (await metrics.stateFallbacks.get()).values.reduce((n, v) => n + v.value, 0);
  const shared = metrics.registry.getSingleMetric('tlslp_state_up') !== undefined;
  return { up: shared && up !== undefined ? up === 1 : null, fallbacks };
}

async function startReference(msg) {
  const sockets = new Set();
  const stats = {
    connections: 0,
    handshakes: 0,
    handshakeFailures: 0,
    handshakeFailuresByReason: {},
  };
  const server = tls.createServer({
    cert: msg.tls.cert,
    key: msg.tls.key,
    ca: msg.tls.ca,
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.2',
    handshakeTimeout: msg.server?.handshakeTimeoutMs ?? 10_000,
  });
  server.on('connection', (socket) => {
    stats.connections++;
    sockets.add(socket);
    socket.on('error', () => {});
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('secureConnection', (socket) => {
    stats.handshakes++;
    socket.on('error', () => {});
    // One line, so the client knows the server finished the handshake (client certificate
    // verified) before it hangs up.
    socket.end('HELLO\n');
  });
  server.on('tlsClientError', (err, socket) => {
    stats.handshakeFailures++;
    const reason = String(
      /** @type {NodeJS.ErrnoException} */ (err).code ?? 'unknown',
    ).toLowerCase();
    stats.handshakeFailuresByReason[reason] = (stats.handshakeFailuresByReason[reason] ?? 0) + 1;
    socket.destroy();
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(undefined));
  });
  return {
    port: /** @type {import('node:net').AddressInfo} */ (server.address()).port,
    close: async () => {
      await new Promise((resolve) => {
        server.close(() => resolve(undefined));
        for (const s of sockets) s.destroy();
      });
    },
    snapshot: () => ({ stats, inFlight: 0, openConnections: sockets.size }),
  };
}

process.on('message', (msg) => {
  void handle(msg);
});

/** @param {any} msg a request from the parent */
async function handle(msg) {
  switch (msg?.type) {
    case 'start': {
      if (running) throw new Error('server-child: already started');
      running = msg.mode === 'tls' ? await startReference(msg) : await startTlslp(msg);
      process.send?.({ type: 'listening', port: running.port, metricsPort: running.metricsPort });
      return;
    }
    case 'stats': {
      if (msg.resetLoopDelay) loopDelay.reset();
      process.send?.({
        type: 'stats',
        ...(running ? await running.snapshot() : {}),
        ...memory(),
        socketFds: msg.fds ? socketFds() : null,
      });
      return;
    }
    case 'gc': {
      if (typeof globalThis.gc === 'function') {
        globalThis.gc();
        globalThis.gc();
      }
      process.send?.({ type: 'gc', available: typeof globalThis.gc === 'function' });
      return;
    }
    case 'close': {
      if (running) await running.close(msg.graceMs ?? 0);
      running = null;
      process.send?.({ type: 'closed' }, () => {
        process.disconnect();
        process.exit(0);
      });
      return;
    }
    default:
      throw new Error(`server-child: unknown message ${JSON.stringify(msg)}`);
  }
}

// The parent died or disconnected: nobody will ever ask us to close.
process.on('disconnect', () => {
  if (running) void running.close(0).finally(() => process.exit(0));
  else process.exit(0);
});
