/**
 * Cluster mode (`--workers N`): one primary process forks N workers with `node:cluster`;
 * each runs a full server on the shared listening socket. Sessions are self-contained, so
 * workers share nothing but the port. Workers send their log lines to the primary, which
 * owns the log file (one writer, so rotation stays safe) and restarts crashed workers.
 * @module
 */
import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import type { Logger, LogLevel } from '../logging.js';
import { serveMetrics } from './metrics.js';
import { hostPort } from '../text/address.js';

const SEVERITY: Record<LogLevel, number> = {
  DEBUG: 10,
  INFO: 20,
  WARNING: 30,
  ERROR: 40,
  CRITICAL: 50,
};

/** A log record crossing from a worker to the primary. */
interface LogMessage {
  tlslpLog: {
    level: 'debug' | 'info' | 'warning' | 'error';
    msg: string;
    fields?: Record<string, unknown>;
    stderr?: boolean;
  };
}

function isLogMessage(m: unknown): m is LogMessage {
  return typeof m === 'object' && m !== null && 'tlslpLog' in m;
}

/** A logger for a worker: filters by level here, then hands each line to the primary. */
export function createWorkerLogger(name: string, level: LogLevel): Logger {
  const threshold = SEVERITY[level];
  const send = (
    lvl: LogLevel,
    key: LogMessage['tlslpLog']['level'],
    msg: string,
    fields?: Record<string, unknown>,
    stderr?: boolean,
  ): void => {
    if (SEVERITY[lvl] < threshold || !process.send || !process.connected) return;
    process.send({ tlslpLog: { level: key, msg, fields, stderr } } satisfies LogMessage);
  };
  return {
    name,
    level,
    debug: (m, f) => send('DEBUG', 'debug', m, f),
    info: (m, f) => send('INFO', 'info', m, f),
    warning: (m, f) => send('WARNING', 'warning', m, f),
    error: (m, f, o) => send('ERROR', 'error', m, f, o?.stderr),
    isEnabled: (l) => SEVERITY[l] >= threshold,
    close: () => Promise.resolve(),
  };
}

/** Make a worker's metrics registry visible to the primary's aggregated `/metrics`. */
export function shareWorkerMetrics(registry: import('prom-client').Registry): void {
  // prom-client installs the worker's answering listener only when an aggregator is built.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([registry]);
}

/** Options of {@link runPrimary}. */
export interface PrimaryOptions {
  workers: number;
  /** The host the workers listen on as the user gave it (`localhost`, not what it resolved to). */
  host?: string;
  logger: Logger;
  /** Serve aggregated metrics here. */
  metrics?: { host: string; port: number };
  /** Time workers get to finish sessions on SIGINT/SIGTERM. */
  shutdownGraceMs: number;
  /** Called once every worker listens. */
  onListening?: (address: { address: string; port: number }) => void;
  /** Script each worker runs and its arguments (default: this process's own). */
  exec?: string;
  args?: string[];
}

/**
 * Run the primary: fork the workers, relay their logs, restart crashes, and shut down
 * gracefully on SIGINT/SIGTERM (a second signal kills the workers at once).
 * Resolves with the exit code.
 */
export async function runPrimary(options: PrimaryOptions): Promise<number> {
  const { logger } = options;
  let stopping = false;
  let listening = 0;
  let startupFailed: number | null = null;
  const restarts: number[] = [];
  const aggregator = new AggregatorRegistry();
  const metricsServer = options.metrics
    ? await serveMetrics(
        async () => ({
          text: await aggregator.clusterMetrics(),
          contentType: aggregator.contentType,
        }),
        options.metrics.host,
        options.metrics.port,
      )
    : null;
  if (metricsServer)
    logger.info(`Metrics on http://${options.metrics?.host}:${metricsServer.port}/metrics`);

  const relay = (worker: Worker) => (message: unknown) => {
    if (!isLogMessage(message)) return;
    const { level, msg, fields, stderr } = message.tlslpLog;
    const line = `[w${worker.id}] ${msg}`;
    if (level === 'error') logger.error(line, fields, { stderr: stderr !== false });
    else logger[level](line, fields);
  };
  let alive = 0;
  const fork = (): Worker => {
    alive++;
    const worker = cluster.fork();
    worker.on('message', relay(worker));
    return worker;
  };

  let onListen: (
    worker: Worker,
    address: { address: string | null; port: number },
  ) => void = () => {};
  let onExit: (worker: Worker, code: number | null, signal: string | null) => void = () => {};
  const done = new Promise<number>((resolve) => {
    onListen = (_worker, address) => {
      listening++;
      if (listening === options.workers) {
        logger.info(
          `${options.workers} workers listening on ${hostPort(options.host ?? address.address ?? '', address.port)}`,
        );
        options.onListening?.({ address: address.address ?? '', port: address.port });
      }
    };
    onExit = (worker, code, signal) => {
      alive--;
      if (stopping) {
        if (alive === 0) resolve(0);
        return;
      }
      if (listening < options.workers) {
        // A worker that dies before listening has a configuration problem: stop everything.
        startupFailed = code ?? 1;
        stopping = true;
        for (const w of Object.values(cluster.workers ?? {})) w?.kill('SIGTERM');
        if (alive === 0) resolve(startupFailed);
        return;
      }
      logger.error(`Worker ${worker.id} died (${signal ?? `exit ${code}`}); starting another`);
      const now = Date.now();
      restarts.push(now);
      while (restarts.length && (restarts[0] as number) < now - 60_000) restarts.shift();
      if (restarts.length > 10) {
        logger.error('Workers keep dying (more than 10 restarts in a minute): stopping');
        stopping = true;
        for (const w of Object.values(cluster.workers ?? {})) w?.kill('SIGTERM');
        return;
      }
      listening--;
      fork();
    };
  });
  cluster.on('listening', onListen);
  cluster.on('exit', onExit);

  let signals = 0;
  const onSignal = (sig: NodeJS.Signals): void => {
    signals++;
    if (signals > 1) {
      logger.warning(`${sig} again: stopping workers now`);
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL');
      return;
    }
    stopping = true;
    logger.info(
      `${sig} received: workers get up to ${options.shutdownGraceMs / 1000} s to finish their sessions`,
    );
    // Workers in the same process group may have the signal already; SIGTERM is idempotent for them.
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  if (options.exec) cluster.setupPrimary({ exec: options.exec, args: options.args ?? [] });
  for (let i = 0; i < options.workers; i++) fork();
  const code = await done;
  cluster.off('listening', onListen);
  cluster.off('exit', onExit);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  await metricsServer?.close();
  return startupFailed ?? code;
}
