/**
 * The options of the server: {@link TlslpServer} and `tlslp-server`, one entry each.
 * @module
 */
import { availableParallelism } from 'node:os';
import { ConfigError } from '../errors/index.js';
import { isValidArg, isValidToken } from '../protocol/messages.js';
import type { AdaptiveOptions } from './adaptive.js';
import {
  commandTable,
  keysOf,
  option,
  resolveEntries,
  type InputOf,
  type ResolvedOf,
} from './core.js';
import { cidrs, integer, names, orWord, seconds, text, toggle } from './kinds.js';
import { hasControl } from '../text/escape.js';
import { STATE_URL_FORM, parseStateUrl } from '../state/url.js';
import {
  CONFIG_ENTRY,
  LOG_ENTRIES,
  TIMEOUT_ENTRIES,
  CERT_PATHS,
  DNS_NAME,
  URI,
  switchEntry,
} from './shared.js';

const LIMIT = 1_000_000;
/** Sources trusted by default when the PROXY protocol is on: loopback only. */
const DEFAULT_PROXY_FROM: readonly string[] = ['127.0.0.0/8', '::1/128'];
const bits = integer(0, 64);
/** A CN or OU to allow: 1..256 characters, no control characters. */
const NAME = {
  test: (s: string) => s.length > 0 && s.length <= 256 && !hasControl(s),
  what: 'names of 1..256 characters without control characters',
};
/** The options of {@link TlslpServer}: the library's table (the CLI's own is SERVER_CLI_OPTIONS). */
export const SERVER_LIB_OPTIONS = {
  /** Interface to listen on. Default: `"localhost"`. */
  host: option(text(), {
    flag: '--host',
    value: 'host',
    default: 'localhost',
    help: 'interface to listen on',
  }),
  /** Port to listen on (0 = any free port). Default: `1234`. */
  port: option(integer(0, 65535), {
    flag: '--port',
    value: 'port',
    default: 1234,
    help: 'port to listen on (0 = any free port)',
  }),
  ...TIMEOUT_ENTRIES,
  /**
   * TLS handshake deadline, from the TCP accept; past half of `--max-handshakes` it shrinks (to 1 s
   * when full). Default: `10000` ms.
   */
  handshakeTimeoutMs: option(seconds(), {
    flag: '--handshake-timeout',
    value: 'seconds',
    default: 10_000,
    help: 'TLS handshake deadline, from the TCP accept; past half of `--max-handshakes` it shrinks (to 1 s when full)',
  }),
  /** Do not request client certificates (localhost / loopback only). Default: `false`. */
  insecure: switchEntry(
    '--insecure',
    'do not request client certificates (localhost / loopback only)',
  ),
  /**
   * Fixed WORK token instead of a fresh random one per connection. Default: random per connection.
   */
  token: option(text({ test: isValidToken, what: '1..128 characters of [A-Za-z0-9_-]' }), {
    flag: '--token',
    value: 'token',
    default: undefined,
    defaultText: 'random per connection',
    help: 'fixed WORK token instead of a fresh random one per connection',
  }),
  /** Fixed body argument instead of a fresh random one per request. Default: random per request. */
  randomString: option(text({ test: isValidArg, what: '1..128 characters without spaces' }), {
    flag: '--random-string',
    value: 'arg',
    default: undefined,
    defaultText: 'random per request',
    help: 'fixed body argument instead of a fresh random one per request',
  }),
  /**
   * WORK difficulty, 0..64 trailing zero bits; `auto`: follows the load between `--min-bits` and
   * `--max-bits`. Default: `28`.
   */
  nBits: option(orWord('auto', bits), {
    flag: '--n_bits',
    aliases: ['--n-bits'],
    value: 'n',
    default: 28,
    help: 'WORK difficulty, 0..64 trailing zero bits; `auto`: follows the load between `--min-bits` and `--max-bits`',
  }),
  /** With `--n_bits auto`: lowest n_bits. Default: `16`. */
  minBits: option(bits, {
    flag: '--min-bits',
    value: 'n',
    default: 16,
    help: 'with `--n_bits auto`: lowest n_bits',
  }),
  /** With `--n_bits auto`: highest n_bits. Default: `28`. */
  maxBits: option(bits, {
    flag: '--max-bits',
    value: 'n',
    default: 28,
    help: 'with `--n_bits auto`: highest n_bits',
  }),
  /**
   * Deterministic session for learning and golden logs: fixed token and command order, one
   * connection, then exit. Default: `false`.
   */
  tutorial: switchEntry(
    '--tutorial',
    'deterministic session for learning and golden logs: fixed token and command order, one connection, then exit',
  ),
  /** Most sessions at once; past it new connections are closed before TLS. Default: `10000`. */
  maxConnections: option(integer(1, LIMIT), {
    flag: '--max-connections',
    value: 'n',
    default: 10_000,
    help: 'most sessions at once; past it new connections are closed before TLS',
  }),
  /** Most sessions at once from one IP address (0 = no limit). Default: `0` (no limit). */
  maxPerIp: option(integer(0, LIMIT), {
    flag: '--max-per-ip',
    value: 'n',
    default: 0,
    defaultText: '`0` (no limit)',
    help: 'most sessions at once from one IP address (0 = no limit)',
  }),
  /**
   * Most connections still in their TLS handshake; past half, the handshake deadline shrinks (to 1
   * s when full). Default: `1000`.
   */
  maxHandshakes: option(integer(1, LIMIT), {
    flag: '--max-handshakes',
    value: 'n',
    default: 1000,
    help: 'most connections still in their TLS handshake; past half, the handshake deadline shrinks (to 1 s when full)',
  }),
  /** Most connections still in their TLS handshake from one IP address. Default: `32`. */
  maxHandshakesPerIp: option(integer(1, LIMIT), {
    flag: '--max-handshakes-per-ip',
    value: 'n',
    default: 32,
    help: 'most connections still in their TLS handshake from one IP address',
  }),
  /**
   * Most bytes a client sends before its handshake completes; cut before its chain is checked (0 =
   * no limit). Default: `16384`.
   */
  maxHandshakeBytes: option(integer(0, 16_777_216), {
    flag: '--max-handshake-bytes',
    value: 'n',
    default: 16_384,
    help: 'most bytes a client sends before its handshake completes; cut before its chain is checked (0 = no limit)',
  }),
  /** Most certificates in a client chain, leaf and root included (0 = no limit). Default: `4`. */
  maxChainDepth: option(integer(0, 100), {
    flag: '--max-chain-depth',
    value: 'n',
    default: 4,
    help: 'most certificates in a client chain, leaf and root included (0 = no limit)',
  }),
  /**
   * Failures per minute one IP may have before it is refused before TLS: failed handshakes and
   * sessions dropped before WORK is solved; a burst of 5 (0 = no limit). Default: `30`.
   */
  maxHandshakeFailuresPerIp: option(integer(0, LIMIT), {
    flag: '--max-handshake-failures-per-ip',
    value: 'n',
    default: 30,
    help: 'failures per minute one IP may have before it is refused before TLS: failed handshakes and sessions dropped before WORK is solved; a burst of 5 (0 = no limit)',
  }),
  /**
   * Read a PROXY v1/v2 header before TLS from `--proxy-from` (a load balancer) and use the client
   * address it carries. Default: `false`.
   */
  proxyProtocol: switchEntry(
    '--proxy-protocol',
    'read a PROXY v1/v2 header before TLS from `--proxy-from` (a load balancer) and use the client address it carries',
  ),
  /**
   * With --proxy-protocol: the balancers that must send a header (repeatable). Default:
   * `127.0.0.0/8 ::1/128`.
   */
  proxyFrom: option(cidrs(), {
    flag: '--proxy-from',
    value: 'cidr...',
    default: DEFAULT_PROXY_FROM,
    defaultText: '`127.0.0.0/8 ::1/128`',
    help: 'with --proxy-protocol: the balancers that must send a header (repeatable)',
  }),
  // identity
  /**
   * Admit client certificates with this subject CN (repeatable; a client passes if any `--allow-*`
   * matches; none = every certificate from the CA). Default: any.
   */
  allowCn: option(names(NAME), {
    flag: '--allow-cn',
    value: 'name...',
    default: undefined,
    defaultText: 'any',
    help: 'admit client certificates with this subject CN (repeatable; a client passes if any `--allow-*` matches; none = every certificate from the CA)',
  }),
  /** Admit client certificates with this subject OU (repeatable). Default: any. */
  allowOu: option(names(NAME), {
    flag: '--allow-ou',
    value: 'name...',
    default: undefined,
    defaultText: 'any',
    help: 'admit client certificates with this subject OU (repeatable)',
  }),
  /**
   * Admit client certificates with this DNS SAN (repeatable; case-insensitive, no wildcards).
   * Default: any.
   */
  allowDns: option(names(DNS_NAME), {
    flag: '--allow-dns',
    value: 'name...',
    default: undefined,
    defaultText: 'any',
    help: 'admit client certificates with this DNS SAN (repeatable; case-insensitive, no wildcards)',
  }),
  /**
   * Admit client certificates with this URI SAN, e.g. `spiffe://example.org/api` (repeatable;
   * exact). Default: any.
   */
  allowUri: option(names(URI), {
    flag: '--allow-uri',
    value: 'uri...',
    default: undefined,
    defaultText: 'any',
    help: 'admit client certificates with this URI SAN, e.g. `spiffe://example.org/api` (repeatable; exact)',
  }),
  /**
   * Most sessions at once with one client certificate; past it `FAIL` before HELLO (0 = no limit).
   * Default: `0` (no limit).
   */
  maxPerIdentity: option(integer(0, LIMIT), {
    flag: '--max-per-identity',
    value: 'n',
    default: 0,
    defaultText: '`0` (no limit)',
    help: 'most sessions at once with one client certificate; past it `FAIL` before HELLO (0 = no limit)',
  }),
  // fleet state
  /**
   * Share failure budgets, `--max-per-*` and the `auto` load across a fleet via Redis/Valkey
   * (`redis://…`, `rediss://`, `valkey://`). Default: none (env `TLSLP_STATE_URL`).
   */
  state: option(text({ test: (s) => parseStateUrl(s) !== null, what: STATE_URL_FORM }), {
    flag: '--state',
    value: 'url',
    default: undefined,
    defaultText: 'none (env `TLSLP_STATE_URL`)',
    help: 'share failure budgets, `--max-per-*` and the `auto` load across a fleet via Redis/Valkey (`redis://…`, `rediss://`, `valkey://`)',
  }),
  /** With --state: key prefix in the store, so several gates can share one. Default: `"tlslp:"`. */
  statePrefix: option(
    text({
      test: (s) => /^[\x21-\x7e]{1,64}$/.test(s),
      what: '1..64 printable characters without spaces',
    }),
    {
      flag: '--state-prefix',
      value: 'prefix',
      default: 'tlslp:',
      help: 'with --state: key prefix in the store, so several gates can share one',
    },
  ),
  /**
   * Largest CRL file accepted (bytes); a bigger one is refused at start and on reload. Default:
   * `67108864` (64 MiB).
   */
  maxCrlBytes: option(integer(1024, 2 ** 31 - 1), {
    flag: '--max-crl-bytes',
    value: 'bytes',
    default: 64 * 1024 * 1024,
    defaultText: '`67108864` (64 MiB)',
    help: 'largest CRL file accepted (bytes); a bigger one is refused at start and on reload',
  }),
  /** Log a one-line summary of the counters this often (0 = never). Default: `0` (never). */
  statsIntervalMs: option(seconds({ zero: true }), {
    flag: '--stats-interval',
    value: 'seconds',
    default: 0,
    defaultText: '`0` (never)',
    help: 'log a one-line summary of the counters this often (0 = never)',
  }),
  /** Body requests per session in normal mode. Default: `20`. */
  bodyRequests: option(integer(0, LIMIT), {
    default: 20,
    help: 'body requests per session in normal mode',
  }),
  /**
   * Never draw the protocol's simulated `FAIL <random>` (about 9 sessions in 10 end in it by
   * default): every good session ends in DONE/OK, so a client's exit status tells a health check
   * the truth. Default: FAIL drawn.
   */
  simulateFailures: option(toggle(), {
    // commander reads `--no-x` alone as x, true unless the flag is given.
    flag: '--no-simulate-failures',
    default: true,
    defaultText: 'FAIL drawn',
    help: "never draw the protocol's simulated `FAIL <random>` (about 9 sessions in 10 end in it by default): every good session ends in DONE/OK, so a client's exit status tells a health check the truth",
  }),
} as const;

/** What `tlslp-server` reads beyond the library's options: the CLI's own table. */
export const SERVER_CLI_OPTIONS = {
  config: CONFIG_ENTRY,
  serverCert: option(text(), {
    flag: '--server-cert',
    value: 'file',
    default: CERT_PATHS.serverCert,
    help: 'server certificate (PEM)',
  }),
  serverKey: option(text(), {
    flag: '--server-key',
    value: 'file',
    default: CERT_PATHS.serverKey,
    help: 'server private key (PEM)',
  }),
  caCert: option(text(), {
    flag: '--ca-cert',
    value: 'file',
    default: CERT_PATHS.caCert,
    help: 'CA certificate that issues client certificates (PEM)',
  }),
  ...LOG_ENTRIES,
  stateCa: option(text(), {
    flag: '--state-ca',
    value: 'file',
    default: undefined,
    defaultText: 'system CAs',
    help: 'with a rediss:// --state: CA certificate (PEM) to check the store against',
  }),
  // certificate reload and revocation
  crl: option(text(), {
    flag: '--crl',
    value: 'file',
    default: undefined,
    defaultText: 'none',
    help: 'CRL of the CA (PEM, e.g. the `ca_crl.pem` of `tlslp certs revoke`): a revoked client certificate fails its handshake (`revoked`); reread on reload',
  }),
  reloadIntervalMs: option(seconds({ zero: true }), {
    flag: '--reload-interval',
    value: 'seconds',
    default: 0,
    defaultText: '`0` (off)',
    help: 'reread the certificate, key, CA and CRL this often; changed files serve new connections, sessions in flight go on (SIGHUP does it at once)',
  }),
  shutdownGraceMs: option(seconds(), {
    flag: '--shutdown-grace',
    value: 'seconds',
    default: 10_000,
    help: 'on SIGINT/SIGTERM, time sessions get to finish; a second signal exits at once',
  }),
  workers: option(orWord('auto', integer(1, 256)), {
    flag: '--workers',
    value: 'n',
    default: 1,
    help: 'server processes sharing the port (`node:cluster`); `auto` = one per core',
  }),
  metricsPort: option(integer(0, 65535), {
    flag: '--metrics-port',
    value: 'port',
    default: undefined,
    defaultText: 'off',
    help: 'serve Prometheus metrics at `/metrics`',
  }),
  metricsHost: option(text(), {
    flag: '--metrics-host',
    value: 'host',
    default: '127.0.0.1',
    help: 'interface for `/metrics` (and its `/healthz`, `/readyz`); keep it on loopback and give a balancer `--health-port`',
  }),
  healthPort: option(integer(0, 65535), {
    flag: '--health-port',
    value: 'port',
    default: undefined,
    defaultText: 'off',
    help: 'serve only `/healthz` and `/readyz` here, for a balancer, while `/metrics` stays on loopback',
  }),
  healthHost: option(text(), {
    flag: '--health-host',
    value: 'host',
    default: '127.0.0.1',
    help: 'interface for the health endpoint (e.g. the address the balancer reaches)',
  }),
  quiet: switchEntry(
    '--quiet',
    'no per-session line on the terminal (on a TTY the server prints `#12 127.0.0.1 done in 0.4 s (n_bits 20, 0.2 s WORK)` per session)',
  ),
  /** Check the configuration, TLS files and ports, print the effective policy, and exit. */
  check: switchEntry(
    '--check',
    'as `nginx -t`: check flags, `--config`, TLS files and CRL, bind-test the ports, print the effective policy; exit 0, or 2 and the problem',
  ),
} as const;

/** Every option of `tlslp-server`, the library's and the CLI's, in `--help` order. */
export const SERVER_OPTIONS = commandTable(SERVER_LIB_OPTIONS, SERVER_CLI_OPTIONS, [
  'config',
  'host',
  'port',
  'serverCert',
  'serverKey',
  'caCert',
  'workTimeoutMs',
  'otherTimeoutMs',
  'handshakeTimeoutMs',
  'insecure',
  'token',
  'randomString',
  'nBits',
  'minBits',
  'maxBits',
  'logLevel',
  'logFormat',
  'logFile',
  'tutorial',
  'maxConnections',
  'maxPerIp',
  'maxHandshakes',
  'maxHandshakesPerIp',
  'maxHandshakeBytes',
  'maxChainDepth',
  'maxHandshakeFailuresPerIp',
  'proxyProtocol',
  'proxyFrom',
  'allowCn',
  'allowOu',
  'allowDns',
  'allowUri',
  'maxPerIdentity',
  'state',
  'statePrefix',
  'stateCa',
  'crl',
  'maxCrlBytes',
  'reloadIntervalMs',
  'shutdownGraceMs',
  'workers',
  'metricsPort',
  'metricsHost',
  'healthPort',
  'healthHost',
  'statsIntervalMs',
  'quiet',
  'bodyRequests',
  'simulateFailures',
  'check',
]);

type Table = typeof SERVER_LIB_OPTIONS;
type Lib = keyof Table;
type CliTable = typeof SERVER_CLI_OPTIONS;

/** The options of {@link TlslpServer} that come from the table, every one optional. */
export type ServerTableOptions = InputOf<Table, Lib>;

/**
 * The table's options once resolved: defaults filled; `nBits: 'auto'` turned into the
 * `adaptive` bounds (and `nBits` their lowest).
 */
export interface ResolvedServerTable extends Omit<
  ResolvedOf<Table, Lib>,
  'nBits' | 'minBits' | 'maxBits'
> {
  /** WORK difficulty of new connections (the lowest, under adaptive difficulty). */
  readonly nBits: number;
  /** Adaptive difficulty, when on. */
  readonly adaptive?: AdaptiveOptions;
}

/** What {@link resolveServerOptions} gives for `O`: its other fields kept as they are. */
export type ResolvedServerOptions<O> = Omit<O, Lib | 'adaptive'> & ResolvedServerTable;

const LIB = keysOf(SERVER_LIB_OPTIONS);
const CLI_ONLY = keysOf(SERVER_CLI_OPTIONS);

/**
 * Fill the server's defaults and check every value, and the options against each other:
 * `minBits`/`maxBits` only with `nBits: 'auto'`, `minBits <= maxBits`, no adaptive
 * difficulty in tutorial mode, no allow-lists or per-identity limit in insecure mode.
 * @throws ConfigError naming the option at fault (its `option` field too).
 */
export function resolveServerOptions<O extends ServerTableOptions & { adaptive?: AdaptiveOptions }>(
  options: O,
): ResolvedServerOptions<O> {
  const t = resolveEntries(SERVER_LIB_OPTIONS, LIB, options);
  const auto = t.nBits === 'auto';
  for (const name of ['minBits', 'maxBits'] as const) {
    if (!auto && options[name] !== undefined)
      throw new ConfigError('TLSLP_ERR_BITS_WITHOUT_AUTO', { option: name, autoOption: 'nBits' });
  }
  if (auto && t.minBits > t.maxBits)
    throw new ConfigError('TLSLP_ERR_BAD_ADAPTIVE_RANGE', {
      option: 'minBits',
      min: t.minBits,
      maxOption: 'maxBits',
      max: t.maxBits,
    });
  const adaptive = auto
    ? { ...options.adaptive, minBits: t.minBits, maxBits: t.maxBits }
    : options.adaptive;
  if (adaptive && t.tutorial)
    throw new ConfigError('TLSLP_ERR_TUTORIAL_ADAPTIVE', { option: 'nBits' });
  if (t.insecure)
    for (const name of ['allowCn', 'allowOu', 'allowDns', 'allowUri', 'maxPerIdentity'] as const) {
      const v = t[name];
      if (v === undefined || v === 0 || (Array.isArray(v) && v.length === 0)) continue;
      throw new ConfigError('TLSLP_ERR_IDENTITY_INSECURE', {
        option: name,
        insecureOption: 'insecure',
      });
    }
  const { minBits: _min, maxBits: _max, ...resolved } = { ...options, ...t };
  return {
    ...resolved,
    nBits: t.nBits === 'auto' ? t.minBits : t.nBits,
    ...(adaptive ? { adaptive } : {}),
  } as ResolvedServerOptions<O>;
}

/** What `tlslp-server` reads beyond the library's options. */
export type ServerCommandOptions = InputOf<CliTable, keyof CliTable>;

/**
 * Fill the defaults of the CLI's own server options, `workers: 'auto'` as the number of
 * cores, and check them.
 * @throws ConfigError naming the option at fault.
 */
export function resolveServerCommand(
  values: ServerCommandOptions,
  tutorial: boolean,
): Omit<ResolvedOf<CliTable, keyof CliTable>, 'workers'> & { readonly workers: number } {
  const c = resolveEntries(SERVER_CLI_OPTIONS, CLI_ONLY, values);
  const workers = c.workers === 'auto' ? availableParallelism() : c.workers;
  if (tutorial && workers > 1)
    throw new ConfigError('TLSLP_ERR_TUTORIAL_WORKERS', { option: 'workers' });
  return { ...c, workers };
}
