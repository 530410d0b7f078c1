#!/usr/bin/env node
/**
 * `tlslp-client`: a thin layer over {@link runClient}.
 * @module
 */
import { Command } from 'commander';
import { runClient, type ClientResult, type PeerCertificateInfo } from '../client/client.js';
import type { WorkSolution } from '../client/session.js';
import { DEFAULT_PROFILE, loadProfile } from '../client/profile.js';
import { ServerFailError, TlslpError, TransportError } from '../errors/index.js';
import { createLogger, logFilePath, TUTORIAL_TIMESTAMP } from '../logging/index.js';
import {
  CLIENT_CLI_OPTIONS,
  CLIENT_LIB_OPTIONS,
  CLIENT_OPTIONS,
  resolveClientCommand,
  resolveClientOptions,
} from '../options/client.js';
import { keysOf } from '../options/core.js';
import { closeSolverPool } from '../solver/index.js';
import { escapeControl, escapeJsonText } from '../text/escape.js';
import { readTlsFiles } from '../tls/material.js';
import { commanderOutput, describeError, EXIT, runMain } from './common.js';
import { isEntryPoint } from './entry.js';
import {
  VERSION,
  addTableOptions,
  logFileChoice,
  namingFlags,
  withFlagNames,
  pick,
  tableValues,
} from './options.js';
import { colorsFor, progressLine, transcriptPrinter } from './transcript.js';

/** The library's names for what the client's flags read (`tls.cert` is `--client-cert`). */
export const CLIENT_ALIASES = {
  'tls.ca': 'caCert',
  'tls.cert': 'clientCert',
  'tls.key': 'privateKey',
  partial: 'profilePartial',
};

/** The `tlslp-client` command definition: its flags are the client table's. */
export function clientCommand(): Command {
  const command = new Command('tlslp-client')
    .description(
      'Connect to a tlslp server over mutual TLS, solve its WORK challenge and answer its requests.',
    )
    .version(VERSION);
  return addTableOptions(command, CLIENT_OPTIONS)
    .addHelpText(
      'after',
      `\nLogs go to ${logFilePath('client')} (XDG_STATE_HOME; --log-file to change); warnings and errors also to stderr.\nExit status: 0 after DONE/OK, 1 when the server sends FAIL or the session fails, 2 for bad flags or files, 130 when interrupted (Ctrl-C).\nExamples:\n  tlslp-client\n  tlslp-client --host localhost --ports 1234 --insecure\n  tlslp-client --work-binary ./work_challenge --log-level DEBUG`,
    )
    .exitOverride()
    .configureOutput(commanderOutput('tlslp-client'));
}

/** The flag that sets the limit a library error names, for the user's one line. */
const FLAG_HINTS: Readonly<Record<string, string>> = {
  TLSLP_ERR_TOO_MANY_REQUESTS: 'the limit is --max-requests',
  TLSLP_ERR_SESSION_TIMEOUT: 'the limit is --session-timeout',
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
  /**
   * The FAIL was the protocol's simulated one (a random word among the body commands, drawn
   * in about 9 sessions in 10 unless the server runs with --no-simulate-failures); false for
   * a FAIL the server sends for a real error (one of its FAIL_REASONS) and with no FAIL.
   */
  simulated: boolean;
}

/** Run `tlslp-client` with `argv` (without the program name). Resolves with the exit code. */
export async function clientMain(argv: string[]): Promise<number> {
  return namingFlags(CLIENT_OPTIONS, () => connect(argv), CLIENT_ALIASES);
}

/** The keys of the library's table and of the CLI's own. */
const LIB = keysOf(CLIENT_LIB_OPTIONS);
const CLI = keysOf(CLIENT_CLI_OPTIONS);

async function connect(argv: string[]): Promise<number> {
  const values = tableValues(clientCommand().parse(argv, { from: 'user' }), CLIENT_OPTIONS);
  const given = pick(values, LIB);
  // Checked before the log is opened; runClient checks them again.
  const options = resolveClientOptions(given);
  const flags = { ...options, ...resolveClientCommand(pick(values, CLI)) };
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
      ...given,
      tls: material,
      profile,
      solverOptions: {
        kernel: flags.kernel,
        threads: flags.threads,
        onProgress: interactive ? (p) => progress.update(p) : undefined,
      },
      logger,
      signal: controller.signal,
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
        if (event.type === 'connect-failed' && event.code === 'TLSLP_ERR_CONNECTION_REFUSED')
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
    failure = controller.signal.aborted
      ? new TransportError('TLSLP_ERR_INTERRUPTED')
      : withFlagNames(err, CLIENT_OPTIONS, CLIENT_ALIASES);
    if (failure instanceof TlslpError && Object.hasOwn(FLAG_HINTS, failure.code))
      failure.message += ` (${FLAG_HINTS[failure.code]})`;
    // A FAIL for a real error reads apart from the drawn one (which exits 1 all the same).
    if (failure instanceof ServerFailError && !failure.simulated)
      failure.message += " (a real error, not the protocol's simulated FAIL)";
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
        `tlslp-client: the server ended the session with the protocol's simulated FAIL (${failure.reason}); normal mode draws it in about 9 sessions in 10, and the exit status is 1, as documented (a server started with --no-simulate-failures never draws it)\n`,
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
    simulated: failure instanceof ServerFailError && failure.simulated,
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
