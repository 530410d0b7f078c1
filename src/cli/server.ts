#!/usr/bin/env node
/**
 * `tlslp-server`: a thin layer over {@link TlslpServer}.
 * @module
 */
import cluster from 'node:cluster';
import { stat } from 'node:fs/promises';
import { PrimaryStore } from '../state/ipc.js';
import { Command } from 'commander';
import { createLogger, logFilePath, TUTORIAL_TIMESTAMP, type LogLevel } from '../logging/index.js';
import { keysOf } from '../options/core.js';
import {
  SERVER_CLI_OPTIONS,
  SERVER_LIB_OPTIONS,
  SERVER_OPTIONS,
  resolveServerCommand,
  resolveServerOptions,
} from '../options/server.js';
import {
  createWorkerLogger,
  forwardReconfigure,
  forwardReload,
  onReconfigureRequest,
  onReloadRequest,
  runPrimary,
  shareWorkerMetrics,
  type ReloadReason,
} from '../server/cluster.js';
import { applyConfigFile } from './config-file.js';
import { checkServer, readStateCa } from './check.js';
import { ServerMetrics, serveHealth, serveMetrics, type HttpListener } from '../server/metrics.js';
import { TlslpServer } from '../server/server.js';
import { ConfigError } from '../errors/index.js';
import {
  checkCrlSize,
  checkServerTls,
  readTlsFiles,
  type ServerTlsLabels,
} from '../tls/material.js';
import { configReloads, serialReloads } from '../server/reloads.js';
import {
  RELOADABLE_SERVER_OPTIONS,
  describeChanges,
  diffReloadable,
  reloadableValues,
  type OptionChange,
  type ServerReconfiguration,
} from '../server/reconfigure.js';
import { commanderOutput, describeError, EXIT, runMain } from './common.js';
import { isEntryPoint } from './entry.js';
import {
  VERSION,
  addTableOptions,
  logFileChoice,
  namingFlags,
  pick,
  tableValues,
  withFlagNames,
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
      `\nOn a terminal each session ends with one line on stdout, e.g.\n  #12 127.0.0.1 done in 0.4 s (n_bits 20, 0.2 s WORK)\nLogs go to ${logFilePath('server')} (XDG_STATE_HOME; --log-file to change); warnings and errors also to stderr.\nSIGHUP reopens the log, rereads the TLS files and rereads --config: the allow-lists (--allow-*), the limits (--max-*), --n_bits (or --min-bits/--max-bits with auto) and --log-level apply to new connections at once; any other change is logged as needing a restart.\nExamples:\n  tlslp-server --n_bits 6\n  tlslp-server --log-level DEBUG\n  tlslp-server --tutorial`,
    )
    .exitOverride()
    .configureOutput(commanderOutput('tlslp-server'));
}

/** After the grace, how long the last closes may take before the process exits regardless. */
const SHUTDOWN_BACKSTOP_MS = 900;

/** The keys of the library's table and of the CLI's own. */
const LIB = keysOf(SERVER_LIB_OPTIONS);
const CLI = keysOf(SERVER_CLI_OPTIONS);

/** Run `tlslp-server` with `argv` (without the program name). Resolves with the exit code. */
export async function serverMain(argv: string[]): Promise<number> {
  return namingFlags(SERVER_OPTIONS, () => serve(argv), {
    'tls.ca': 'caCert',
    'tls.cert': 'serverCert',
    'tls.key': 'serverKey',
    'tls.crl': 'crl',
  });
}

/**
 * The table's values from `argv` and its `--config` file (a flag on the command line wins), at
 * start and on each SIGHUP.
 */
function readServerValues(argv: string[]): {
  values: ReturnType<typeof tableValues<typeof SERVER_OPTIONS>>;
  file: string | undefined;
} {
  const command = serverCommand().parse(argv, { from: 'user' });
  const file = command.opts<{ config?: string }>().config;
  if (file !== undefined) applyConfigFile(command, file);
  const values = tableValues(command, SERVER_OPTIONS);
  // As redis-cli and most Redis clients do: the URL (and its password) may come from the
  // environment rather than the command line, where `ps` shows it.
  const envState = process.env.TLSLP_STATE_URL;
  if (values.state === undefined && envState) values.state = envState;
  return { values, file };
}

/** `argv` and its `--config` reread and checked as a start checks them (SIGHUP). */
function rereadServerValues(argv: string[]): Record<string, unknown> {
  try {
    const { values } = readServerValues(argv);
    const options = resolveServerOptions(pick(values, LIB));
    resolveServerCommand(pick(values, CLI), options.tutorial);
    return values;
  } catch (err) {
    throw withFlagNames(err, SERVER_OPTIONS);
  }
}

async function serve(argv: string[]): Promise<number> {
  const { values, file } = readServerValues(argv);
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
  /** Reread `--config` and apply its reloadable options (set once there is something to apply them to). */
  let reloadConfig: (() => void) | null = null;
  const configReloader = (
    apply: (changes: ServerReconfiguration, level: LogLevel) => OptionChange[],
  ): (() => void) | null =>
    file === undefined
      ? null
      : configReloads({
          logger,
          file,
          initial: values,
          read: () => rereadServerValues(argv),
          apply,
        });
  // logrotate sends SIGHUP once it has moved the file away: reopen it and keep serving. A
  // worker's lines go through its primary, which owns the file; the worker only ignores it.
  // SIGHUP also rereads the TLS files: here, or in each worker (the primary forwards it).
  // Signals that come while one is handled merge into it: a burst of them is one reopen and
  // at most one more reload (serialReloads merges; the primary forwards once per burst).
  let hangupBusy = false;
  let hangupAgain = false;
  const onHangup = (): void => {
    if (inWorker) return;
    if (hangupBusy) {
      hangupAgain = true;
      return;
    }
    hangupBusy = true;
    void (logger.reopen?.() ?? Promise.resolve())
      .then(async () => {
        logger.info('SIGHUP received: log file reopened');
        reloadConfig?.();
        if (clustered)
          logger.info(`SIGHUP: ${forwardReload('signal')} worker(s) told to reread the TLS files`);
        else await reloadTls?.('signal');
      })
      .finally(() => {
        hangupBusy = false;
        if (hangupAgain) {
          hangupAgain = false;
          onHangup();
        }
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
    const readMaterial = async () => {
      // A CRL past --max-crl-bytes is refused before it is read, let alone parsed.
      if (flags.crl !== undefined) {
        const size = await stat(flags.crl).then(
          (st) => st.size,
          () => 0, // readTlsFiles says what is wrong with it
        );
        checkCrlSize(size, `--crl ${flags.crl}`, options.maxCrlBytes);
      }
      return readTlsFiles({
        cert: { path: flags.serverCert, flag: '--server-cert' },
        key: { path: flags.serverKey, flag: '--server-key' },
        ca: options.insecure ? undefined : { path: flags.caCert, flag: '--ca-cert' },
        crl: flags.crl === undefined ? undefined : { path: flags.crl, flag: '--crl' },
      });
    };
    const labels: ServerTlsLabels = {
      cert: `--server-cert ${flags.serverCert}`,
      key: `--server-key ${flags.serverKey}`,
      ca: `--ca-cert ${flags.caCert}`,
      crl: `--crl ${flags.crl ?? ''}`,
    };
    const material = await readMaterial();
    if (clustered) {
      // The primary serves nothing itself: it checks the files once before starting workers
      // (each worker's server checks them again as it is made: its own CA and CRL index).
      const checked = checkServerTls(material, labels, new Date(), {
        maxCrlBytes: options.maxCrlBytes,
      });
      for (const w of checked.warnings) logger.warning(w);
      // The primary rereads the file and hands the workers what to apply; it keeps the values
      // in use to say what changed.
      let inUse = reloadableValues(options);
      reloadConfig = configReloader((changes, level) => {
        const next = reloadableValues(resolveServerOptions({ ...given, ...changes }));
        const changed = diffReloadable(inUse, next);
        inUse = next;
        logger.setLevel?.(level);
        forwardReconfigure(changes, level);
        return changed;
      });
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
        health:
          flags.healthPort === undefined
            ? undefined
            : { host: flags.healthHost, port: flags.healthPort },
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
      tlsLabels: labels,
      metrics,
      logger,
      // A line per session for the person watching the terminal; the log has the details.
      onSession:
        !tutorial && !flags.quiet && process.stdout.isTTY === true
          ? (report) => process.stdout.write(`${sessionLine(report)}\n`)
          : undefined,
    });
    // The server checked the files as it was made (one parse of a CRL, however big); a worker
    // leaves the warnings to the primary, which logged them already.
    if (!inWorker) for (const w of server.tlsWarnings) logger.warning(w);
    reloadTls = serialReloads(logger, server, readMaterial, labels);
    reloadConfig = configReloader((changes, level) => {
      const changed = server.reconfigure(changes);
      logger.setLevel?.(level);
      return changed;
    });
    const stopReloads: Array<() => void> = [];
    if (inWorker) {
      stopReloads.push(onReloadRequest((why) => void reloadTls?.(why)));
      stopReloads.push(
        onReconfigureRequest((changes, level) => {
          // The primary checked the file; a worker's own refusal is still logged, not fatal.
          const reloadable: Record<string, unknown> = {};
          for (const k of RELOADABLE_SERVER_OPTIONS) reloadable[k] = changes[k];
          try {
            const changed = server.reconfigure(reloadable);
            logger.setLevel?.(level);
            logger.debug(
              `config reload applied in this worker: ${changed.length > 0 ? describeChanges(changed) : 'no change'}`,
            );
          } catch (err) {
            logger.error(
              `config reload failed in this worker, nothing changed: ${describeError(err)}`,
            );
          }
        }),
      );
    } else if (flags.reloadIntervalMs > 0) {
      const timer = setInterval(() => void reloadTls?.('interval'), flags.reloadIntervalMs);
      timer.unref();
      stopReloads.push(() => clearInterval(timer));
    }
    // Metrics first: a metrics port that cannot be had stops the start, before any client is
    // let in, rather than leave a server running without the metrics it was asked for.
    const listenFailed =
      (source: string) =>
      (err: unknown): never => {
        throw new ConfigError(
          'TLSLP_ERR_METRICS_LISTEN',
          { source, reason: describeError(err) },
          { cause: err },
        );
      };
    const metricsServer =
      metrics && !inWorker && flags.metricsPort !== undefined
        ? await serveMetrics(metrics.registry, flags.metricsHost, flags.metricsPort, () =>
            server.readiness(),
          ).catch(listenFailed(`--metrics-port ${flags.metricsPort}`))
        : null;
    const listeners: HttpListener[] = metricsServer ? [metricsServer] : [];
    const closeListeners = (): Promise<unknown> =>
      Promise.all(listeners.splice(0).map((l) => l.close()));
    let address;
    try {
      if (!inWorker && flags.healthPort !== undefined)
        listeners.push(
          await serveHealth(flags.healthHost, flags.healthPort, () => server.readiness()).catch(
            listenFailed(`--health-port ${flags.healthPort}`),
          ),
        );
      address = await server.listen();
    } catch (err) {
      await closeListeners();
      throw err;
    }
    const metricsUrl = metricsServer
      ? `http://${hostPort(flags.metricsHost, metricsServer.port)}/metrics`
      : null;
    if (metricsUrl) logger.info(`Metrics on ${metricsUrl}`);
    const healthServer = listeners.find((l) => l !== metricsServer);
    const healthUrl = healthServer
      ? `http://${hostPort(flags.healthHost, healthServer.port)}/readyz`
      : null;
    if (healthUrl) logger.info(`Health checks on ${healthUrl}`);
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
      // close() ends within the grace and a short linger; this is the backstop for whatever
      // else is still open then, so a supervisor's grace + 1 s always holds.
      setTimeout(() => {
        logger.warning(`${sig}: still not stopped after the grace: exiting now`);
        void logger.close().finally(() => process.exit(EXIT.ok));
      }, flags.shutdownGraceMs + SHUTDOWN_BACKSTOP_MS).unref();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    // Announced only once a signal is handled: a supervisor may stop us right after it.
    if (!inWorker) {
      process.stdout.write(
        `tlslp-server listening on ${hostPort(options.host, address.port)}${tutorial ? ' (tutorial: one session, then exit)' : ''}; log: ${logShown}\n`,
      );
      if (metricsUrl) process.stdout.write(`metrics on ${metricsUrl}\n`);
      if (healthUrl) process.stdout.write(`health checks on ${healthUrl}\n`);
    }

    await server.finished;
    for (const stop of stopReloads) stop();
    reloadTls = null;
    reloadConfig = null;
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await closeListeners();
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

if (isEntryPoint(import.meta.url))
  await runMain('tlslp-server', () => serverMain(process.argv.slice(2)));
