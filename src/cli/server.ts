#!/usr/bin/env node
/**
 * `tlslp-server`: a thin layer over {@link TlslpServer}.
 * @module
 */
import cluster from 'node:cluster';
import { createHash } from 'node:crypto';
import { PrimaryStore } from '../state/ipc.js';
import { Command } from 'commander';
import { createLogger, logFilePath, TUTORIAL_TIMESTAMP, type Logger } from '../logging.js';
import { cliKeys, libKeys } from '../options/core.js';
import { SERVER_OPTIONS, resolveServerCommand, resolveServerOptions } from '../options/server.js';
import {
  createWorkerLogger,
  forwardReload,
  onReloadRequest,
  runPrimary,
  shareWorkerMetrics,
  type ReloadReason,
} from '../server/cluster.js';
import { applyConfigFile } from './config-file.js';
import { checkServer, readStateCa } from './check.js';
import { ServerMetrics, serveMetrics } from '../server/metrics.js';
import { TlslpServer } from '../server/server.js';
import { ConfigError } from '../errors.js';
import { checkServerTls, readTlsFiles, type ServerTlsLabels, type TlsMaterial } from '../tls.js';
import { commanderOutput, describeError, EXIT, runMain } from './common.js';
import { isEntryPoint } from './entry.js';
import {
  VERSION,
  addTableOptions,
  logFileChoice,
  namingFlags,
  pick,
  tableValues,
} from './options.js';
import { hostPort } from '../text/address.js';
import { sessionLine } from './session-line.js';

/** The `tlslp-server` command definition: its flags are the server table's. */
export function serverCommand(): Command {
  const command = new Command('tlslp-server')
    .description(
      'Serve the TLS Line Protocol over mutual TLS: HELLO, WORK (proof of work), info requests, DONE.',
    )
    .version(VERSION);
  return addTableOptions(command, SERVER_OPTIONS)
    .addHelpText(
      'after',
      `\nOn a terminal each session ends with one line on stdout, e.g.\n  #12 127.0.0.1 done in 0.4 s (n_bits 20, 0.2 s WORK)\nLogs go to ${logFilePath('server')} (XDG_STATE_HOME; --log-file to change); warnings and errors also to stderr.\nExamples:\n  tlslp-server --n_bits 6\n  tlslp-server --log-level DEBUG\n  tlslp-server --tutorial`,
    )
    .exitOverride()
    .configureOutput(commanderOutput('tlslp-server'));
}

const LIB = libKeys(SERVER_OPTIONS);
const CLI = cliKeys(SERVER_OPTIONS);

/** Run `tlslp-server` with `argv` (without the program name). Resolves with the exit code. */
export async function serverMain(argv: string[]): Promise<number> {
  return namingFlags(SERVER_OPTIONS, () => serve(argv), {
    'tls.ca': 'caCert',
    'tls.cert': 'serverCert',
    'tls.key': 'serverKey',
    'tls.crl': 'crl',
  });
}

async function serve(argv: string[]): Promise<number> {
  const command = serverCommand().parse(argv, { from: 'user' });
  const file = command.opts<{ config?: string }>().config;
  if (file !== undefined) applyConfigFile(command, file);
  const values = tableValues(command, SERVER_OPTIONS);
  // As redis-cli and most Redis clients do: the URL (and its password) may come from the
  // environment rather than the command line, where `ps` shows it.
  const envState = process.env.TLSLP_STATE_URL;
  if (values.state === undefined && envState) values.state = envState;
  // Checked here, before any file is read or process started; the server checks them again.
  const given = pick(values, LIB);
  const options = resolveServerOptions(given);
  const flags = resolveServerCommand(pick(values, CLI), options.tutorial);
  // --check: what a start would do before the first client, then the policy; no log, no listen.
  if (flags.check) return checkServer(given, options, flags);
  const { tutorial } = options;
  const { workers } = flags;
  const inWorker = cluster.isWorker;
  const logTarget = logFileChoice(flags.logFile, logFilePath('server'));
  const logShown =
    logTarget.kind === 'file' ? logTarget.path : logTarget.kind === 'stderr' ? 'stderr' : 'none';
  const logger = inWorker
    ? createWorkerLogger('tlslp.server', flags.logLevel)
    : createLogger({
        name: 'tlslp.server',
        level: flags.logLevel,
        format: flags.logFormat,
        file: logTarget.kind === 'file' ? logTarget.path : null,
        ...(logTarget.kind === 'stderr' ? { stderrLevel: flags.logLevel } : {}),
        mode: tutorial ? 'overwrite' : 'append',
        fixedTimestamp: tutorial ? TUTORIAL_TIMESTAMP : undefined,
      });
  const clustered = workers > 1 && cluster.isPrimary;
  /** Reread the TLS files and swap them in (set once the server exists). */
  let reloadTls: ((why: ReloadReason) => Promise<void>) | null = null;
  // logrotate sends SIGHUP once it has moved the file away: reopen it and keep serving. A
  // worker's lines go through its primary, which owns the file; the worker only ignores it.
  // SIGHUP also rereads the TLS files: here, or in each worker (the primary forwards it).
  const onHangup = (): void => {
    if (inWorker) return;
    void logger.reopen?.().then(() => {
      logger.info('SIGHUP received: log file reopened');
      if (clustered)
        logger.info(`SIGHUP: ${forwardReload('signal')} worker(s) told to reread the TLS files`);
      else void reloadTls?.('signal');
    });
  };
  process.on('SIGHUP', onHangup);
  // SIGUSR1, as nginx: reopen the log file only (the primary's, in cluster mode; it owns the file).
  const onUsr1 = (): void => {
    if (!inWorker)
      void logger.reopen?.().then(() => logger.info('SIGUSR1 received: log file reopened'));
  };
  process.on('SIGUSR1', onUsr1);
  try {
    if (!inWorker) logger.info('Server starting');
    const readMaterial = () =>
      readTlsFiles({
        cert: { path: flags.serverCert, flag: '--server-cert' },
        key: { path: flags.serverKey, flag: '--server-key' },
        ca: options.insecure ? undefined : { path: flags.caCert, flag: '--ca-cert' },
        crl: flags.crl === undefined ? undefined : { path: flags.crl, flag: '--crl' },
      });
    const labels: ServerTlsLabels = {
      cert: `--server-cert ${flags.serverCert}`,
      key: `--server-key ${flags.serverKey}`,
      ca: `--ca-cert ${flags.caCert}`,
      crl: `--crl ${flags.crl ?? ''}`,
    };
    const material = await readMaterial();
    const checked = checkServerTls(material, labels);
    if (!inWorker) for (const w of checked.warnings) logger.warning(w);
    if (clustered) {
      // Files were checked above, so a worker that fails to start is a rare case.
      const code = await runPrimary({
        workers,
        // Without a store the primary keeps the workers' shared limits.
        shareState: options.state === undefined,
        host: options.host,
        logger,
        shutdownGraceMs: flags.shutdownGraceMs,
        reloadIntervalMs: flags.reloadIntervalMs,
        metrics:
          flags.metricsPort === undefined
            ? undefined
            : { host: flags.metricsHost, port: flags.metricsPort },
        onListening: ({ port }) =>
          process.stdout.write(
            `tlslp-server listening on ${hostPort(options.host, port)} (${workers} workers); log: ${logShown}\n`,
          ),
      });
      logger.info('Server stopped');
      return code;
    }

    const metrics =
      flags.metricsPort !== undefined ? new ServerMetrics({ defaultMetrics: true }) : undefined;
    if (metrics && inWorker) shareWorkerMetrics(metrics.registry);
    const stateCa = flags.stateCa === undefined ? undefined : await readStateCa(flags.stateCa);
    const server = new TlslpServer({
      ...given,
      ...(inWorker && options.state === undefined ? { stateStore: new PrimaryStore() } : {}),
      ...(stateCa ? { stateCa } : {}),
      tls: material,
      metrics,
      logger,
      // A line per session for the person watching the terminal; the log has the details.
      onSession:
        !tutorial && !flags.quiet && process.stdout.isTTY === true
          ? (report) => process.stdout.write(`${sessionLine(report)}\n`)
          : undefined,
    });
    reloadTls = serialReloads(logger, server, readMaterial, labels);
    const stopReloads: Array<() => void> = [];
    if (inWorker) stopReloads.push(onReloadRequest((why) => void reloadTls?.(why)));
    else if (flags.reloadIntervalMs > 0) {
      const timer = setInterval(() => void reloadTls?.('interval'), flags.reloadIntervalMs);
      timer.unref();
      stopReloads.push(() => clearInterval(timer));
    }
    // Metrics first: a metrics port that cannot be had stops the start, before any client is
    // let in, rather than leave a server running without the metrics it was asked for.
    const metricsServer =
      metrics && !inWorker && flags.metricsPort !== undefined
        ? await serveMetrics(metrics.registry, flags.metricsHost, flags.metricsPort, () =>
            server.readiness(),
          ).catch((err: unknown) => {
            throw new ConfigError(
              'TLSLP_ERR_METRICS_LISTEN',
              { source: `--metrics-port ${flags.metricsPort}`, detail: describeError(err) },
              { cause: err },
            );
          })
        : null;
    let address;
    try {
      address = await server.listen();
    } catch (err) {
      await metricsServer?.close();
      throw err;
    }
    const metricsUrl = metricsServer
      ? `http://${hostPort(flags.metricsHost, metricsServer.port)}/metrics`
      : null;
    if (metricsUrl) logger.info(`Metrics on ${metricsUrl}`);
    let signals = 0;
    const onSignal = (sig: NodeJS.Signals): void => {
      signals++;
      if (signals > 1) {
        logger.warning(`${sig} again: exiting now`);
        void logger.close().finally(() => process.exit(EXIT.interrupted));
        return;
      }
      logger.info(
        `${sig} received: no new connections; ${server.inFlight} session(s) get up to ${flags.shutdownGraceMs / 1000} s to finish`,
      );
      void server.close(flags.shutdownGraceMs);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    // Announced only once a signal is handled: a supervisor may stop us right after it.
    if (!inWorker) {
      process.stdout.write(
        `tlslp-server listening on ${hostPort(options.host, address.port)}${tutorial ? ' (tutorial: one session, then exit)' : ''}; log: ${logShown}\n`,
      );
      if (metricsUrl) process.stdout.write(`metrics on ${metricsUrl}\n`);
    }

    await server.finished;
    for (const stop of stopReloads) stop();
    reloadTls = null;
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await metricsServer?.close();
    logger.info(inWorker ? 'Worker stopped' : 'Server stopped');
    // The IPC channel to the primary would keep a worker alive; queued log lines go first.
    if (inWorker) process.disconnect?.();
    return EXIT.ok;
  } catch (err) {
    logger.error(describeError(err), undefined, { stderr: false });
    throw err;
  } finally {
    process.off('SIGHUP', onHangup);
    process.off('SIGUSR1', onUsr1);
    await logger.close();
  }
}

/**
 * A reloader of the TLS files into `server`, one reload at a time (a slow read overtaken by a
 * later one would swap older files back in). A SIGHUP reloads at once, and says what came of
 * it. An interval tick acts on what it read only once it read the same on the tick before:
 * a certificate and key replaced one after the other, or a file being written, are not
 * taken half-way (nor logged as errors). A file that cannot be read is logged once while it
 * stays so.
 */
function serialReloads(
  logger: Logger,
  server: TlslpServer,
  read: () => Promise<TlsMaterial>,
  labels: ServerTlsLabels,
): (why: ReloadReason) => Promise<void> {
  let chain = Promise.resolve();
  let lastProblem = '';
  /** What the last read gave: the files' digest, or the problem reading them. */
  let lastSeen = '';
  const settled = (why: ReloadReason, seen: string): boolean => {
    const same = seen === lastSeen;
    lastSeen = seen;
    return why === 'signal' || same;
  };
  const failed = (problem: string): void =>
    logger.error(`TLS reload failed, still serving the previous material: ${problem}`);
  const once = async (why: ReloadReason): Promise<void> => {
    let material: TlsMaterial;
    try {
      material = await read();
    } catch (err) {
      const problem = describeError(err);
      if (!settled(why, `problem:${problem}`)) return;
      if (why === 'signal' || problem !== lastProblem) failed(problem);
      lastProblem = problem;
      return;
    }
    const digest = createHash('sha256');
    for (const part of [material.cert, material.key, material.ca, material.crl])
      digest.update(part ?? '').update('\0');
    if (!settled(why, `files:${digest.digest('hex')}`)) return;
    lastProblem = '';
    const result = server.reload(material, labels);
    if (why !== 'signal') return;
    // The server logs a reload and a new failure; a signal hears back about the rest too.
    if (result.outcome === 'unchanged')
      logger.info(`SIGHUP: TLS files unchanged (server certificate ${result.serverSerial})`);
    else if (result.outcome === 'failed' && result.repeated && result.error)
      failed(result.error.message);
  };
  return (why) =>
    (chain = chain.then(() => once(why)).catch((err: unknown) => failed(describeError(err))));
}

if (isEntryPoint(import.meta.url))
  await runMain('tlslp-server', () => serverMain(process.argv.slice(2)));
