/**
 * Cluster mode (`--workers N`): one primary process forks N workers with `node:cluster`;
 * each runs a full server on the shared listening socket. Sessions are self-contained, so
 * workers share nothing but the port. Workers send their log lines to the primary, which
 * owns the log file (one writer, so rotation stays safe) and restarts crashed workers.
 * @module
 */
import cluster, { type Worker } from 'node:cluster';
import type { Registry } from 'prom-client';
import { promClient } from './prom.js';
import type { LogLevel } from '../logging/levels.js';
import type { Logger } from '../logging/logger.js';
import { ipcSink, relayLogMessage } from '../logging/ipc-sink.js';
import { createLoggerCore } from '../logging/logger.js';
import { serveHealth, serveMetrics } from './metrics.js';
import { hostPort } from '../text/address.js';
import { WorkerStateHost } from '../state/ipc.js';

/**
 * Exit code of the primary when workers keep dying (more than {@link MAX_RESTARTS} restarts
 * in a minute): non-zero, so that a supervisor restarts the whole server.
 */
export const CRASH_LOOP_EXIT = 1;

/** Restarts allowed within a minute before the primary gives up. */
export const MAX_RESTARTS = 10;

/**
 * A logger for a worker: filters by level here, then hands each record to the primary through
 * the IPC sink (closing it ends the worker's IPC channel, see {@link ipcSink}).
 */
export function createWorkerLogger(name: string, level: LogLevel): Logger {
  return createLoggerCore(name, level, ipcSink());
}

/** One sample of a metric as `Registry.getMetricsAsJSON()` gives it (and as it crosses IPC). */
interface SampleJson {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

/** One metric as `Registry.getMetricsAsJSON()` gives it (`type` is a string at run time). */
interface MetricJson {
  name: string;
  help: string;
  type: string;
  aggregator?: string;
  values: SampleJson[];
}

/** The primary asks a worker for its metrics. */
interface MetricsRequest {
  tlslpMetricsReq: number;
}

/** A worker's answer: its registry as JSON, or why it could not give it. */
interface MetricsReply {
  tlslpMetrics: { id: number; metrics?: MetricJson[]; error?: string };
}

function isMetricsRequest(m: unknown): m is MetricsRequest {
  return (
    typeof m === 'object' &&
    m !== null &&
    typeof (m as Partial<MetricsRequest>).tlslpMetricsReq === 'number'
  );
}

function isMetricsReply(m: unknown): m is MetricsReply {
  if (typeof m !== 'object' || m === null || !('tlslpMetrics' in m)) return false;
  const r = m.tlslpMetrics;
  return typeof r === 'object' && r !== null && typeof (r as { id?: unknown }).id === 'number';
}

/** Why a worker is told to reload its TLS files. */
export type ReloadReason = 'signal' | 'interval';

/** The primary tells a worker to reread its TLS files (SIGHUP, or the reload interval). */
interface ReloadRequest {
  tlslpReload: ReloadReason;
}

function isReloadRequest(m: unknown): m is ReloadRequest {
  if (typeof m !== 'object' || m === null) return false;
  const why = (m as Partial<ReloadRequest>).tlslpReload;
  return why === 'signal' || why === 'interval';
}

/**
 * Tell every worker to reread its TLS files; each reloads its own server (and logs what
 * came of it). Resolves with how many workers were told.
 */
export function forwardReload(why: ReloadReason): number {
  let told = 0;
  for (const worker of Object.values(cluster.workers ?? {})) {
    if (!worker?.isConnected()) continue;
    worker.send({ tlslpReload: why } satisfies ReloadRequest, () => {
      /* a worker that just died is restarted with the files as they are */
    });
    told++;
  }
  return told;
}

/** In a worker: call `reload` each time the primary forwards a reload. @returns the unsubscriber */
export function onReloadRequest(reload: (why: ReloadReason) => void): () => void {
  const listener = (m: unknown): void => {
    if (isReloadRequest(m)) reload(m.tlslpReload);
  };
  process.on('message', listener);
  return () => process.off('message', listener);
}

/** The primary hands the workers the reloadable options of a reread `--config` (SIGHUP). */
interface ReconfigureRequest {
  tlslpReconfigure: { options: Record<string, unknown>; logLevel: LogLevel };
}

function isReconfigureRequest(m: unknown): m is ReconfigureRequest {
  if (typeof m !== 'object' || m === null || !('tlslpReconfigure' in m)) return false;
  const r = m.tlslpReconfigure;
  return typeof r === 'object' && r !== null && 'options' in r && 'logLevel' in r;
}

/**
 * Hand every worker the reloadable options (each applies them to its server; an option left
 * out of the IPC message, as `undefined` is, goes back to its default). Resolves with how many
 * workers were told. A worker started later reads the file at its start.
 */
export function forwardReconfigure(options: Record<string, unknown>, logLevel: LogLevel): number {
  let told = 0;
  for (const worker of Object.values(cluster.workers ?? {})) {
    if (!worker?.isConnected()) continue;
    worker.send({ tlslpReconfigure: { options, logLevel } } satisfies ReconfigureRequest, () => {
      /* a worker that just died is restarted with the file as it is */
    });
    told++;
  }
  return told;
}

/** In a worker: call `apply` each time the primary hands on reloadable options. @returns the unsubscriber */
export function onReconfigureRequest(
  apply: (options: Record<string, unknown>, logLevel: LogLevel) => void,
): () => void {
  const listener = (m: unknown): void => {
    if (isReconfigureRequest(m)) apply(m.tlslpReconfigure.options, m.tlslpReconfigure.logLevel);
  };
  process.on('message', listener);
  return () => process.off('message', listener);
}

/** Make a worker's metrics registry visible to the primary's aggregated `/metrics`. */
export function shareWorkerMetrics(registry: Registry): void {
  // Our own request/reply rather than prom-client's clusterMetrics(): the primary must know
  // which worker each answer comes from, to keep a dead worker's counters.
  process.on('message', (m: unknown) => {
    if (!isMetricsRequest(m)) return;
    const id = m.tlslpMetricsReq;
    const reply = (body: MetricsReply['tlslpMetrics']): void => {
      if (process.connected) process.send?.({ tlslpMetrics: body } satisfies MetricsReply);
    };
    registry.getMetricsAsJSON().then(
      (metrics) => reply({ id, metrics: metrics as unknown as MetricJson[] }),
      (err: unknown) => reply({ id, error: err instanceof Error ? err.message : String(err) }),
    );
  });
}

/**
 * The samples of a metric that only ever grow within a process (counters, and the buckets,
 * `_count` and `_sum` of histograms and summaries), which the primary keeps when a worker
 * dies. Gauges and metrics not aggregated by sum stay live only.
 */
function cumulativeSamples(metric: MetricJson): SampleJson[] {
  if ((metric.aggregator ?? 'sum') !== 'sum') return [];
  if (metric.type === 'counter' || metric.type === 'histogram') return metric.values;
  if (metric.type === 'summary')
    return metric.values.filter((v) => /_(sum|count)$/.test(v.metricName ?? ''));
  return [];
}

function sampleKey(sample: SampleJson): string {
  const labels = Object.entries(sample.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify([sample.metricName ?? '', labels]);
}

/**
 * The primary's view of the workers' metrics: the last registry each live worker sent, plus
 * the cumulative samples of the workers that died ("retired"), so that aggregated counters
 * never go backwards when a worker is restarted.
 */
class ClusterMetrics {
  /** Live workers by id: the worker and its latest answer (with the request it answered). */
  private readonly live = new Map<
    number,
    { worker: Worker; metrics: MetricJson[] | null; requestId: number }
  >();
  /** Sums of dead workers' cumulative samples, by metric name. */
  private readonly retired = new Map<
    string,
    { metric: MetricJson; samples: Map<string, SampleJson> }
  >();
  /** Collections in progress: the workers each still waits for. */
  private readonly waiting = new Set<{ id: number; ids: Set<number>; done: () => void }>();
  private requests = 0;

  add(worker: Worker): void {
    this.live.set(worker.id, { worker, metrics: null, requestId: -1 });
  }

  /** Take a worker's answer; true when `message` was one. */
  onMessage(worker: Worker, message: unknown): boolean {
    if (!isMetricsReply(message)) return false;
    const { id, metrics } = message.tlslpMetrics;
    const entry = this.live.get(worker.id);
    // A dead worker's late answer is ignored: its counts are already retired.
    if (entry && metrics && id > entry.requestId) {
      entry.metrics = metrics;
      entry.requestId = id;
    }
    this.answered(worker.id, id);
    return true;
  }

  /** A worker exited: keep its last counters, once. */
  retire(worker: Worker): void {
    const entry = this.live.get(worker.id);
    if (!entry) return;
    this.live.delete(worker.id);
    for (const metric of entry.metrics ?? []) {
      const samples = cumulativeSamples(metric);
      if (samples.length === 0) continue;
      let kept = this.retired.get(metric.name);
      if (!kept) {
        kept = {
          metric: {
            name: metric.name,
            help: metric.help,
            type: metric.type,
            aggregator: 'sum',
            values: [],
          },
          samples: new Map(),
        };
        this.retired.set(metric.name, kept);
      }
      for (const sample of samples) {
        const key = sampleKey(sample);
        const sum = kept.samples.get(key);
        if (sum) sum.value += sample.value;
        else kept.samples.set(key, { ...sample, labels: { ...sample.labels } });
      }
    }
    this.answered(worker.id);
  }

  /** Worker `wid` answered request `upTo` (or every request, having exited). */
  private answered(wid: number, upTo = Infinity): void {
    for (const w of this.waiting) {
      // An answer to an older request does not settle a newer one.
      if (w.id > upTo) continue;
      w.ids.delete(wid);
      if (w.ids.size === 0) w.done();
    }
  }

  /**
   * Ask every live worker for its metrics; resolves once all answered, exited, or
   * `timeoutMs` passed (a slow worker then counts with its previous answer).
   */
  collect(timeoutMs = 2000): Promise<void> {
    const id = this.requests++;
    const ids = new Set<number>();
    return new Promise<void>((resolve) => {
      const waiter = {
        id,
        ids,
        done: () => {
          clearTimeout(timer);
          this.waiting.delete(waiter);
          resolve();
        },
      };
      const timer = setTimeout(waiter.done, timeoutMs);
      timer.unref();
      this.waiting.add(waiter);
      for (const [wid, { worker }] of this.live) {
        if (!worker.isConnected()) continue;
        ids.add(wid);
        worker.send({ tlslpMetricsReq: id } satisfies MetricsRequest, (err) => {
          if (err) this.answered(wid);
        });
      }
      if (ids.size === 0) waiter.done();
    });
  }

  /** The aggregated exposition text: live workers' registries plus the retired counts. */
  async text(): Promise<{ text: string; contentType: string }> {
    await this.collect();
    const all: MetricJson[][] = [];
    for (const { metrics } of this.live.values()) if (metrics) all.push(metrics);
    all.push(
      [...this.retired.values()].map(({ metric, samples }) => ({
        ...metric,
        values: [...samples.values()],
      })),
    );
    const registry = promClient().AggregatorRegistry.aggregate(all);
    return { text: await registry.metrics(), contentType: registry.contentType };
  }
}

/** Options of {@link runPrimary}. */
export interface PrimaryOptions {
  workers: number;
  /**
   * Keep the workers' shared limits (failure budget, per-IP and per-identity sessions,
   * the adaptive load) here, so N workers do not multiply them; false when they share a
   * store of their own (`--state`).
   */
  shareState?: boolean;
  /** The host the workers listen on as the user gave it (`localhost`, not what it resolved to). */
  host?: string;
  logger: Logger;
  /**
   * Serve aggregated metrics here. Workers are polled every `pollMs` (default 5000) as well
   * as on each request, so a worker that dies keeps the counts last seen from it.
   */
  metrics?: { host: string; port: number; pollMs?: number };
  /** Serve only `/healthz` and `/readyz` here (for a balancer), as the metrics listener does. */
  health?: { host: string; port: number };
  /** Time workers get to finish sessions on SIGINT/SIGTERM. */
  shutdownGraceMs: number;
  /**
   * Tell the workers to reread their TLS files this often (0 or absent: never; SIGHUP is the
   * caller's, which forwards it with {@link forwardReload}). The timer is the primary's, not
   * each worker's: one clock, so the workers switch to new files together rather than at N
   * different moments, and a worker restarted in between reads the files at its start anyway.
   */
  reloadIntervalMs?: number;
  /** Called once every worker listens. */
  onListening?: (address: { address: string; port: number }) => void;
  /** Script each worker runs and its arguments (default: this process's own). */
  exec?: string;
  args?: string[];
}

/**
 * Run the primary: fork the workers, relay their logs, restart crashes, and shut down
 * gracefully on SIGINT/SIGTERM (a second signal kills the workers at once).
 * Resolves with the exit code: 0 after a signal, the failed worker's code (or 1) when a
 * worker cannot start, {@link CRASH_LOOP_EXIT} when workers keep dying.
 */
export async function runPrimary(options: PrimaryOptions): Promise<number> {
  const { logger } = options;
  let stopping = false;
  let exitCode = 0;
  /** Every worker of the first start has listened. */
  let started = false;
  let restForked = false;
  /** Workers listening now, by id (a set: a worker counts once however often it listens). */
  const listening = new Set<number>();
  const restarts: number[] = [];
  const metrics = options.metrics ? new ClusterMetrics() : null;
  const readiness = () =>
    stopping
      ? { ready: false, reason: 'draining' }
      : listening.size === 0
        ? { ready: false, reason: 'no worker listening' }
        : { ready: true };
  const metricsServer =
    options.metrics && metrics
      ? await serveMetrics(
          () => metrics.text(),
          options.metrics.host,
          options.metrics.port,
          readiness,
        )
      : null;
  const healthServer = options.health
    ? await serveHealth(options.health.host, options.health.port, readiness).catch(
        async (err: unknown) => {
          await metricsServer?.close();
          throw err;
        },
      )
    : null;
  if (metricsServer)
    logger.info(`Metrics on http://${options.metrics?.host}:${metricsServer.port}/metrics`);
  if (healthServer)
    logger.info(`Health checks on http://${options.health?.host}:${healthServer.port}/readyz`);
  const poll =
    metrics && setInterval(() => void metrics.collect(), options.metrics?.pollMs ?? 5000).unref();
  const reloadEvery = options.reloadIntervalMs ?? 0;
  const reloads =
    reloadEvery > 0 ? setInterval(() => forwardReload('interval'), reloadEvery).unref() : null;

  const state = options.shareState ? new WorkerStateHost() : null;
  const onMessage = (worker: Worker) => (message: unknown) => {
    if (state?.onMessage(worker, message)) return;
    if (!metrics?.onMessage(worker, message)) relayLogMessage(logger, worker.id, message);
  };
  let alive = 0;
  const fork = (): Worker => {
    alive++;
    const worker = cluster.fork();
    metrics?.add(worker);
    worker.on('message', onMessage(worker));
    return worker;
  };
  const stopAll = (code: number): void => {
    stopping = true;
    exitCode = code;
    for (const w of Object.values(cluster.workers ?? {})) w?.kill('SIGTERM');
  };

  let onListen: (
    worker: Worker,
    address: { address: string | null; port: number },
  ) => void = () => {};
  let onExit: (worker: Worker, code: number | null, signal: string | null) => void = () => {};
  const done = new Promise<number>((resolve) => {
    onListen = (worker, address) => {
      listening.add(worker.id);
      if (!restForked) {
        // The rest start once the first listens: they share its socket, so a port that
        // cannot be had fails one worker (one error line), not N at once.
        restForked = true;
        for (let i = 1; i < options.workers; i++) fork();
      }
      if (!started && listening.size === options.workers) {
        started = true;
        logger.info(
          `${options.workers} workers listening on ${hostPort(options.host ?? address.address ?? '', address.port)}`,
        );
        options.onListening?.({ address: address.address ?? '', port: address.port });
      }
    };
    onExit = (worker, code, signal) => {
      alive--;
      const wasListening = listening.delete(worker.id);
      metrics?.retire(worker);
      state?.retire(worker);
      const how = signal ?? `exit ${code}`;
      if (stopping) {
        if (alive === 0) resolve(exitCode);
        return;
      }
      if (!started && !wasListening) {
        // A worker that dies before it first listened has a configuration problem: it
        // printed why, so stop everything with its code (never 0: it did not serve).
        logger.error(`Worker ${worker.id} exited before listening (${how}): stopping`, undefined, {
          stderr: false,
        });
        stopAll(code ? code : 1);
        if (alive === 0) resolve(exitCode);
        return;
      }
      const now = Date.now();
      restarts.push(now);
      while (restarts.length && (restarts[0] as number) < now - 60_000) restarts.shift();
      if (restarts.length > MAX_RESTARTS) {
        logger.error(
          `Worker ${worker.id} died (${how}); workers keep dying (more than ${MAX_RESTARTS} restarts in a minute): stopping with exit ${CRASH_LOOP_EXIT}`,
        );
        stopAll(CRASH_LOOP_EXIT);
        if (alive === 0) resolve(exitCode);
        return;
      }
      logger.error(`Worker ${worker.id} died (${how}); starting another`);
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
    // A worker stops within its grace and a short linger; one that has not by then is killed,
    // so the whole server stops within the grace + 1 s.
    setTimeout(() => {
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL');
    }, options.shutdownGraceMs + 800).unref();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  if (options.exec) cluster.setupPrimary({ exec: options.exec, args: options.args ?? [] });
  fork();
  const code = await done;
  if (poll) clearInterval(poll);
  if (reloads) clearInterval(reloads);
  cluster.off('listening', onListen);
  cluster.off('exit', onExit);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  await Promise.all([metricsServer?.close(), healthServer?.close()]);
  return code;
}
