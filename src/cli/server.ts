#!/usr/bin/env node
/**
 * `tlslp-server`: a thin layer over {@link TlslpServer}.
 * @module
 */
import { Command, Option } from 'commander';
import { DEFAULTS } from '../defaults.js';
import { createLogger, logFilePath, TUTORIAL_TIMESTAMP, type LogFormat, type LogLevel } from '../logging.js';
import { TlslpServer } from '../server/server.js';
import { readTlsFiles } from '../tls.js';
import { EXIT, describeError, intInRange, runMain, seconds } from './common.js';
import { isEntryPoint } from './entry.js';
import { VERSION, logFormatOption, logLevelOption } from './options.js';

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
  n_bits?: number;
  nBits?: number;
  logLevel: LogLevel;
  logFormat: LogFormat;
  tutorial: boolean;
  maxConnections: number;
  maxPerIp: number;
  shutdownGrace: number;
}

/** The `tlslp-server` command definition. */
export function serverCommand(): Command {
  const nBits = intInRange('n_bits', 0, 64);
  return new Command('tlslp-server')
    .description('Serve the TLS Line Protocol over mutual TLS: HELLO, WORK (proof of work), info requests, DONE.')
    .version(VERSION)
    .option('--host <host>', 'interface to listen on', DEFAULTS.serverHost)
    .option('--port <port>', 'port to listen on', intInRange('--port', 0, 65535), DEFAULTS.serverPort)
    .option('--server-cert <file>', 'server certificate (PEM)', DEFAULTS.serverCert)
    .option('--server-key <file>', 'server private key (PEM)', DEFAULTS.serverKey)
    .option('--ca-cert <file>', 'CA certificate that issues client certificates (PEM)', DEFAULTS.caCert)
    .option('--work-timeout <seconds>', 'time allowed to solve WORK', seconds('--work-timeout'), DEFAULTS.workTimeoutSeconds)
    .option('--other-timeout <seconds>', 'time allowed for every other reply', seconds('--other-timeout'), DEFAULTS.otherTimeoutSeconds)
    .option('--handshake-timeout <seconds>', 'time allowed for the TLS handshake', seconds('--handshake-timeout'), DEFAULTS.handshakeTimeoutSeconds)
    .option('--insecure', 'do not request client certificates (localhost / loopback only)', false)
    .option('--token <token>', 'fixed WORK token instead of a fresh random one per connection')
    .option('--random-string <arg>', 'fixed body argument instead of a fresh random one per request')
    .option('--n_bits <n>', `WORK difficulty in trailing zero bits, 0..64 (default: ${DEFAULTS.nBits})`, nBits)
    .addOption(new Option('--n-bits <n>', 'same as --n_bits').argParser(nBits))
    .option('--log-level <level>', 'DEBUG, INFO, WARNING, ERROR or CRITICAL', logLevelOption, 'INFO')
    .option('--log-format <format>', 'log line format: text or json', logFormatOption, 'text')
    .option('--tutorial', 'deterministic session for learning and golden logs: one connection, then exit', false)
    .option('--max-connections <n>', 'most connections at once', intInRange('--max-connections', 1, 1_000_000), 10_000)
    .option('--max-per-ip <n>', 'most connections at once from one IP address (0 = no limit)', intInRange('--max-per-ip', 0, 1_000_000), 0)
    .option('--shutdown-grace <seconds>', 'on SIGINT/SIGTERM, time sessions in progress get to finish', Number, 10)
    .addHelpText(
      'after',
      `\nLogs go to ${logFilePath('server')} (XDG_STATE_HOME); warnings and errors also to stderr.\nExamples:\n  tlslp-server --n_bits 6\n  tlslp-server --log-level DEBUG\n  tlslp-server --tutorial`,
    )
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
}

/** Run `tlslp-server` with `argv` (without the program name). Resolves with the exit code. */
export async function serverMain(argv: string[]): Promise<number> {
  const flags = serverCommand().parse(argv, { from: 'user' }).opts<ServerFlags>();
  const tutorial = flags.tutorial;
  const logger = createLogger({
    name: 'tlslp.server',
    level: flags.logLevel,
    format: flags.logFormat,
    file: logFilePath('server'),
    mode: tutorial ? 'overwrite' : 'append',
    fixedTimestamp: tutorial ? TUTORIAL_TIMESTAMP : undefined,
  });
  try {
    logger.info('Server starting');
    const material = await readTlsFiles({
      cert: { path: flags.serverCert, flag: '--server-cert' },
      key: { path: flags.serverKey, flag: '--server-key' },
      ca: flags.insecure ? undefined : { path: flags.caCert, flag: '--ca-cert' },
    });
    const server = new TlslpServer({
      host: flags.host,
      port: flags.port,
      tls: material,
      insecure: flags.insecure,
      nBits: flags.nBits ?? flags.n_bits ?? DEFAULTS.nBits,
      token: flags.token,
      randomString: flags.randomString,
      tutorial,
      workTimeoutMs: flags.workTimeout * 1000,
      otherTimeoutMs: flags.otherTimeout * 1000,
      handshakeTimeoutMs: flags.handshakeTimeout * 1000,
      maxConnections: flags.maxConnections,
      maxPerIp: flags.maxPerIp,
      logger,
    });
    const address = await server.listen();
    process.stdout.write(
      `tlslp-server listening on ${flags.host}:${address.port}${tutorial ? ' (tutorial: one session, then exit)' : ''}; log: ${logFilePath('server')}\n`,
    );

    let signals = 0;
    const onSignal = (sig: NodeJS.Signals): void => {
      signals++;
      if (signals > 1) {
        logger.warning(`${sig} again: exiting now`);
        void logger.close().finally(() => process.exit(EXIT.interrupted));
        return;
      }
      logger.info(`${sig} received: no new connections; ${server.inFlight} session(s) get up to ${flags.shutdownGrace} s to finish`);
      void server.close(flags.shutdownGrace * 1000);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    await server.finished;
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    logger.info('Server stopped');
    return EXIT.ok;
  } catch (err) {
    logger.error(describeError(err), undefined, { stderr: false });
    throw err;
  } finally {
    await logger.close();
  }
}

if (isEntryPoint(import.meta.url)) await runMain('tlslp-server', () => serverMain(process.argv.slice(2)));
