#!/usr/bin/env node
/**
 * `tlslp-server`: a thin layer over {@link TlslpServer}.
 * @module
 */
import cluster from 'node:cluster';
import { Command } from 'commander';
import { createLogger, logFilePath, TUTORIAL_TIMESTAMP } from '../logging.js';
import { cliKeys, libKeys } from '../options/core.js';
import { SERVER_OPTIONS, resolveServerCommand, resolveServerOptions } from '../options/server.js';
import { createWorkerLogger, runPrimary, shareWorkerMetrics } from '../server/cluster.js';
import { applyConfigFile } from './config-file.js';
import { ServerMetrics, serveMetrics } from '../server/metrics.js';
import { TlslpServer } from '../server/server.js';
import { ConfigError } from '../errors.js';
import { checkServerTls, readTlsFiles } from '../tls.js';
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
  });
}

async function serve(argv: string[]): Promise<number> {
  const command = serverCommand().parse(argv, { from: 'user' });
  const file = command.opts<{ config?: string }>().config;
  if (file !== undefined) applyConfigFile(command, file);
  const values = tableValues(command, SERVER_OPTIONS);
  // Checked here, before any file is read or process started; the server checks them again.
  const given = pick(values, LIB);
  const options = resolveServerOptions(given);
  const flags = resolveServerCommand(pick(values, CLI), options.tutorial);
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
  // logrotate sends SIGHUP once it has moved the file away: reopen it and keep serving. A
  // worker's lines go through its primary, which owns the file; the worker only ignores it.
  const onHangup = (): void => {
    if (inWorker) return;
    void logger.reopen?.().then(() => logger.info('SIGHUP received: log file reopened'));
  };
  process.on('SIGHUP', onHangup);
  try {
    if (!inWorker) logger.info('Server starting');
    const material = await readTlsFiles({
      cert: { path: flags.serverCert, flag: '--server-cert' },
      key: { path: flags.serverKey, flag: '--server-key' },
      ca: options.insecure ? undefined : { path: flags.caCert, flag: '--ca-cert' },
    });
    const checked = checkServerTls(material, {
      cert: `--server-cert ${flags.serverCert}`,
      key: `--server-key ${flags.serverKey}`,
      ca: `--ca-cert ${flags.caCert}`,
    });
    if (!inWorker) for (const w of checked.warnings) logger.warning(w);
    if (workers > 1 && cluster.isPrimary) {
      // Files were checked above, so a worker that fails to start is a rare case.
      const code = await runPrimary({
        workers,
        host: options.host,
        logger,
        shutdownGraceMs: flags.shutdownGraceMs,
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
    const server = new TlslpServer({
      ...given,
      tls: material,
      metrics,
      logger,
      // A line per session for the person watching the terminal; the log has the details.
      onSession:
        !tutorial && !flags.quiet && process.stdout.isTTY === true
          ? (report) => process.stdout.write(`${sessionLine(report)}\n`)
          : undefined,
    });
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
    await logger.close();
  }
}

if (isEntryPoint(import.meta.url))
  await runMain('tlslp-server', () => serverMain(process.argv.slice(2)));
