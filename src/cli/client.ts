#!/usr/bin/env node
/**
 * `tlslp-client`: a thin layer over {@link runClient}.
 * @module
 */
import { Command, Option } from 'commander';
import { runClient, type ClientResult, type PeerCertificateInfo } from '../client/client.js';
import type { WorkSolution } from '../client/session.js';
import { DEFAULT_PROFILE, loadProfile } from '../client/profile.js';
import { DEFAULTS } from '../defaults.js';
import { ServerFailError, TlslpError } from '../errors.js';
import {
  createLogger,
  logFilePath,
  TUTORIAL_TIMESTAMP,
  type LogFormat,
  type LogLevel,
} from '../logging.js';
import { closeSolverPool } from '../solver/index.js';
import type { KernelName } from '../solver/types.js';
import { escapeControl, escapeJsonText } from '../text/escape.js';
import { readTlsFiles } from '../tls.js';
import { commanderOutput, describeError, EXIT, intInRange, runMain, seconds } from './common.js';
import { isEntryPoint } from './entry.js';
import { VERSION, logFormatOption, logLevelOption, parsePorts, logFileChoice } from './options.js';
import { colorsFor, progressLine, transcriptPrinter } from './transcript.js';

interface ClientFlags {
  host: string;
  ports: number[];
  clientCert: string;
  privateKey: string;
  caCert: string;
  workBinary?: string;
  workTimeout: number;
  otherTimeout: number;
  maxRequests: number;
  sessionTimeout?: number;
  insecure: boolean;
  logLevel: LogLevel;
  logFormat: LogFormat;
  tutorial: boolean;
  profile?: string;
  profilePartial: boolean;
  kernel: KernelName | 'auto';
  threads?: number;
  quiet: boolean;
  json: boolean;
  logFile?: string;
  showCerts: boolean;
}

/** The `tlslp-client` command definition. */
export function clientCommand(): Command {
  return new Command('tlslp-client')
    .description(
      'Connect to a tlslp server over mutual TLS, solve its WORK challenge and answer its requests.',
    )
    .version(VERSION)
    .option('--host <host>', 'server host; must match the server certificate', DEFAULTS.clientHost)
    .option('--ports <list>', 'ports to try in order, comma-separated', parsePorts, [
      ...DEFAULTS.clientPorts,
    ])
    .option('--client-cert <file>', 'client certificate (PEM)', DEFAULTS.clientCert)
    .option('--private-key <file>', 'client private key (PEM)', DEFAULTS.clientKey)
    .option(
      '--ca-cert <file>',
      'CA certificate that issued the server certificate (PEM)',
      DEFAULTS.caCert,
    )
    .option(
      '--work-binary <file>',
      'external WORK solver with the original interface: <file> <token> <n_bits> prints RESULT:<suffix>',
    )
    .option(
      '--work-timeout <seconds>',
      'time allowed to solve WORK',
      seconds('--work-timeout'),
      DEFAULTS.workTimeoutSeconds,
    )
    .option(
      '--other-timeout <seconds>',
      'time allowed for every other step',
      seconds('--other-timeout'),
      DEFAULTS.otherTimeoutSeconds,
    )
    .option(
      '--max-requests <n>',
      'most body requests answered in one session (the protocol sends 20)',
      intInRange('--max-requests', 0, 1_000_000),
      DEFAULTS.clientMaxRequests,
    )
    .option(
      '--session-timeout <seconds>',
      `deadline of the whole session (default: the WORK timeout + ${DEFAULTS.clientSessionSlackSeconds} s)`,
      seconds('--session-timeout'),
    )
    .option(
      '--insecure',
      'do not verify the server and send no client certificate (localhost / loopback only)',
      false,
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
      `log file (default ${logFilePath('client')}); - = every record to stderr, no file; none = no file`,
    )
    .option('--tutorial', 'deterministic logs for comparison with the golden files', false)
    .option(
      '--profile <file>',
      'JSON file with the eight answers: {"FULL_NAME": "…", "EMAIL1": "…", …}',
    )
    .option('--profile-partial', 'fill fields missing from --profile with the sample data', false)
    .addOption(
      new Option('--kernel <kernel>', 'built-in solver kernel')
        .choices(['auto', 'native', 'wasm', 'js'])
        .default('auto'),
    )
    .option(
      '--threads <n>',
      'solver threads (default: one per core)',
      intInRange('--threads', 1, 256),
    )
    .option(
      '--show-certs',
      "print the server's certificate chain after connecting (subject, SANs, issuer, validity, fingerprint)",
      false,
    )
    .option('--quiet', 'print nothing but errors', false)
    .option('--json', 'print one JSON summary object on stdout', false)
    .addHelpText(
      'after',
      `\nLogs go to ${logFilePath('client')} (XDG_STATE_HOME; --log-file to change); warnings and errors also to stderr.\nExit status: 0 after DONE/OK, 1 when the server sends FAIL or the session fails, 2 for bad flags or files, 130 when interrupted (Ctrl-C).\nExamples:\n  tlslp-client\n  tlslp-client --host localhost --ports 1234 --insecure\n  tlslp-client --work-binary ./work_challenge --log-level DEBUG`,
    )
    .exitOverride()
    .configureOutput(commanderOutput('tlslp-client'));
}

/** The flag that sets the limit a library error names, for the user's one line. */
const FLAG_HINTS: Readonly<Record<string, string>> = {
  TOO_MANY_REQUESTS: 'the limit is --max-requests',
  SESSION_TIMEOUT: 'the limit is --session-timeout',
};

/** The `--json` summary. */
export interface ClientSummary {
  ok: boolean;
  host: string;
  port: number | null;
  protocol: string | null;
  nBits: number | null;
  answered: number;
  suffix: string | null;
  solveSeconds: number | null;
  hashesPerSecond: number | null;
  solver: string | null;
  error: string | null;
  errorCode: string | null;
  serverFail: string | null;
}

/** Run `tlslp-client` with `argv` (without the program name). Resolves with the exit code. */
export async function clientMain(argv: string[]): Promise<number> {
  const flags = clientCommand().parse(argv, { from: 'user' }).opts<ClientFlags>();
  const interactive = !flags.quiet && !flags.json;
  const out = process.stdout;
  const logTarget = logFileChoice(flags.logFile, logFilePath('client'));
  const logger = createLogger({
    name: 'tlslp.client',
    level: flags.logLevel,
    format: flags.logFormat,
    file: logTarget.kind === 'file' ? logTarget.path : null,
    ...(logTarget.kind === 'stderr' ? { stderrLevel: flags.logLevel } : {}),
    mode: flags.tutorial ? 'overwrite' : 'append',
    fixedTimestamp: flags.tutorial ? TUTORIAL_TIMESTAMP : undefined,
    // The CLI prints its own one-line error; --json and --quiet keep stderr for that line only.
    stderr: interactive || logTarget.kind === 'stderr' ? process.stderr : null,
  });
  const controller = new AbortController();
  const onSigint = (): void => controller.abort();
  process.once('SIGINT', onSigint);
  process.once('SIGTERM', onSigint);
  const progress = progressLine(process.stderr);
  const print = transcriptPrinter(out);
  let result: ClientResult | null = null;
  let failure: unknown = null;
  // What happened before a failure, for the --json summary.
  const closedPorts: number[] = [];
  let chain: PeerCertificateInfo[] | null = null;
  const seen: Progress = { port: null, protocol: null, nBits: null, answered: 0, work: null };
  try {
    logger.info('Client starting');
    const profile = flags.profile
      ? await loadProfile(flags.profile, { partial: flags.profilePartial })
      : DEFAULT_PROFILE;
    const material = flags.insecure
      ? {}
      : await readTlsFiles({
          ca: { path: flags.caCert, flag: '--ca-cert' },
          cert: { path: flags.clientCert, flag: '--client-cert' },
          key: { path: flags.privateKey, flag: '--private-key' },
        });
    result = await runClient({
      host: flags.host,
      ports: flags.ports,
      tls: material,
      insecure: flags.insecure,
      workTimeoutMs: flags.workTimeout * 1000,
      otherTimeoutMs: flags.otherTimeout * 1000,
      maxRequests: flags.maxRequests,
      sessionTimeoutMs:
        flags.sessionTimeout === undefined ? undefined : flags.sessionTimeout * 1000,
      profile,
      workBinary: flags.workBinary,
      solverOptions: {
        kernel: flags.kernel,
        threads: flags.threads,
        onProgress: interactive ? (p) => progress.update(p) : undefined,
      },
      logger,
      signal: controller.signal,
      tutorial: flags.tutorial,
      onEvent: (event) => {
        if (event.type === 'connected') {
          Object.assign(seen, { port: event.port, protocol: event.protocol });
          if (flags.showCerts) {
            chain = event.chain;
            if (!flags.json) out.write(formatChain(event.chain));
          }
        }
        if (event.type === 'work-start') seen.nBits = event.nBits;
        if (event.type === 'work-done') {
          seen.work = event.solution;
          progress.clear();
        }
        if (event.type === 'send' && /^[0-9a-f]{64}( |$)/.test(event.line)) seen.answered++;
        if (event.type === 'connect-failed' && event.code === 'ECONNREFUSED')
          closedPorts.push(event.port);
        if (!interactive) return;
        if (event.type === 'connected' && closedPorts.length > 0) {
          // Closed ports before the one that answers are normal with the original's list.
          const list = closedPorts.join(', ');
          out.write(
            colorsFor(out).dim(
              `… no server on port${closedPorts.length > 1 ? 's' : ''} ${list} (tried in order)\n`,
            ),
          );
        }
        // Other failed ports reach stderr as log warnings; the dial itself is not news.
        if (event.type !== 'connect-failed' && event.type !== 'connecting') print(event);
        if (
          event.type === 'work-done' &&
          flags.tutorial &&
          'fallbackReason' in event.solution &&
          typeof event.solution.fallbackReason === 'string' &&
          event.solution.fallbackReason
        ) {
          process.stderr.write(`tlslp-client: ${event.solution.fallbackReason}\n`);
        }
      },
    });
  } catch (err) {
    progress.clear();
    failure = controller.signal.aborted ? new TlslpError('INTERRUPTED', 'interrupted') : err;
    if (failure instanceof TlslpError && Object.hasOwn(FLAG_HINTS, failure.code))
      failure.message += ` (${FLAG_HINTS[failure.code]})`;
    if (failure instanceof ServerFailError && failure.simulated) {
      // The protocol's drawn FAIL: normal, not an error of the client or the server.
      logger.info(`Session ended by the server's simulated FAIL (${failure.reason})`);
    } else logger.error(describeError(failure), undefined, { stderr: false });
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
    await closeSolverPool();
    await logger.close();
  }

  if (flags.json) {
    // JSON.stringify leaves C1 and bidi characters raw; a server's FAIL reason may hold them.
    out.write(
      `${escapeJsonText(
        JSON.stringify({
          ...summarize(flags.host, result, failure, seen),
          ...(chain ? { serverChain: chain } : {}),
        }),
      )}\n`,
    );
  } else if (result && interactive) {
    const c = colorsFor(out);
    const rate = result.work.hashesPerSecond
      ? `, ${(result.work.hashesPerSecond / 1e6).toFixed(1)} M hashes/s`
      : '';
    out.write(
      c.green(
        `✓ session complete: DONE/OK after ${result.answered.length} requests; WORK n_bits ${result.nBits} solved in ${result.work.seconds.toFixed(3)} s${rate}\n`,
      ),
    );
  }
  if (failure) {
    if (controller.signal.aborted) return EXIT.interrupted;
    if (failure instanceof ServerFailError && failure.simulated) {
      process.stderr.write(
        `tlslp-client: the server ended the session with the protocol's simulated FAIL (${failure.reason}); normal mode draws it in about 9 sessions in 10, and the exit status is 1, as documented\n`,
      );
      return EXIT.failure;
    }
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- rethrows what the session threw
    throw failure;
  }
  return EXIT.ok;
}

interface Progress {
  port: number | null;
  protocol: string | null;
  nBits: number | null;
  answered: number;
  /** The solve, once done: kept when the session fails after it. */
  work: WorkSolution | null;
}

function summarize(
  host: string,
  result: ClientResult | null,
  failure: unknown,
  seen: Progress,
): ClientSummary {
  const work = result?.work ?? seen.work;
  return {
    ok: result !== null && failure === null,
    host,
    port: result?.port ?? seen.port,
    protocol: result?.protocol ?? seen.protocol,
    nBits: result?.nBits ?? seen.nBits,
    answered: result?.answered.length ?? seen.answered,
    suffix: work?.suffix ?? null,
    solveSeconds: work?.seconds ?? null,
    hashesPerSecond: work?.hashesPerSecond ?? null,
    solver: work?.solver ?? null,
    error: failure ? describeError(failure) : null,
    errorCode: failure instanceof TlslpError ? failure.code : null,
    serverFail: failure instanceof ServerFailError ? failure.reason : null,
  };
}

if (isEntryPoint(import.meta.url))
  await runMain('tlslp-client', () => clientMain(process.argv.slice(2)));

/** The chain as `--show-certs` prints it; every value escaped (a server chose them). */
export function formatChain(chain: readonly PeerCertificateInfo[]): string {
  const lines = [`server certificate chain (${chain.length}):`];
  chain.forEach((c, i) => {
    lines.push(
      ` ${i} subject: ${escapeControl(c.subject)}`,
      `   SANs:    ${escapeControl(c.subjectAltName ?? '(none)')}`,
      `   issuer:  ${escapeControl(c.issuer)}`,
      `   serial:  ${escapeControl(c.serial)}`,
      `   valid:   ${c.validFrom} to ${c.validTo}`,
      `   SHA-256: ${escapeControl(c.fingerprint256)}`,
    );
  });
  return lines.join('\n') + '\n';
}
