/**
 * The options of the client: {@link runClient} and `tlslp-client`, one entry each.
 * @module
 */
import {
  commandTable,
  keysOf,
  option,
  resolveEntries,
  type InputOf,
  type ResolvedOf,
} from './core.js';
import { integer, ports, seconds, text } from './kinds.js';
import { CERT_PATHS, LOG_ENTRIES, TIMEOUT_ENTRIES, switchEntry } from './shared.js';
import { SOLVER_OPTIONS, resolveSolverOptions, type SolverTableOptions } from './solver.js';

/** Without `sessionTimeoutMs`, the session's deadline is the WORK timeout plus this. */
export const SESSION_SLACK_MS = 120_000;

/** The options of {@link runClient}: the library's table (the CLI's own is CLIENT_CLI_OPTIONS). */
export const CLIENT_LIB_OPTIONS = {
  /** Server host; must match the server certificate. Default: `"localhost"`. */
  host: option(text(), {
    flag: '--host',
    value: 'host',
    default: 'localhost',
    help: 'server host; must match the server certificate',
  }),
  /** Ports tried in order. Default: `3115, 7883, 8235, 38154, 1234, 55532`. */
  ports: option(ports(), {
    flag: '--ports',
    value: 'list',
    default: [3115, 7883, 8235, 38154, 1234, 55532],
    help: 'ports tried in order',
  }),
  /** External solver with the original's interface. Default: built-in solver. */
  workBinary: option(text(), {
    flag: '--work-binary',
    value: 'file',
    default: undefined,
    defaultText: 'built-in solver',
    help: "external solver with the original's interface",
  }),
  /** Time allowed to solve WORK (default 1800 s); the solver is stopped after it. */
  workTimeoutMs: TIMEOUT_ENTRIES.workTimeoutMs,
  /** Time allowed for connecting and for every other step (default 10 s). */
  otherTimeoutMs: { ...TIMEOUT_ENTRIES.otherTimeoutMs, help: 'time allowed for every other step' },
  /**
   * Most body requests answered in one session (the protocol sends 20); past it the client stops,
   * exit 1. Default: `100`.
   */
  maxRequests: option(integer(0, 1_000_000), {
    flag: '--max-requests',
    value: 'n',
    default: 100,
    help: 'most body requests answered in one session (the protocol sends 20); past it the client stops, exit 1',
  }),
  /**
   * Deadline of the whole session; past it the client stops, exit 1. Default: WORK timeout + `120`.
   */
  sessionTimeoutMs: option(seconds(), {
    flag: '--session-timeout',
    value: 'seconds',
    default: undefined,
    defaultText: `WORK timeout + \`${SESSION_SLACK_MS / 1000}\``,
    help: 'deadline of the whole session; past it the client stops, exit 1',
  }),
  /**
   * Do not verify the server and send no client certificate (localhost / loopback only). Default:
   * `false`.
   */
  insecure: switchEntry(
    '--insecure',
    'do not verify the server and send no client certificate (localhost / loopback only)',
  ),
  /** Deterministic logs for comparison with the golden files. Default: `false`. */
  tutorial: switchEntry('--tutorial', 'deterministic logs for comparison with the golden files'),
} as const;

/** What `tlslp-client` reads beyond the library's options: the CLI's own table. */
export const CLIENT_CLI_OPTIONS = {
  clientCert: option(text(), {
    flag: '--client-cert',
    value: 'file',
    default: CERT_PATHS.clientCert,
    help: 'client certificate (PEM)',
  }),
  privateKey: option(text(), {
    flag: '--private-key',
    value: 'file',
    default: CERT_PATHS.clientKey,
    help: 'client private key (PEM)',
  }),
  caCert: option(text(), {
    flag: '--ca-cert',
    value: 'file',
    default: CERT_PATHS.caCert,
    help: 'CA certificate that issued the server certificate (PEM)',
  }),
  ...LOG_ENTRIES,
  profile: option(text(), {
    flag: '--profile',
    value: 'file',
    default: undefined,
    defaultText: 'sample data',
    help: 'JSON answers: `{"FULL_NAME": "Jane Doe", "EMAIL1": "jane@example.com", …}`',
  }),
  profilePartial: switchEntry(
    '--profile-partial',
    'fill fields missing from `--profile` with the sample data (without it a partial profile is refused, exit 2, listing the missing fields)',
  ),
  // The built-in solver's: runClient takes them as solverOptions, not as options of its own.
  kernel: SOLVER_OPTIONS.kernel,
  threads: SOLVER_OPTIONS.threads,
  showCerts: switchEntry(
    '--show-certs',
    "print the server's certificate chain after connecting (subject, SANs, issuer, validity, fingerprint)",
  ),
  quiet: switchEntry('--quiet', 'print nothing but errors'),
  json: switchEntry('--json', 'print one JSON summary object on stdout'),
} as const;

/** Every option of `tlslp-client`, the library's and the CLI's, in `--help` order. */
export const CLIENT_OPTIONS = commandTable(CLIENT_LIB_OPTIONS, CLIENT_CLI_OPTIONS, [
  'host',
  'ports',
  'clientCert',
  'privateKey',
  'caCert',
  'workBinary',
  'workTimeoutMs',
  'otherTimeoutMs',
  'maxRequests',
  'sessionTimeoutMs',
  'insecure',
  'logLevel',
  'logFormat',
  'logFile',
  'tutorial',
  'profile',
  'profilePartial',
  'kernel',
  'threads',
  'showCerts',
  'quiet',
  'json',
]);

type Table = typeof CLIENT_LIB_OPTIONS;
type Lib = keyof Table;
type CliTable = typeof CLIENT_CLI_OPTIONS;

/** The options of {@link runClient} that come from the table, every one optional. */
export type ClientTableOptions = InputOf<Table, Lib>;

/** The table's options once resolved: `sessionTimeoutMs` always set. */
export type ResolvedClientTable = ResolvedOf<Table, Lib> & { readonly sessionTimeoutMs: number };

const LIB = keysOf(CLIENT_LIB_OPTIONS);
const CLI_ONLY = keysOf(CLIENT_CLI_OPTIONS);

/**
 * Fill the client's defaults and check every value, the built-in solver's options included.
 * @throws ConfigError naming the option at fault (its `option` field too).
 */
export function resolveClientOptions<
  O extends ClientTableOptions & { solverOptions?: SolverTableOptions },
>(options: O): Omit<O, Lib> & ResolvedClientTable {
  const t = resolveEntries(CLIENT_LIB_OPTIONS, LIB, options);
  if (options.solverOptions) resolveSolverOptions(options.solverOptions);
  return {
    ...options,
    ...t,
    sessionTimeoutMs: t.sessionTimeoutMs ?? t.workTimeoutMs + SESSION_SLACK_MS,
  };
}

/** What `tlslp-client` reads beyond the library's options. */
export type ClientCommandOptions = InputOf<CliTable, keyof CliTable>;

/**
 * Fill the defaults of the CLI's own client options and check them.
 * @throws ConfigError naming the option at fault.
 */
export function resolveClientCommand(
  values: ClientCommandOptions,
): ResolvedOf<CliTable, keyof CliTable> {
  return resolveEntries(CLIENT_CLI_OPTIONS, CLI_ONLY, values);
}
