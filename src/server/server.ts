/**
 * The tlslp server: accepts mutual-TLS connections and runs one session on each, many at
 * a time. Hostile or broken connections are logged, counted and dropped; they never stop
 * the server.
 * @module
 */
import { once, setMaxListeners } from 'node:events';
import net, { type AddressInfo } from 'node:net';
import {
  resolveServerOptions,
  type ResolvedServerTable,
  type ServerTableOptions,
} from '../options/server.js';
import { ConfigError } from '../errors/index.js';
import { createNullLogger, type Logger } from '../logging/logger.js';
import { assertInsecureAllowed, type ServerTlsLabels, type TlsMaterial } from '../tls/material.js';
import { listenError } from '../transport/channel.js';
import { hostPort } from '../text/address.js';
import { AdaptiveDifficulty, type AdaptiveOptions } from './adaptive.js';
import { IdentityDifficulty } from './identity-load.js';
import { describeAllowLists } from './identity.js';
import { ServerEmitter } from './events.js';
import { hostname } from 'node:os';
import { SECOND_MS } from '../util/time.js';
import { randomBytes } from 'node:crypto';
import type { StoreBackend } from '../state/backend.js';
import { FleetState } from '../state/fleet.js';
import { createRedisStore } from '../state/redis.js';
import { parseStateUrl } from '../state/url.js';
import { Gate } from './gate.js';
import { metricsHooks, setExpiryGauges, type Readiness, type ServerMetrics } from './metrics.js';
import { createPlanner, type SessionPlanner } from './plans.js';
import { ProxyTrust } from './proxy.js';
import { logHooks } from './server-log.js';
import { SessionRunner, type SessionReport } from './sessions.js';
import { statsView, type ServerStats } from './stats.js';
import { countRevoked, TlsHolder, type TlsReloadResult } from './tls-holder.js';
import type { WarningLimitOptions } from './warn-limit.js';
import type { ServerTlsCheck } from '../tls/material.js';
import {
  RELOADABLE_SERVER_OPTIONS,
  diffReloadable,
  reloadableValues,
  type OptionChange,
  type ServerReconfiguration,
} from './reconfigure.js';

export type { ServerStats } from './stats.js';

export type { TlsReloadResult } from './tls-holder.js';

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

export type { SessionReport } from './sessions.js';

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
  /** The TLS material in use, its secure context and CRL index (from start through reloads). */
  private readonly tls: TlsHolder;
  /** This server's events: its log lines and metrics, then outside observers. */
  private readonly events: ServerEmitter;
  /** Closes the log hooks' warning limiter (its last summary). */
  private readonly closeLog: () => void;
  private readonly gate: Gate;
  /** The failure budget, leases and load, this server's own or shared with a fleet. */
  private readonly fleet: FleetState;
  private readonly planner: SessionPlanner;
  /** Runs a session on each admitted connection, and refuses identities before HELLO. */
  private readonly sessions: SessionRunner;
  private readonly adaptive: AdaptiveDifficulty | null;
  /** Each identity's own n_bits on top of the adaptive one (adaptive, with certificates). */
  private readonly identities: IdentityDifficulty | null;
  /** n_bits asked of new connections now. */
  private nBits: number;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly shutdown = new AbortController();
  /** close() was called: sessions in flight may finish, new ones are not wanted. */
  private draining = false;
  private resolveFinished!: () => void;
  /** The options as given (with {@link reconfigure}'s changes): what a reconfiguration re-resolves. */
  private given: ServerOptions;
  /** Resolves when the server has stopped (after {@link close}, or after the tutorial session). */
  readonly finished: Promise<void>;

  constructor(options: ServerOptions) {
    this.options = resolveServerOptions(options);
    this.given = options;
    if (options.insecure) assertInsecureAllowed(this.options.host);
    this.logger = options.logger ?? createNullLogger('tlslp.server');
    this.events = new ServerEmitter(this);
    this.tls = new TlsHolder(options.tls, {
      labels: options.tlsLabels,
      maxCrlBytes: this.options.maxCrlBytes,
      insecure: this.options.insecure,
      handshakeTimeoutMs: this.options.handshakeTimeoutMs,
      logger: this.logger,
      events: this.events,
      draining: () => this.draining,
    });
    const log = logHooks(this.logger, options.warningLimit);
    this.events.add(log.hooks);
    this.closeLog = log.close;
    const metrics = options.metrics;
    if (metrics) this.events.add(metricsHooks(metrics));
    const { adaptive } = this.options;
    this.adaptive = adaptive ? new AdaptiveDifficulty(adaptive) : null;
    this.identities = adaptive && !this.options.insecure ? new IdentityDifficulty(adaptive) : null;
    this.nBits = this.adaptive ? this.adaptive.current : this.options.nBits;
    metrics?.nBits.set(this.nBits);
    if (metrics) setExpiryGauges(metrics, this.tls.ends);
    this.planner = createPlanner(this.options);
    this.finished = new Promise((resolve) => (this.resolveFinished = resolve));
    // Every session's pending read listens on this one signal.
    setMaxListeners(0, this.shutdown.signal);
    this.fleet = this.createFleet();
    this.gate = new Gate(
      this.events,
      {
        ...this.options,
        insecure: this.options.insecure,
        proxy: this.options.proxyProtocol ? new ProxyTrust(this.options.proxyFrom) : null,
        fleetIdentityBits: this.identities !== null,
      },
      this.tls.tlsServer,
      this.tls.trustedCas,
      {
        admitted: (socket, conn) => this.sessions.start(socket, conn),
        refused: (socket, conn, refusal) => this.sessions.refuse(socket, conn, refusal),
        certRefused: (socket, reason) => this.sessions.certRefused(socket, reason),
      },
      this.fleet,
      this.tls.revocation,
    );
    this.sessions = new SessionRunner({
      events: this.events,
      logger: this.logger,
      planner: this.planner,
      gate: this.gate,
      adaptive: this.adaptive,
      identities: this.identities,
      nBits: () => this.nBits,
      signal: this.shutdown.signal,
      otherTimeoutMs: this.options.otherTimeoutMs,
      onSession: options.onSession,
      onSingleStarted: () => this.listener.close(),
      onSingleEnded: () => void this.close(),
    });
    this.stats = statsView(this.gate, this.sessions.counts, () => this.nBits);
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
    return this.tls.reload(material, labels);
  }

  /**
   * {@link reload}, with a changed CRL read and indexed in a worker thread: a CRL of 800k
   * entries (38 MB) is swapped in without stalling the event loop. The CLI reloads this way.
   */
  reloadAsync(material: TlsMaterial, labels?: ServerTlsLabels): Promise<TlsReloadResult> {
    return this.tls.reloadAsync(material, labels);
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
    next.metrics?.nBits.set(this.nBits);
    return changed;
  }

  private startTimers(): void {
    const adaptive = this.adaptive;
    const fleet = this.fleet;
    if (adaptive || fleet.shared) {
      const every = this.options.adaptiveIntervalMs ?? TICK_MS;
      let busy = false;
      this.timers.push(
        setInterval(() => {
          // A tick waits on the store at most its deadline; one never overtakes another.
          if (busy) return;
          busy = true;
          void this.tick(every / SECOND_MS).finally(() => (busy = false));
        }, every).unref(),
      );
    }
    this.tls.watchCrl(new Date(), false);
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
          windowMs: FLEET_WINDOW_TICKS * Math.max(TICK_MS, seconds * SECOND_MS),
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
      this.events.emit('difficultyChanged', { server: this, ...change });
    }
    const ids = this.identities?.tick(
      seconds,
      this.nBits,
      fleet ? { active: fleet.activeIdentities, identities: fleet.identities } : undefined,
    );
    if (ids) this.events.emit('identityDifficulty', { server: this, base: this.nBits, ...ids });
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

  /**
   * What checking the TLS material in use found to warn of (the certificate or the CRL due
   * soon); logged by whoever starts the server (the CLI at start-up), by the server itself on
   * a reload and once a day after.
   */
  get tlsWarnings(): readonly string[] {
    return this.tls.check.warnings;
  }

  /** Connections open now (raw TCP, before or after TLS). */
  get openConnections(): number {
    return this.gate.sockets.size;
  }

  /**
   * Start listening.
   * @throws TransportError when the address is in use or cannot be bound.
   */
  async listen(): Promise<AddressInfo> {
    const { host, port } = this.options;
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
    return describeIdentityPolicy(this.options, this.tls.check);
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
    const running = this.sessions.running;
    if (graceMs > 0 && running.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled([...running]),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs))),
      ]);
      clearTimeout(timer);
    }
    for (const t of this.timers.splice(0)) clearInterval(t);
    this.tls.stop();
    this.shutdown.abort();
    await Promise.allSettled([...running]);
    // Every session has written its last line and ended its side; each socket gets the
    // linger to deliver what is queued (a client may have pipelined all its answers) and
    // close, then what is left is cut.
    const sockets = this.gate.sockets;
    if (sockets.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      const wait = Math.min(
        this.sessions.lingerMs + CLOSE_SLACK_MS,
        Math.max(0, lingerEnd - performance.now()),
      );
      await Promise.race([
        Promise.all([...sockets].filter((s) => !s.destroyed).map(closed)),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, wait))),
      ]);
      clearTimeout(timer);
    }
    for (const s of sockets) s.destroy();
    await this.fleet.close();
    // What comes later (a cut socket's close) is counted but no longer logged.
    this.events.clear();
    this.closeLog();
    this.resolveFinished();
  }
}

/** The longest a socket may linger in {@link TlslpServer.close} after the grace. */
const CLOSE_LINGER_MS = 700;

/** What close() waits past a socket's own linger for its close to come. */
const CLOSE_SLACK_MS = 100;

/** How often the adaptive controller and the fleet report run, by default. */
const TICK_MS = 1000;

/** A fleet report counts servers heard from within this many ticks. */
const FLEET_WINDOW_TICKS = 3;

/**
 * Resolves when `socket` has closed. Not `once(socket, 'close')`: that rejects when 'error'
 * comes first, as it does when a peer resets right after its last line.
 */
function closed(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => socket.once('close', () => resolve()));
}

/** Allow-lists, the per-identity limit and the CRL in use, in words ('' when none is set). */
function describeIdentityPolicy(
  o: Pick<ResolvedServerTable, 'allowCn' | 'allowOu' | 'allowDns' | 'allowUri' | 'maxPerIdentity'>,
  check: ServerTlsCheck,
): string {
  const lists = describeAllowLists(o);
  const parts = [
    ...(lists.length > 0 ? [`admits ${lists.join('; ')}`] : []),
    ...(o.maxPerIdentity > 0 ? [`max-per-identity ${o.maxPerIdentity}`] : []),
    ...(check.crls.length > 0 ? [`CRL lists ${countRevoked(check)} revoked`] : []),
  ];
  return parts.length > 0 ? `identities: ${parts.join(', ')}` : '';
}

/** Create a server (not yet listening). */
export function createServer(options: ServerOptions): TlslpServer {
  return new TlslpServer(options);
}
