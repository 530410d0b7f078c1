#!/usr/bin/env node
/**
 * `tlslp-server`: a thin layer over {@link TlslpServer}.
 * @module
 */
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { Command, Option } from 'commander';
import { DEFAULTS } from '../defaults.js';
import {
  createLogger,
  logFilePath,
  TUTORIAL_TIMESTAMP,
  type LogFormat,
  type LogLevel,
} from '../logging.js';
import { createWorkerLogger, runPrimary, shareWorkerMetrics } from '../server/cluster.js';
import { applyConfigFile } from './config-file.js';
import { ServerMetrics, serveMetrics } from '../server/metrics.js';
import { TlslpServer } from '../server/server.js';
import { ConfigError } from '../errors.js';
import { checkServerTls, readTlsFiles } from '../tls.js';
import { commanderOutput, describeError, EXIT, intInRange, runMain, seconds } from './common.js';
import { isEntryPoint } from './entry.js';
import { VERSION, logFormatOption, logLevelOption, logFileChoice } from './options.js';
import { hostPort } from '../text/address.js';
import { sessionLine } from './session-line.js';

interface ServerFlags {
  host: string;
  port: number;
  serverCert: string;
  serverKey: string;
  caCert: string;
  workTimeout: number;
  otherTimeout: number;
  handshakeTimeout: number;
  insecure: boolean;
  token?: string;
  randomString?: string;
  n_bits?: number | 'auto';
  nBits?: number | 'auto';
  minBits: number;
  maxBits: number;
  workers: number | 'auto';
  metricsPort?: number;
  metricsHost: string;
  statsInterval: number;
  logLevel: LogLevel;
  logFormat: LogFormat;
  tutorial: boolean;
  maxConnections: number;
  maxPerIp: number;
  maxHandshakes: number;
  maxHandshakesPerIp: number;
  maxHandshakeBytes: number;
  maxChainDepth: number;
  maxHandshakeFailuresPerIp: number;
  shutdownGrace: number;
  quiet: boolean;
  logFile?: string;
}

/** The `tlslp-server` command definition. */
export function serverCommand(): Command {
  const bits = intInRange('n_bits', 0, 64);
  const nBits = (value: string): number | 'auto' => (value === 'auto' ? 'auto' : bits(value));
  const workers = (value: string): number | 'auto' =>
    value === 'auto' ? 'auto' : intInRange('--workers', 1, 256)(value);
  return new Command('tlslp-server')
    .description(
      'Serve the TLS Line Protocol over mutual TLS: HELLO, WORK (proof of work), info requests, DONE.',
    )
    .version(VERSION)
    .option(
      '--config <file>',
      'read options from a JSON or TOML file (keys: the flag names, e.g. max-connections = 500); flags given here win',
    )
    .option('--host <host>', 'interface to listen on', DEFAULTS.serverHost)
    .option(
      '--port <port>',
      'port to listen on',
      intInRange('--port', 0, 65535),
      DEFAULTS.serverPort,
    )
    .option('--server-cert <file>', 'server certificate (PEM)', DEFAULTS.serverCert)
    .option('--server-key <file>', 'server private key (PEM)', DEFAULTS.serverKey)
    .option(
      '--ca-cert <file>',
      'CA certificate that issues client certificates (PEM)',
      DEFAULTS.caCert,
    )
    .option(
      '--work-timeout <seconds>',
      'time allowed to solve WORK',
      seconds('--work-timeout'),
      DEFAULTS.workTimeoutSeconds,
    )
    .option(
      '--other-timeout <seconds>',
      'time allowed for every other reply',
      seconds('--other-timeout'),
      DEFAULTS.otherTimeoutSeconds,
    )
    .option(
      '--handshake-timeout <seconds>',
      'time allowed for the TLS handshake',
      seconds('--handshake-timeout'),
      DEFAULTS.handshakeTimeoutSeconds,
    )
    .option('--insecure', 'do not request client certificates (localhost / loopback only)', false)
    .option('--token <token>', 'fixed WORK token instead of a fresh random one per connection')
    .option(
      '--random-string <arg>',
      'fixed body argument instead of a fresh random one per request',
    )
    .option(
      '--n_bits <n>',
      `WORK difficulty in trailing zero bits, 0..64, or auto (follows the load) (default: ${DEFAULTS.nBits})`,
      nBits,
    )
    .addOption(new Option('--n-bits <n>', 'same as --n_bits').argParser(nBits))
    .option(
      '--min-bits <n>',
      'with --n_bits auto: lowest n_bits',
      intInRange('--min-bits', 0, 64),
      16,
    )
    .option(
      '--max-bits <n>',
      'with --n_bits auto: highest n_bits',
      intInRange('--max-bits', 0, 64),
      28,
    )
    .option(
      '--log-level <level>',
      'DEBUG, INFO, WARNING, ERROR or CRITICAL',
      logLevelOption,
      'INFO',
    )
    .option('--log-format <format>', 'log line format: text or json', logFormatOption, 'text')
    .option(
      '--log-file <path>',
      `log file (default ${logFilePath('server')}); - = every record to stderr, no file; none = no file`,
    )
    .option(
      '--tutorial',
      'deterministic session for learning and golden logs: one connection, then exit',
      false,
    )
    .option(
      '--max-connections <n>',
      'most sessions at once (past it, connections are closed before TLS)',
      intInRange('--max-connections', 1, 1_000_000),
      DEFAULTS.maxConnections,
    )
    .option(
      '--max-per-ip <n>',
      'most sessions at once from one IP address (0 = no limit)',
      intInRange('--max-per-ip', 0, 1_000_000),
      DEFAULTS.maxPerIp,
    )
    .option(
      '--max-handshakes <n>',
      'most connections still in their TLS handshake, from everyone',
      intInRange('--max-handshakes', 1, 1_000_000),
      DEFAULTS.maxHandshakes,
    )
    .option(
      '--max-handshakes-per-ip <n>',
      'most connections still in their TLS handshake from one IP address',
      intInRange('--max-handshakes-per-ip', 1, 1_000_000),
      DEFAULTS.maxHandshakesPerIp,
    )
    .option(
      '--max-handshake-bytes <n>',
      'most bytes a client sends before its handshake completes; cut before its chain is checked (0 = no limit)',
      intInRange('--max-handshake-bytes', 0, 16_777_216),
      DEFAULTS.maxHandshakeBytes,
    )
    .option(
      '--max-chain-depth <n>',
      'most certificates in a client chain, leaf and root included (0 = no limit)',
      intInRange('--max-chain-depth', 0, 100),
      DEFAULTS.maxChainDepth,
    )
    .option(
      '--max-handshake-failures-per-ip <n>',
      'failures per minute one IP may have before it is refused before TLS: failed handshakes and sessions dropped before WORK is solved; a burst of 5 (0 = no limit)',
      intInRange('--max-handshake-failures-per-ip', 0, 1_000_000),
      DEFAULTS.maxHandshakeFailuresPerIp,
    )
    .option(
      '--shutdown-grace <seconds>',
      'on SIGINT/SIGTERM, time sessions in progress get to finish',
      seconds('--shutdown-grace'),
      10,
    )
    .option(
      '--workers <n>',
      'server processes sharing the port (node:cluster); auto = one per core',
      workers,
      1,
    )
    .option(
      '--metrics-port <port>',
      'serve Prometheus metrics on this port (GET /metrics)',
      intInRange('--metrics-port', 0, 65535),
    )
    .option('--metrics-host <host>', 'interface for the metrics endpoint', '127.0.0.1')
    .option(
      '--stats-interval <seconds>',
      'log a one-line summary of the counters this often (0 = never)',
      seconds('--stats-interval', true),
      0,
    )
    .option('--quiet', 'no per-session line on the terminal (the log has every session)', false)
    .addHelpText(
      'after',
      `\nOn a terminal each session ends with one line on stdout, e.g.\n  #12 127.0.0.1 done in 0.4 s (n_bits 20, 0.2 s WORK)\nLogs go to ${logFilePath('server')} (XDG_STATE_HOME; --log-file to change); warnings and errors also to stderr.\nExamples:\n  tlslp-server --n_bits 6\n  tlslp-server --log-level DEBUG\n  tlslp-server --tutorial`,
    )
    .exitOverride()
    .configureOutput(commanderOutput('tlslp-server'));
}

/** Run `tlslp-server` with `argv` (without the program name). Resolves with the exit code. */
export async function serverMain(argv: string[]): Promise<number> {
  const command = serverCommand().parse(argv, { from: 'user' });
  const file = command.opts<{ config?: string }>().config;
  if (file !== undefined) applyConfigFile(command, file);
  const flags = command.opts<ServerFlags>();
  const tutorial = flags.tutorial;
  const workers = flags.workers === 'auto' ? availableParallelism() : flags.workers;
  const bits = flags.nBits ?? flags.n_bits ?? DEFAULTS.nBits;
  if (tutorial && workers > 1)
    throw new ConfigError('TLSLP_ERR_TUTORIAL_WORKERS', { flag: '--workers' });
  for (const [name, flag] of [
    ['minBits', '--min-bits'],
    ['maxBits', '--max-bits'],
  ] as const) {
    const source = command.getOptionValueSource(name);
    if (bits !== 'auto' && (source === 'cli' || source === 'config'))
      throw new ConfigError('TLSLP_ERR_BITS_WITHOUT_AUTO', { flag, auto: '--n_bits auto' });
  }
  if (bits === 'auto' && flags.minBits > flags.maxBits) {
    throw new ConfigError('TLSLP_ERR_BAD_ADAPTIVE_RANGE', {
      minName: '--min-bits',
      min: flags.minBits,
      maxName: '--max-bits',
      max: flags.maxBits,
    });
  }
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
      ca: flags.insecure ? undefined : { path: flags.caCert, flag: '--ca-cert' },
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
        host: flags.host,
        logger,
        shutdownGraceMs: flags.shutdownGrace * 1000,
        metrics:
          flags.metricsPort === undefined
            ? undefined
            : { host: flags.metricsHost, port: flags.metricsPort },
        onListening: ({ port }) =>
          process.stdout.write(
            `tlslp-server listening on ${hostPort(flags.host, port)} (${workers} workers); log: ${logShown}\n`,
          ),
      });
      logger.info('Server stopped');
      return code;
    }

    const metrics =
      flags.metricsPort !== undefined ? new ServerMetrics({ defaultMetrics: true }) : undefined;
    if (metrics && inWorker) shareWorkerMetrics(metrics.registry);
    const server = new TlslpServer({
      host: flags.host,
      port: flags.port,
      tls: material,
      insecure: flags.insecure,
      nBits: bits === 'auto' ? flags.minBits : bits,
      adaptive: bits === 'auto' ? { minBits: flags.minBits, maxBits: flags.maxBits } : undefined,
      token: flags.token,
      randomString: flags.randomString,
      tutorial,
      workTimeoutMs: flags.workTimeout * 1000,
      otherTimeoutMs: flags.otherTimeout * 1000,
      handshakeTimeoutMs: flags.handshakeTimeout * 1000,
      maxConnections: flags.maxConnections,
      maxPerIp: flags.maxPerIp,
      maxHandshakes: flags.maxHandshakes,
      maxHandshakesPerIp: flags.maxHandshakesPerIp,
      maxHandshakeBytes: flags.maxHandshakeBytes,
      maxChainDepth: flags.maxChainDepth,
      maxHandshakeFailuresPerIp: flags.maxHandshakeFailuresPerIp,
      statsIntervalMs: flags.statsInterval * 1000,
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
        ? await serveMetrics(metrics.registry, flags.metricsHost, flags.metricsPort).catch(
            (err: unknown) => {
              throw new ConfigError(
                'TLSLP_ERR_METRICS_LISTEN',
                { source: `--metrics-port ${flags.metricsPort}`, detail: describeError(err) },
                { cause: err },
              );
            },
          )
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
        `${sig} received: no new connections; ${server.inFlight} session(s) get up to ${flags.shutdownGrace} s to finish`,
      );
      void server.close(flags.shutdownGrace * 1000);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    // Announced only once a signal is handled: a supervisor may stop us right after it.
    if (!inWorker) {
      process.stdout.write(
        `tlslp-server listening on ${hostPort(flags.host, address.port)}${tutorial ? ' (tutorial: one session, then exit)' : ''}; log: ${logShown}\n`,
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
