/**
 * The tlslp server: accepts mutual-TLS connections and runs one session on each, many at
 * a time. Hostile or broken connections are logged, counted and dropped; they never stop
 * the server.
 * @module
 */
import { createHash, constants as cryptoConstants, type X509Certificate } from 'node:crypto';
import { once, setMaxListeners } from 'node:events';
import net, { type AddressInfo } from 'node:net';
import tls from 'node:tls';
import {
  resolveServerOptions,
  type ResolvedServerTable,
  type ServerTableOptions,
} from '../options/server.js';
import { ConfigError } from '../errors/index.js';
import { createNullLogger, type Logger } from '../logging/logger.js';
import { CrlProblem, readCrlsOffThread, type CrlInfo } from '../tls/crl.js';
import {
  assertInsecureAllowed,
  caBundle,
  checkServerTls,
  crlExpiryWarning,
  crlNextUpdate,
  CRL_WARNING_DAYS,
  type ServerTlsCheck,
  type ServerTlsLabels,
  type TlsMaterial,
} from '../tls/material.js';
import type { Revocation } from './client-cert.js';
import { SocketLineChannel, listenError } from '../transport/channel.js';
import { hostPort } from '../text/address.js';
import { AdaptiveDifficulty, type AdaptiveOptions } from './adaptive.js';
import { IdentityDifficulty } from './identity-load.js';
import { publish, type TlsPart } from './events.js';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { StoreBackend } from '../state/backend.js';
import { FleetState } from '../state/fleet.js';
import { createRedisStore } from '../state/redis.js';
import { parseStateUrl } from '../state/url.js';
import { Gate, type AdmittedConnection } from './gate.js';
import type { ClientIdentity } from './identity.js';
import { trackMetrics, type Readiness, type ServerMetrics } from './metrics.js';
import { createPlanner, type SessionPlanner } from './plans.js';
import { ProxyTrust } from './proxy.js';
import { sessionContext, trackLog } from './server-log.js';
import { runServerSession, type SessionLog, type SessionOutcome } from './session.js';
import { emptyStats, trackStats, type ServerStats } from './stats.js';
import type { WarningLimitOptions } from './warn-limit.js';
import {
  RELOADABLE_SERVER_OPTIONS,
  diffReloadable,
  reloadableValues,
  type OptionChange,
  type ServerReconfiguration,
} from './reconfigure.js';

export type { ServerStats } from './stats.js';

/** What {@link TlslpServer.reload} did. */
export interface TlsReloadResult {
  /**
   * `reloaded`: new handshakes use the new material (sessions in flight go on with theirs);
   * `unchanged`: the material is the one in use (nothing done); `failed`: it is unusable and
   * the material in use stays.
   */
  outcome: 'reloaded' | 'unchanged' | 'failed';
  /** With `failed`: the very same material failed the time before (its error was logged then). */
  repeated: boolean;
  /** With `failed`: why, naming the file (or option) at fault. */
  error?: ConfigError;
  /** The parts that differ from the material in use before the call. */
  changed: TlsPart[];
  /** Serial number of the server certificate in use after the call (uppercase hex). */
  serverSerial: string;
  /** With `reloaded`: the serial number of the one before. */
  previousSerial?: string;
  /** When the server certificate in use expires. */
  notAfter: Date;
  /** Revoked serial numbers the CRL in use lists (undefined: no CRL). */
  revoked?: number;
  /** Warnings about the material in use (it expires within 14 days), logged too when due. */
  warnings: string[];
}

const TLS_PARTS = ['cert', 'key', 'ca', 'crl'] as const satisfies readonly TlsPart[];
const DAY_MS = 86_400_000;

function digests(material: TlsMaterial): Record<TlsPart, string> {
  const out = {} as Record<TlsPart, string>;
  for (const part of TLS_PARTS) {
    const value = material[part];
    out[part] = value === undefined ? '' : createHash('sha256').update(value).digest('hex');
  }
  return out;
}

/** The earliest end of the CA bundle's certificates. */
function caNotAfter(cas: readonly X509Certificate[]): Date | undefined {
  let min: Date | undefined;
  for (const ca of cas) {
    const to = new Date(ca.validTo);
    if (!min || to < min) min = to;
  }
  return min;
}

/**
 * Options of {@link TlslpServer}. Those of the server's option table (host, port, nBits and
 * its adaptive bounds, token, randomString, tutorial, insecure, timeouts, limits,
 * statsIntervalMs, bodyRequests, simulateFailures: see `SERVER_OPTIONS`, whose help texts say what each does)
 * are checked and defaulted by `resolveServerOptions`; `nBits: 'auto'` makes the
 * n_bits follow the load between `minBits` and `maxBits`.
 */
export interface ServerOptions extends ServerTableOptions {
  /** Server certificate and key, and the CA that issues client certificates. */
  tls: TlsMaterial;
  /** How many warnings of one kind strangers can cause per second, and how often the rest are summed up. */
  warningLimit?: WarningLimitOptions;
  /** Where the server logs (default: nowhere). See {@link createLogger}. */
  logger?: Logger;
  /** Called when a session ends. */
  onSession?: (report: SessionReport) => void;
  /**
   * Adaptive difficulty with its tuning: the n_bits of new connections follows the load
   * between `minBits` and `maxBits`; `nBits` is then ignored. `nBits: 'auto'` sets the
   * bounds from `minBits`/`maxBits`. See {@link AdaptiveDifficulty}.
   */
  adaptive?: AdaptiveOptions;
  /** How often the adaptive controller looks at the load (default 1000 ms). */
  adaptiveIntervalMs?: number;
  /** Prometheus metrics to update (see {@link ServerMetrics} and `serveMetrics`). */
  metrics?: ServerMetrics;
  /**
   * A store to share the fleet's limits through, other than a `state` URL: the cluster
   * primary for `--workers N` (see `PrimaryStore`), or one of the caller's own.
   */
  stateStore?: StoreBackend;
  /** With a `rediss://` `state`: the CA certificate (PEM) the store's certificate is checked against. */
  stateCa?: string;
  /**
   * What to call each TLS file in messages, e.g. `--crl certificates/ca_crl.pem` (the CLI:
   * its flags and paths); {@link TlslpServer.reload} takes its own.
   */
  tlsLabels?: ServerTlsLabels;
}

/** {@link ServerOptions} with every default filled in, as {@link TlslpServer.options} holds them. */
export interface ResolvedServerOptions
  extends Omit<ServerOptions, keyof ServerTableOptions | 'adaptive'>, ResolvedServerTable {}

/** What the server reports of one finished session. */
export interface SessionReport {
  /** Session number, from 1, in the order connections completed their handshake. */
  id: number;
  /** The client's address and port, e.g. `127.0.0.1:53122` or `[::1]:53122`. */
  remoteAddress: string;
  /** Time from the TLS handshake to the end of the session. */
  durationMs: number;
  /** The WORK difficulty this session was asked. */
  nBits: number;
  /** Who the client is: its certificate's subject CN (escaped) and fingerprint; absent in insecure mode. */
  identity?: ClientIdentity;
  /** Time from WORK sent to a valid suffix, when the client solved it. */
  workMs?: number;
  /** How the session ended. */
  result: SessionOutcome;
}

/**
 * A tlslp server: mutual TLS (or insecure TLS on loopback), one session per connection,
 * many connections at once. Create it, {@link TlslpServer.listen | listen}, and
 * {@link TlslpServer.close | close} it when done.
 *
 * @example Serve with certificates from files, as tlslp-server does
 * ```ts
 * import { TlslpServer, createLogger, readTlsFiles } from 'tlslp';
 *
 * const tls = await readTlsFiles({
 *   cert: { path: 'certificates/server-cert.pem', flag: '--server-cert' },
 *   key: { path: 'certificates/server-key.pem', flag: '--server-key' },
 *   ca: { path: 'certificates/ca_cert.pem', flag: '--ca-cert' },
 * });
 * const server = new TlslpServer({
 *   host: 'localhost',
 *   port: 1234,
 *   nBits: 24,
 *   tls,
 *   logger: createLogger({ name: 'tlslp.server', file: null }), // warnings to stderr only
 *   onSession: (r) => console.log(`#${r.id} ${r.remoteAddress}: ${r.result.outcome}`),
 * });
 * const { port } = await server.listen();
 * console.log(`listening on ${port}`);
 * process.once('SIGTERM', () => void server.close(10_000)); // 10 s grace for sessions
 * await server.finished;
 * ```
 */
export class TlslpServer {
  /** The options with every default filled in. */
  readonly options: ResolvedServerOptions;
  /** Live counters (connections, sessions by outcome, handshake failures, refusals). */
  readonly stats: ServerStats;
  private readonly logger: Logger;
  /** Accepts TCP connections; TLS starts only once a connection is admitted. */
  private readonly listener: net.Server;
  /** Holds the TLS settings and runs the handshakes; never listens itself. */
  private readonly tlsServer: tls.Server;
  /**
   * The CA certificates the gate judges chains with: one array for the server's life, its
   * contents swapped on reload (the gate keeps the reference).
   */
  private readonly trustedCas: X509Certificate[];
  /** The TLS material in use: its digests and what checking it found. */
  private tlsInUse: { digests: Record<TlsPart, string>; check: ServerTlsCheck };
  /** Digests of the last material that failed to load, so a file left broken is logged once. */
  private lastFailed = '';
  /** When the expiry warning was last logged (once a day at most for the same certificate). */
  private expiryWarnedAt = -Infinity;
  /** The CRLs the gate looks client chains up in; `crls` is replaced on reload (the old index freed). */
  private readonly revocation: Revocation = { crls: [] };
  /** What the CRL file is called in messages. */
  private crlLabel: string;
  /** The CRL's expiry timers (the daily warning, the ERROR at its nextUpdate). */
  private readonly crlTimers: NodeJS.Timeout[] = [];
  private readonly gate: Gate;
  /** The failure budget, leases and load, this server's own or shared with a fleet. */
  private readonly fleet: FleetState;
  private readonly planner: SessionPlanner;
  private readonly sessions = new Set<Promise<void>>();
  private readonly adaptive: AdaptiveDifficulty | null;
  /** Each identity's own n_bits on top of the adaptive one (adaptive, with certificates). */
  private readonly identities: IdentityDifficulty | null;
  /** n_bits asked of new connections now. */
  private nBits: number;
  private readonly timers: NodeJS.Timeout[] = [];
  /** Unsubscribe the stats, metrics and log subscribers. */
  private untrack: (() => void) | null = null;
  private readonly shutdown = new AbortController();
  /** close() was called: sessions in flight may finish, new ones are not wanted. */
  private draining = false;
  private nextId = 1;
  private singleServed = false;
  private resolveFinished!: () => void;
  /** The options as given (with {@link reconfigure}'s changes): what a reconfiguration re-resolves. */
  private given: ServerOptions;
  /** Resolves when the server has stopped (after {@link close}, or after the tutorial session). */
  readonly finished: Promise<void>;

  constructor(options: ServerOptions) {
    this.options = resolveServerOptions(options);
    this.given = options;
    if (options.insecure) assertInsecureAllowed(this.options.host);
    if (!options.tls.cert || !options.tls.key)
      throw new ConfigError(
        'TLSLP_ERR_NO_CERT',
        { who: 'the server', needs: 'a certificate and a key (tls.cert, tls.key)' },
        { option: options.tls.cert ? 'tls.key' : 'tls.cert' },
      );
    // Refuse now what would fail every handshake later (a key OpenSSL silently drops, …).
    const check = checkServerTls(options.tls, options.tlsLabels, new Date(), {
      maxCrlBytes: this.options.maxCrlBytes,
    });
    this.crlLabel = options.tlsLabels?.crl ?? 'tls.crl';
    this.revocation.crls = check.crls;
    if (!options.insecure && !options.tls.ca) {
      throw new ConfigError('TLSLP_ERR_NO_CA', { option: 'tls.ca' });
    }
    this.tlsInUse = { digests: digests(options.tls), check };
    this.trustedCas = [...check.caCerts];
    // Whoever made the material has seen checkServerTls's warnings: the next is due in a day.
    if (check.warnings.length > 0) this.expiryWarnedAt = Date.now();
    this.logger = options.logger ?? createNullLogger('tlslp.server');
    const { adaptive } = this.options;
    this.adaptive = adaptive ? new AdaptiveDifficulty(adaptive) : null;
    this.identities = adaptive && !this.options.insecure ? new IdentityDifficulty(adaptive) : null;
    this.nBits = this.adaptive ? this.adaptive.current : this.options.nBits;
    this.stats = emptyStats(this.nBits);
    options.metrics?.nBits.set(this.nBits);
    if (options.metrics) setExpiryGauges(options.metrics, check);
    this.planner = createPlanner(this.options);
    this.finished = new Promise((resolve) => (this.resolveFinished = resolve));
    // Every session's pending read listens on this one signal.
    setMaxListeners(0, this.shutdown.signal);

    try {
      this.tlsServer = tls.createServer({
        ...contextOptions(options.tls),
        requestCert: !options.insecure,
        // OpenSSL then refuses a client without a certificate itself, with the TLS alert
        // (certificate_required, TLS 1.3; handshake_failure, TLS 1.2). A chain it cannot verify
        // Node closes after the handshake, without an alert (none can be sent from Node's
        // API); either way the gate logs and counts the reason (tlsClientError), and judges
        // the rest itself (the CRL index, depth, key strength), telling the client in a FAIL.
        rejectUnauthorized: true,
        // A backstop only: the gate's own deadline comes first.
        handshakeTimeout: this.options.handshakeTimeoutMs * 2 + 1000,
      });
    } catch (err) {
      throw new ConfigError(
        'TLSLP_ERR_BAD_TLS_MATERIAL',
        { side: 'server', reason: (err as Error).message, options: 'tls.cert, tls.key and tls.ca' },
        { cause: err, option: 'tls' },
      );
    }
    this.fleet = this.createFleet();
    this.gate = new Gate(
      this,
      {
        ...this.options,
        insecure: this.options.insecure,
        proxy: this.options.proxyProtocol ? new ProxyTrust(this.options.proxyFrom) : null,
        fleetIdentityBits: this.identities !== null,
      },
      this.tlsServer,
      this.trustedCas,
      (socket, conn) => this.startSession(socket, conn),
      this.fleet,
      this.revocation,
    );
    this.listener = net.createServer({ noDelay: true }, (raw) => this.gate.accept(raw));
  }

  /** The fleet state: local only, or through the `state` URL or `stateStore`. */
  private createFleet(): FleetState {
    const o = this.options;
    const metrics = o.metrics;
    const url = o.state === undefined ? null : parseStateUrl(o.state);
    const prefix = o.statePrefix;
    const backend =
      o.stateStore ??
      (url
        ? (onError: (err: Error) => void) =>
            createRedisStore(url, { prefix, ...(o.stateCa ? { ca: o.stateCa } : {}), onError })
        : null);
    return new FleetState({
      backend,
      failuresPerMinute: o.maxHandshakeFailuresPerIp,
      serverId: `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`,
      onStatus: (up, detail) => {
        this.logger.warning(detail);
        metrics?.stateUp.set(up ? 1 : 0);
      },
      onFallback: (op) => metrics?.stateFallbacks.inc({ op }),
    });
  }

  /**
   * Swap in new TLS material (certificate, key, CA bundle, CRL) for the handshakes from now
   * on; sessions in flight go on with theirs. Material equal to the one in use (same bytes)
   * is a no-op. Material that does not check out (a file that does not parse, a key that
   * does not match the certificate, a CRL of another CA) leaves the one in use, and is
   * logged once as an ERROR (not again while the same material keeps failing).
   *
   * Logs an INFO line on a reload, and the expiry WARNING when the certificate in use ends
   * within 14 days (on a reload, and once a day at most otherwise); publishes `tlsReloaded`
   * (see `SERVER_CHANNELS`), which the metrics follow.
   * @param material the whole material, as the server was given it (`tls`)
   * @param labels what to call each file in messages (the CLI: its flags and paths)
   */
  reload(material: TlsMaterial, labels?: ServerTlsLabels): TlsReloadResult {
    return this.apply(material, labels);
  }

  /**
   * {@link reload}, with a changed CRL read and indexed in a worker thread: a CRL of 800k
   * entries (38 MB) is swapped in without stalling the event loop. The CLI reloads this way.
   */
  async reloadAsync(material: TlsMaterial, labels?: ServerTlsLabels): Promise<TlsReloadResult> {
    const { crl, ca } = material;
    const next = digests(material);
    let crls: CrlInfo[] | CrlProblem | undefined;
    if (
      crl !== undefined &&
      ca !== undefined &&
      next.crl !== this.tlsInUse.digests.crl &&
      Buffer.byteLength(crl) <= this.options.maxCrlBytes
    )
      try {
        crls = await readCrlsOffThread(crl, caBundle(ca, labels ?? { ca: 'tls.ca' }));
      } catch (err) {
        // A CA bundle that does not parse, or a worker that failed: reload() says why.
        if (err instanceof CrlProblem) crls = err;
      }
    return this.apply(material, labels, crls, next);
  }

  /**
   * Change the reloadable options (see `RELOADABLE_SERVER_OPTIONS`: the allow-lists, the
   * limits, `nBits` while fixed, `minBits`/`maxBits` while `auto`) for the connections from
   * now on; sessions in flight keep the policy they were admitted with. The new values are
   * checked as the constructor checks them, all together: a bad one changes nothing. A key
   * given as `undefined` goes back to its default.
   * @returns what changed, old and new value per option (none: nothing to do)
   * @throws ConfigError naming the option: a bad value, an option that is not reloadable, or
   *   `nBits` switched between `auto` and a number (a restart does that)
   */
  reconfigure(changes: ServerReconfiguration): OptionChange[] {
    const input: Record<string, unknown> = { ...this.given };
    for (const [key, value] of Object.entries(changes)) {
      if (!(RELOADABLE_SERVER_OPTIONS as readonly string[]).includes(key))
        throw new ConfigError('TLSLP_ERR_NOT_RELOADABLE', {
          option: key,
        });
      input[key] = value;
    }
    const next = resolveServerOptions(input as unknown as ServerOptions);
    const before = reloadableValues(this.options);
    const after = reloadableValues(next);
    if ((before.nBits === 'auto') !== (after.nBits === 'auto'))
      throw new ConfigError('TLSLP_ERR_NOT_RELOADABLE', {
        option: 'nBits',
        from: String(before.nBits),
        to: String(after.nBits),
      });
    const changed = diffReloadable(before, after);
    if (changed.length === 0) return changed;
    this.given = input as unknown as ServerOptions;
    (this as { options: ResolvedServerOptions }).options = next;
    this.gate.reconfigure(next);
    this.fleet.setFailuresPerMinute(next.maxHandshakeFailuresPerIp);
    if (next.adaptive) {
      this.adaptive?.setBounds(next.adaptive.minBits, next.adaptive.maxBits);
      this.identities?.setMaxBits(next.adaptive.maxBits);
      if (this.adaptive) this.nBits = this.adaptive.current;
    } else this.nBits = next.nBits;
    this.stats.nBits = this.nBits;
    next.metrics?.nBits.set(this.nBits);
    return changed;
  }

  private apply(
    material: TlsMaterial,
    labels: ServerTlsLabels | undefined,
    read?: CrlInfo[] | CrlProblem,
    next: Record<TlsPart, string> = digests(material),
  ): TlsReloadResult {
    const now = new Date();
    const inUse = this.tlsInUse;
    // The same CRL of the same CA as in use: its index is kept, not built again.
    const crls =
      read ??
      (next.crl !== '' && next.crl === inUse.digests.crl && next.ca === inUse.digests.ca
        ? inUse.check.crls
        : undefined);
    const changed = TLS_PARTS.filter((p) => next[p] !== inUse.digests[p]);
    const serverSerial = inUse.check.cert.serialNumber;
    const current = {
      serverSerial,
      notAfter: inUse.check.notAfter,
      ...(inUse.check.crls.length > 0 ? { revoked: countRevoked(inUse.check) } : {}),
    };
    if (changed.length === 0) {
      const warnings = this.expiryWarnings(inUse.check, now, false);
      return { outcome: 'unchanged', repeated: false, changed, ...current, warnings };
    }
    const key = TLS_PARTS.map((p) => next[p]).join(':');
    let check: ServerTlsCheck;
    try {
      if (!material.cert || !material.key)
        throw new ConfigError(
          'TLSLP_ERR_NO_CERT',
          { who: 'the server', needs: 'a certificate and a key (tls.cert, tls.key)' },
          { option: material.cert ? 'tls.key' : 'tls.cert' },
        );
      check = checkServerTls(material, labels, now, {
        maxCrlBytes: this.options.maxCrlBytes,
        ...(crls ? { crls } : {}),
      });
      if (!this.options.insecure && !material.ca)
        throw new ConfigError('TLSLP_ERR_NO_CA', { option: 'tls.ca' });
      try {
        this.tlsServer.setSecureContext(contextOptions(material));
      } catch (err) {
        throw new ConfigError(
          'TLSLP_ERR_BAD_TLS_MATERIAL',
          {
            side: 'server',
            reason: (err as Error).message,
            options: 'tls.cert, tls.key and tls.ca',
          },
          { cause: err, option: 'tls' },
        );
      }
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      const repeated = key === this.lastFailed;
      this.lastFailed = key;
      if (!repeated) {
        this.logger.error(`TLS reload failed, still serving the previous material: ${err.message}`);
        publish('tlsReloaded', {
          server: this,
          ok: false,
          changed,
          serverSerial,
          caSerials: inUse.check.caCerts.map((c) => c.serialNumber),
          serverNotAfter: inUse.check.notAfter,
          error: err,
        });
      }
      const warnings = this.expiryWarnings(inUse.check, now, false);
      return { outcome: 'failed', repeated, error: err, changed, ...current, warnings };
    }
    this.lastFailed = '';
    this.tlsInUse = { digests: next, check };
    this.trustedCas.splice(0, this.trustedCas.length, ...check.caCerts);
    this.revocation.crls = check.crls;
    if (labels?.crl) this.crlLabel = labels.crl;
    if (changed.includes('crl') || changed.includes('ca')) this.watchCrl(now, true);
    const revoked = check.crls.length > 0 ? countRevoked(check) : undefined;
    const newSerial = check.cert.serialNumber;
    this.logger.info(
      `TLS material reloaded (${changed.join(', ')} changed): server certificate ${newSerial === serverSerial ? newSerial : `${newSerial} (was ${serverSerial})`}, valid until ${check.notAfter.toISOString()}` +
        (revoked !== undefined ? `; CRL lists ${revoked} revoked` : '') +
        '; new connections use it',
    );
    const caEnd = caNotAfter(check.caCerts);
    publish('tlsReloaded', {
      server: this,
      ok: true,
      changed,
      serverSerial: newSerial,
      previousSerial: serverSerial,
      caSerials: check.caCerts.map((c) => c.serialNumber),
      serverNotAfter: check.notAfter,
      ...(caEnd ? { caNotAfter: caEnd } : {}),
      ...(revoked !== undefined ? { revoked } : {}),
      crlNextUpdate: crlNextUpdate(check.crls) ?? null,
    });
    const warnings = this.expiryWarnings(check, now, changed.includes('cert'));
    return {
      outcome: 'reloaded',
      repeated: false,
      changed,
      serverSerial: newSerial,
      previousSerial: serverSerial,
      notAfter: check.notAfter,
      ...(revoked !== undefined ? { revoked } : {}),
      warnings,
    };
  }

  /**
   * Arm the CRL's timers: from 7 days before its nextUpdate a WARNING a day, and at its
   * nextUpdate one ERROR naming the file and the fix. Past it every client is refused (fail
   * closed, counted as `crl_expired`) until a fresh CRL is reloaded.
   */
  private watchCrl(now: Date, warnNow: boolean): void {
    for (const t of this.crlTimers.splice(0)) clearTimeout(t);
    const next = crlNextUpdate(this.revocation.crls);
    if (!next || this.draining) return;
    const label = this.crlLabel;
    const warnFrom = next.getTime() - CRL_WARNING_DAYS * DAY_MS;
    const warn = (): void => {
      const at = new Date();
      if (at >= next) return;
      this.logger.warning(crlExpiryWarning(label, next, at));
      this.crlAt(at.getTime() + DAY_MS, warn);
    };
    // Within the 7 days already: a reload warns now; at start the maker of the material has
    // had checkServerTls's warning (the CLI logs it), so the next is a day on.
    if (now.getTime() < warnFrom) this.crlAt(warnFrom, warn);
    else if (warnNow) warn();
    else this.crlAt(now.getTime() + DAY_MS, warn);
    this.crlAt(next.getTime(), () =>
      this.logger.error(
        `${label}: the CRL passed its nextUpdate (${next.toISOString()}): every client is refused from now on (crl_expired) until a fresh CRL is reloaded; re-sign it with tlslp certs crl --refresh (or the CA's own tool), then SIGHUP`,
      ),
    );
  }

  /** Call `fn` at the time `at` (ms since the epoch), however far off (setTimeout stops at 24.8 days). */
  private crlAt(at: number, fn: () => void): void {
    const wait = at - Date.now();
    const step = Math.min(Math.max(0, wait), MAX_TIMER_MS);
    this.crlTimers.push(
      setTimeout(() => (wait > MAX_TIMER_MS ? this.crlAt(at, fn) : fn()), step).unref(),
    );
  }

  /** The expiry warnings of `check`, logged when a new certificate came or a day has passed. */
  private expiryWarnings(check: ServerTlsCheck, now: Date, fresh: boolean): string[] {
    const warnings = check.warnings;
    // The CRL's own warning is watchCrl's to log, on its own clock.
    const crlWarning = `${this.crlLabel}: the CRL's nextUpdate`;
    const own = warnings.filter((w) => !w.startsWith(crlWarning));
    if (own.length > 0 && (fresh || now.getTime() - this.expiryWarnedAt >= DAY_MS)) {
      this.expiryWarnedAt = now.getTime();
      for (const w of own) this.logger.warning(w);
    }
    return warnings;
  }

  /** Run a session on a connection the gate admitted. */
  private startSession(socket: tls.TLSSocket, conn: AdmittedConnection): void {
    const planner = this.planner;
    if (planner.singleSession) {
      if (this.singleServed) {
        socket.destroy();
        return;
      }
      this.singleServed = true;
      // Serve exactly one session: stop accepting now.
      this.listener.close();
    }
    const id = this.nextId++;
    const { ip, peer, identity } = conn;
    const reproducible = planner.reproducibleLog;
    const context = sessionContext(id, peer, reproducible, identity);
    const log: SessionLog = {
      info: (m, f) => this.logger.info(m, { ...context, ...f }),
      debug: (m, f) => this.logger.debug(m, { ...context, ...f }),
      warning: (m, f) => this.logger.warning(m, { ...context, ...f }),
    };
    // After FAIL or DONE/OK the client gets one step deadline (at most 2 s) to close its side.
    const channel = new SocketLineChannel(socket, { lingerMs: this.lingerMs() });
    const plan = planner.plan(
      this.identities?.nBitsFor(identity, this.nBits, conn.fleetExtraBits) ?? this.nBits,
    );
    this.gate.sessionStarted(conn);
    this.adaptive?.arrival(ip);
    if (identity) this.identities?.started(identity);
    publish('sessionStarted', {
      server: this,
      id,
      ip,
      peer,
      nBits: plan.nBits,
      ...(identity ? { identity } : {}),
      protocol: socket.getProtocol() ?? 'TLS',
      reproducible,
    });
    const started = performance.now();
    let workMs: number | undefined;
    plan.onWorkAccepted = (ms) => {
      workMs = ms;
      this.adaptive?.workDone(ip);
      publish('workAccepted', { server: this, id, ms });
    };
    const run = runServerSession(channel, plan, log, this.shutdown.signal).then((result) => {
      const durationMs = performance.now() - started;
      this.gate.sessionEnded(conn, workMs !== undefined);
      if (identity) this.identities?.ended(identity);
      publish('sessionEnded', {
        server: this,
        id,
        ip,
        peer,
        nBits: plan.nBits,
        ...(identity ? { identity } : {}),
        durationMs,
        ...(workMs !== undefined ? { workMs } : {}),
        result,
        reproducible,
      });
      this.options.onSession?.({
        id,
        remoteAddress: peer,
        durationMs: Math.round(durationMs),
        nBits: plan.nBits,
        ...(identity ? { identity } : {}),
        ...(workMs !== undefined ? { workMs: Math.round(workMs) } : {}),
        result,
      });
      if (planner.singleSession) {
        log.info('Tutorial session finished: server stopping');
        void this.close();
      }
    });
    this.sessions.add(run);
    void run.finally(() => this.sessions.delete(run));
  }

  private startTimers(): void {
    const adaptive = this.adaptive;
    const fleet = this.fleet;
    if (adaptive || fleet.shared) {
      const every = this.options.adaptiveIntervalMs ?? 1000;
      let busy = false;
      this.timers.push(
        setInterval(() => {
          // A tick waits on the store at most its deadline; one never overtakes another.
          if (busy) return;
          busy = true;
          void this.tick(every / 1000).finally(() => (busy = false));
        }, every).unref(),
      );
    }
    this.watchCrl(new Date(), false);
    const statsEvery = this.options.statsIntervalMs ?? 0;
    if (statsEvery > 0) {
      this.timers.push(setInterval(() => this.logger.info(this.summary()), statsEvery).unref());
    }
  }

  /**
   * One interval of the load: this server's figures, summed with the fleet's when a store is
   * shared (so every server's n_bits follows the fleet's load), then the controllers.
   */
  private async tick(seconds: number): Promise<void> {
    const adaptive = this.adaptive;
    const inFlight = adaptive
      ? this.gate.weightedSessions(adaptive.perIpWeight)
      : this.gate.inFlight;
    const arrivals = adaptive ? adaptive.takeArrivals(seconds) : 0;
    const identities = this.identities?.snapshot() ?? [];
    const fleet = this.fleet.shared
      ? await this.fleet.report({
          windowMs: Math.max(3000, seconds * 3000),
          inFlight,
          arrivals,
          identities,
        })
      : null;
    if (fleet) this.options.metrics?.fleetServers.set(fleet.servers);
    if (fleet)
      for (const [reason, n] of Object.entries(fleet.refusals))
        this.options.metrics?.fleetRefused.set({ reason }, n);
    if (!adaptive) return;
    const change = adaptive.tick(fleet?.inFlight ?? inFlight, seconds, fleet?.arrivals ?? arrivals);
    if (change) {
      this.nBits = change.to;
      publish('difficultyChanged', { server: this, ...change });
    }
    const ids = this.identities?.tick(
      seconds,
      this.nBits,
      fleet ? { active: fleet.activeIdentities, identities: fleet.identities } : undefined,
    );
    if (ids) publish('identityDifficulty', { server: this, base: this.nBits, ...ids });
  }

  /** A one-line summary of the counters, as the periodic stats line logs it. */
  summary(): string {
    const s = this.stats;
    return (
      `Stats: ${s.inFlight} in flight, ${this.gate.sockets.size} open connections, ${s.sessionsStarted} started, ` +
      `${s.sessionsDone} done, ${s.sessionsFailDrawn} FAIL drawn, ${s.sessionsRejected} rejected, ` +
      `${s.sessionsTransport} transport failures, ${s.handshakeFailures} handshake failures, ${s.refused} refused, n_bits ${s.nBits}`
    );
  }

  /** How long a finished session's socket may take to deliver its last lines and close. */
  private lingerMs(): number {
    return Math.min(this.options.otherTimeoutMs, 2000);
  }

  /** Connections open now (raw TCP, before or after TLS). */
  get openConnections(): number {
    return this.gate.sockets.size;
  }

  /** Subscribe the stats, and the metrics and log when given, to this server's events. */
  private track(): void {
    if (this.untrack) return;
    const stops = [
      trackStats(this, this.stats),
      trackLog(this, this.logger, this.options.warningLimit),
    ];
    if (this.options.metrics) stops.push(trackMetrics(this, this.options.metrics));
    this.untrack = () => {
      for (const stop of stops) stop();
    };
  }

  /**
   * Start listening.
   * @throws TransportError when the address is in use or cannot be bound.
   */
  async listen(): Promise<AddressInfo> {
    const { host, port } = this.options;
    this.track();
    await this.fleet.start();
    const metrics = this.options.metrics;
    if (metrics && this.fleet.shared) metrics.stateUp.set(1);
    else metrics?.registry.removeSingleMetric('tlslp_state_up');
    this.listener.listen(port, host);
    try {
      await Promise.race([
        once(this.listener, 'listening'),
        once(this.listener, 'error').then(([err]) => Promise.reject(err as Error)),
      ]);
    } catch (err) {
      this.untrack?.();
      this.untrack = null;
      await this.fleet.close();
      throw listenError(err, 'server', hostPort(host, port));
    }
    this.listener.on('error', (err) => this.logger.error(`Server error: ${err.message}`));
    const address = this.listener.address() as AddressInfo;
    this.startTimers();
    const mode = this.options.insecure ? 'insecure TLS (no client certificates)' : 'mutual TLS';
    const shared = this.fleet.label ? `; limits shared through ${this.fleet.label}` : '';
    const policy = this.identityPolicy();
    this.logger.info(
      `Listening on ${hostPort(host, address.port)} (${mode}, n_bits ${this.options.nBits}${this.planner.label}${shared})${policy ? `; ${policy}` : ''}`,
    );
    return address;
  }

  /** The bound address, once listening. */
  address(): AddressInfo | null {
    const a = this.listener.address();
    return a && typeof a === 'object' ? a : null;
  }

  /** The identity policy for the start-up line: the operator sees at once who may come in. */
  private identityPolicy(): string {
    return describeIdentityPolicy(this.options, this.tlsInUse.check);
  }

  /** Sessions in progress. */
  get inFlight(): number {
    return this.gate.inFlight;
  }

  /** Whether the server takes new sessions now (the metrics listener's `/readyz`). */
  readiness(): Readiness {
    if (this.draining) return { ready: false, reason: 'draining' };
    if (!this.listener.listening) return { ready: false, reason: 'not listening' };
    if (this.gate.inFlight >= this.options.maxConnections)
      return { ready: false, reason: 'at max-connections' };
    // Without its store a gate still serves, on its own limits: degraded, not down.
    if (this.fleet.up === false)
      return { ready: true, degraded: `state store ${this.fleet.label} down, limits per server` };
    return { ready: true };
  }

  /**
   * Stop accepting; let sessions in progress finish for up to `graceMs` (default 0), then
   * close the rest. Resolves within about `graceMs` + 1 s whatever the peers do (a peer that
   * resets or never closes is cut), and never rejects.
   */
  async close(graceMs = 0): Promise<void> {
    // The linger below ends by then, so a supervisor's grace + 1 s holds.
    const lingerEnd = performance.now() + graceMs + CLOSE_LINGER_MS;
    this.draining = true;
    if (this.listener.listening) this.listener.close();
    this.gate.cutPending();
    if (graceMs > 0 && this.sessions.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled([...this.sessions]),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs))),
      ]);
      clearTimeout(timer);
    }
    for (const t of this.timers.splice(0)) clearInterval(t);
    for (const t of this.crlTimers.splice(0)) clearTimeout(t);
    this.shutdown.abort();
    await Promise.allSettled([...this.sessions]);
    // Every session has written its last line and ended its side; each socket gets the
    // linger to deliver what is queued (a client may have pipelined all its answers) and
    // close, then what is left is cut.
    const sockets = this.gate.sockets;
    if (sockets.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      const wait = Math.min(this.lingerMs() + 100, Math.max(0, lingerEnd - performance.now()));
      await Promise.race([
        Promise.all([...sockets].filter((s) => !s.destroyed).map(closed)),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, wait))),
      ]);
      clearTimeout(timer);
    }
    for (const s of sockets) s.destroy();
    await this.fleet.close();
    // Events of the last closes (handshake failures of cut connections) come on setImmediate.
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.untrack?.();
    this.untrack = null;
    this.resolveFinished();
  }
}

/** The longest a socket may linger in {@link TlslpServer.close} after the grace. */
const CLOSE_LINGER_MS = 700;

/**
 * Resolves when `socket` has closed. Not `once(socket, 'close')`: that rejects when 'error'
 * comes first, as it does when a peer resets right after its last line.
 */
function closed(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => socket.once('close', () => resolve()));
}

/** The secure context options of `material` (shared by the first context and each reload). */
function contextOptions(material: TlsMaterial): tls.SecureContextOptions {
  return {
    cert: material.cert,
    key: material.key,
    ca: material.ca,
    // No `crl`: OpenSSL would scan it on every handshake; the gate looks chains up in the
    // CRLs' index instead (client-cert.ts).
    minVersion: 'TLSv1.2',
    // A client-initiated TLS 1.2 renegotiation redoes the handshake's costly part.
    secureOptions: cryptoConstants.SSL_OP_NO_RENEGOTIATION,
  };
}

function countRevoked(check: ServerTlsCheck): number {
  return check.crls.reduce((n, c) => n + c.revoked.size, 0);
}

/** The longest delay setTimeout takes. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Allow-lists, the per-identity limit and the CRL in use, in words ('' when none is set). */
function describeIdentityPolicy(
  o: Pick<ResolvedServerTable, 'allowCn' | 'allowOu' | 'allowDns' | 'allowUri' | 'maxPerIdentity'>,
  check: ServerTlsCheck,
): string {
  const lists = (
    [
      ['CN', o.allowCn],
      ['OU', o.allowOu],
      ['DNS', o.allowDns],
      ['URI', o.allowUri],
    ] as const
  )
    .filter(([, v]) => v !== undefined && v.length > 0)
    .map(([name, v]) => `${name} ${(v ?? []).join(', ')}`);
  const parts = [
    ...(lists.length > 0 ? [`admits ${lists.join('; ')}`] : []),
    ...(o.maxPerIdentity > 0 ? [`max-per-identity ${o.maxPerIdentity}`] : []),
    ...(check.crls.length > 0 ? [`CRL lists ${countRevoked(check)} revoked`] : []),
  ];
  return parts.length > 0 ? `identities: ${parts.join(', ')}` : '';
}

/** `tlslp_certificate_expiry_timestamp_seconds` from what checking the material found. */
function setExpiryGauges(metrics: ServerMetrics, check: ServerTlsCheck): void {
  metrics.certificateExpiry.set({ which: 'server' }, Math.floor(check.notAfter.getTime() / 1000));
  const ca = caNotAfter(check.caCerts);
  if (ca) metrics.certificateExpiry.set({ which: 'ca' }, Math.floor(ca.getTime() / 1000));
  const crl = crlNextUpdate(check.crls);
  if (crl) metrics.certificateExpiry.set({ which: 'crl' }, Math.floor(crl.getTime() / 1000));
}

/** Create a server (not yet listening). */
export function createServer(options: ServerOptions): TlslpServer {
  return new TlslpServer(options);
}
