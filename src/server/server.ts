/**
 * The tlslp server: accepts mutual-TLS connections and runs one session on each, many at
 * a time. Hostile or broken connections are logged, counted and dropped; they never stop
 * the server.
 * @module
 */
import { constants as cryptoConstants, type X509Certificate } from 'node:crypto';
import { once, setMaxListeners } from 'node:events';
import net, { type AddressInfo, type Socket } from 'node:net';
import tls from 'node:tls';
import { DEFAULTS } from '../defaults.js';
import { ConfigError, TransportError } from '../errors.js';
import { createNullLogger, type Logger } from '../logging.js';
import { BODY_COMMANDS, isValidArg, isValidNBits, isValidToken } from '../protocol/messages.js';
import { drawBodyCommand, randomToken } from '../protocol/random.js';
import { assertInsecureAllowed, checkServerTls, type TlsMaterial } from '../tls.js';
import { SocketLineChannel, describeSocketError } from '../transport/channel.js';
import { HandshakeMeter } from '../transport/handshake-meter.js';
import { AdaptiveDifficulty, type AdaptiveOptions } from './adaptive.js';
import { FailureBudget, Tally } from './admission.js';
import { judgeClientCert } from './client-cert.js';
import { WarningLimiter, type WarningLimitOptions } from './warn-limit.js';
import { reasonLabel, type ServerMetrics } from './metrics.js';
import {
  runServerSession,
  type SessionLog,
  type SessionOutcome,
  type SessionPlan,
} from './session.js';
import { hostPort } from '../text/address.js';

/** Options of {@link TlslpServer}. */
export interface ServerOptions {
  /** Interface to bind (default `localhost`). */
  host?: string;
  /** Port (default 1234; 0 picks a free one). */
  port?: number;
  /** Server certificate and key, and the CA that issues client certificates. */
  tls: TlsMaterial;
  /** Do not request client certificates. Loopback only. */
  insecure?: boolean;
  /** WORK difficulty (default 28). */
  nBits?: number;
  /** A fixed WORK token instead of a fresh random one per connection. */
  token?: string;
  /** A fixed body argument instead of a fresh random one per request. */
  randomString?: string;
  /** Tutorial mode: fixed token, argument and command order; one session, then stop. */
  tutorial?: boolean;
  /** Body requests per session in normal mode (default 20). */
  bodyRequests?: number;
  /**
   * Draw the simulated server-side FAIL among the body commands (default true, as the
   * protocol's normal mode says). Each of the 20 requests is FAIL with probability 1/9, so
   * about 9 sessions in 10 end in `FAIL <random>` (the client's {@link runClient} rejects
   * with `ServerFailError`); set false for sessions that end in DONE/OK, as the demo does.
   */
  simulateFailures?: boolean;
  /** Time a client gets to answer WORK (default 1800 s). */
  workTimeoutMs?: number;
  /** Time a client gets for every other reply (default 10 s). */
  otherTimeoutMs?: number;
  /**
   * TLS handshake deadline (default 10 s), counted from the TCP accept. It shortens when more
   * than half of `maxHandshakes` are taken, down to 1 s when all are.
   */
  handshakeTimeoutMs?: number;
  /** Most sessions at once (default 10000); connections past it are closed at once. */
  maxConnections?: number;
  /** Most sessions at once from one IP address (default 0 = no limit). */
  maxPerIp?: number;
  /** Most connections still in their TLS handshake, from everyone (default 1000). */
  maxHandshakes?: number;
  /** Most connections still in their TLS handshake from one IP address (default 32). */
  maxHandshakesPerIp?: number;
  /**
   * Most bytes a client may send before its handshake completes (default 16384); past it
   * the connection is cut before OpenSSL checks the certificate chain in it. 0 = no limit.
   */
  maxHandshakeBytes?: number;
  /** Most certificates in a client's chain, leaf included (default 4). 0 = no limit. */
  maxChainDepth?: number;
  /**
   * Failures one IP may have per minute before its connections are refused before TLS
   * (default 30; 0 = no limit): failed handshakes (one per started 4 KiB the client sent) and
   * sessions that end before their WORK is solved. A burst of 5 is allowed, then this rate.
   */
  maxHandshakeFailuresPerIp?: number;
  /** How many warnings of one kind strangers can cause per second, and how often the rest are summed up. */
  warningLimit?: WarningLimitOptions;
  /** Where the server logs (default: nowhere). See {@link createLogger}. */
  logger?: Logger;
  /** Called when a session ends. */
  onSession?: (report: SessionReport) => void;
  /**
   * Adaptive difficulty (`--n_bits auto`): the n_bits of new connections follows the load
   * between `minBits` and `maxBits`; `nBits` is then ignored. See {@link AdaptiveDifficulty}.
   */
  adaptive?: AdaptiveOptions;
  /** How often the adaptive controller looks at the load (default 1000 ms). */
  adaptiveIntervalMs?: number;
  /** Prometheus metrics to update (see {@link ServerMetrics} and `serveMetrics`). */
  metrics?: ServerMetrics;
  /** Log a one-line summary of the counters this often; 0 or unset = never. */
  statsIntervalMs?: number;
}

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
  /** Time from WORK sent to a valid suffix, when the client solved it. */
  workMs?: number;
  /** How the session ended. */
  result: SessionOutcome;
}

/** Counters, for logs, tests and metrics. */
export interface ServerStats {
  /** TCP connections accepted (before TLS), in total. */
  connections: number;
  /** Sessions running now. */
  inFlight: number;
  /** Sessions started (TLS handshake completed), in total. */
  sessionsStarted: number;
  /** Sessions that ended with DONE/OK. */
  sessionsDone: number;
  /** Sessions ended by a drawn (simulated) FAIL. */
  sessionsFailDrawn: number;
  /** Sessions rejected because the client broke the contract. */
  sessionsRejected: number;
  /** Sessions ended by the connection: timeout, reset, closed early. */
  sessionsTransport: number;
  /** TLS handshakes that failed (no or refused client certificate, not TLS, too slow, too large). */
  handshakeFailures: number;
  /** Connections in their TLS handshake now. */
  handshaking: number;
  /** Connections closed at once by a limit (before TLS, or after it for the session limits). */
  refused: number;
  /**
   * Refusals by limit (`max-connections`, `max-per-ip`, `max-handshakes`,
   * `max-handshakes-per-ip`, `handshake-failures`).
   */
  refusedByReason: Record<string, number>;
  /** Handshake failures by error code (lowercased). */
  handshakeFailuresByReason: Record<string, number>;
  /** Rejected and transport-failed sessions by code (lowercased). */
  failedByReason: Record<string, number>;
  /** n_bits asked of new connections now. */
  nBits: number;
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
  readonly options: Readonly<
    Required<
      Pick<
        ServerOptions,
        | 'host'
        | 'port'
        | 'nBits'
        | 'bodyRequests'
        | 'workTimeoutMs'
        | 'otherTimeoutMs'
        | 'handshakeTimeoutMs'
        | 'maxConnections'
        | 'maxPerIp'
        | 'maxHandshakes'
        | 'maxHandshakesPerIp'
        | 'maxHandshakeBytes'
        | 'maxChainDepth'
        | 'maxHandshakeFailuresPerIp'
      >
    >
  > &
    ServerOptions;
  /** Live counters (connections, sessions by outcome, handshake failures, refusals). */
  readonly stats: ServerStats = {
    connections: 0,
    inFlight: 0,
    sessionsStarted: 0,
    sessionsDone: 0,
    sessionsFailDrawn: 0,
    sessionsRejected: 0,
    sessionsTransport: 0,
    handshakeFailures: 0,
    handshaking: 0,
    refused: 0,
    refusedByReason: {},
    handshakeFailuresByReason: {},
    failedByReason: {},
    nBits: 0,
  };
  private readonly logger: Logger;
  /** Accepts TCP connections; TLS starts only once a connection is admitted. */
  private readonly listener: net.Server;
  /** Holds the TLS settings and runs the handshakes; never listens itself. */
  private readonly tlsServer: tls.Server;
  private readonly sockets = new Set<Socket>();
  private readonly sessions = new Set<Promise<void>>();
  /** Connections in their handshake, oldest first (for the shrinking deadline). */
  private readonly pending = new Set<Conn>();
  private readonly pendingPerIp = new Tally();
  /** Sessions in flight per IP: the `maxPerIp` limit and the adaptive controller's weighted load. */
  private readonly sessionsPerIp = new Tally();
  private readonly failures: FailureBudget;
  /** The CA certificates, parsed once (see judgeClientCert). */
  private readonly trustedCas: readonly X509Certificate[];
  private readonly warnings: WarningLimiter;
  private readonly adaptive: AdaptiveDifficulty | null;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly shutdown = new AbortController();
  private nextId = 1;
  private tutorialServed = false;
  private resolveFinished!: () => void;
  /** Resolves when the server has stopped (after {@link close}, or after the tutorial session). */
  readonly finished: Promise<void>;

  constructor(options: ServerOptions) {
    const host = options.host ?? DEFAULTS.serverHost;
    const nBits = options.nBits ?? DEFAULTS.nBits;
    if (!isValidNBits(nBits))
      throw new ConfigError('BAD_N_BITS', `n_bits must be an integer 0..64, not ${nBits}`);
    if (options.token !== undefined && !isValidToken(options.token)) {
      throw new ConfigError('BAD_TOKEN', '--token must be 1..128 characters of [A-Za-z0-9_-]');
    }
    if (options.randomString !== undefined && !isValidArg(options.randomString)) {
      throw new ConfigError('BAD_ARG', '--random-string must be 1..128 characters without spaces');
    }
    if (options.insecure) assertInsecureAllowed(host);
    if (!options.tls.cert || !options.tls.key)
      throw new ConfigError('NO_CERT', 'the server needs a certificate and a key');
    // Refuse now what would fail every handshake later (a key OpenSSL silently drops, …).
    this.trustedCas = checkServerTls(options.tls).caCerts;
    if (!options.insecure && !options.tls.ca) {
      throw new ConfigError(
        'NO_CA',
        'mutual TLS needs the CA certificate that issues client certificates (--ca-cert)',
      );
    }
    this.options = {
      ...options,
      host,
      port: options.port ?? DEFAULTS.serverPort,
      nBits,
      bodyRequests: options.bodyRequests ?? DEFAULTS.bodyRequests,
      workTimeoutMs: options.workTimeoutMs ?? DEFAULTS.workTimeoutSeconds * 1000,
      otherTimeoutMs: options.otherTimeoutMs ?? DEFAULTS.otherTimeoutSeconds * 1000,
      handshakeTimeoutMs: options.handshakeTimeoutMs ?? DEFAULTS.handshakeTimeoutSeconds * 1000,
      maxConnections: options.maxConnections ?? DEFAULTS.maxConnections,
      maxPerIp: options.maxPerIp ?? DEFAULTS.maxPerIp,
      maxHandshakes: options.maxHandshakes ?? DEFAULTS.maxHandshakes,
      maxHandshakesPerIp: options.maxHandshakesPerIp ?? DEFAULTS.maxHandshakesPerIp,
      maxHandshakeBytes: options.maxHandshakeBytes ?? DEFAULTS.maxHandshakeBytes,
      maxChainDepth: options.maxChainDepth ?? DEFAULTS.maxChainDepth,
      maxHandshakeFailuresPerIp:
        options.maxHandshakeFailuresPerIp ?? DEFAULTS.maxHandshakeFailuresPerIp,
    };
    for (const key of [
      'maxConnections',
      'maxPerIp',
      'maxHandshakes',
      'maxHandshakesPerIp',
      'maxHandshakeBytes',
      'maxChainDepth',
      'maxHandshakeFailuresPerIp',
    ] as const) {
      const v = this.options[key];
      if (!Number.isInteger(v) || v < 0)
        throw new ConfigError('BAD_LIMIT', `${key} must be a whole number >= 0, not ${String(v)}`);
    }
    this.failures = new FailureBudget(this.options.maxHandshakeFailuresPerIp);
    this.logger = options.logger ?? createNullLogger('tlslp.server');
    this.warnings = new WarningLimiter((m, f) => this.logger.warning(m, f), options.warningLimit);
    if (options.adaptive && options.tutorial)
      throw new ConfigError('BAD_N_BITS', 'tutorial mode needs a fixed n_bits, not auto');
    this.adaptive = options.adaptive ? new AdaptiveDifficulty(options.adaptive) : null;
    this.stats.nBits = this.adaptive ? this.adaptive.current : nBits;
    options.metrics?.nBits.set(this.stats.nBits);
    this.finished = new Promise((resolve) => (this.resolveFinished = resolve));
    // Every session's pending read listens on this one signal.
    setMaxListeners(0, this.shutdown.signal);

    try {
      this.tlsServer = tls.createServer({
        cert: options.tls.cert,
        key: options.tls.key,
        ca: options.tls.ca,
        requestCert: !options.insecure,
        // The verdict is read in onSecure, so a refused certificate is logged and counted
        // with its real reason (Node would otherwise drop the socket without a word).
        rejectUnauthorized: false,
        minVersion: 'TLSv1.2',
        // A client-initiated TLS 1.2 renegotiation redoes the handshake's costly part.
        secureOptions: cryptoConstants.SSL_OP_NO_RENEGOTIATION,
        // A backstop only: the server's own deadline (see onConnection) comes first.
        handshakeTimeout: this.options.handshakeTimeoutMs * 2 + 1000,
      });
    } catch (err) {
      throw new ConfigError(
        'BAD_TLS_MATERIAL',
        `server certificate, key or CA unusable: ${(err as Error).message} (check --server-cert, --server-key and --ca-cert)`,
        { cause: err },
      );
    }
    this.tlsServer.on('secureConnection', (socket: tls.TLSSocket) => this.onSecure(socket));
    this.tlsServer.on('tlsClientError', (err: Error, socket: tls.TLSSocket) => {
      const conn = connOf(socket);
      if (conn) this.handshakeFailed(conn, reasonCode(err), describeSocketError(err), err);
      socket.destroy();
    });
    this.listener = net.createServer({ noDelay: true }, (raw) => this.onConnection(raw));
  }

  /** Which session limit a new session from `ip` would pass, or null. */
  private sessionLimitFor(ip: string): string | null {
    const o = this.options;
    if (this.stats.inFlight >= o.maxConnections) return 'max-connections';
    if (o.maxPerIp > 0 && this.sessionsPerIp.get(ip) >= o.maxPerIp) return 'max-per-ip';
    return null;
  }

  /** Why a new connection from `ip` is refused before TLS, or null. */
  private refusalFor(ip: string): string | null {
    const o = this.options;
    const sessionLimit = this.sessionLimitFor(ip);
    if (sessionLimit) return sessionLimit;
    if (this.pending.size >= o.maxHandshakes) return 'max-handshakes';
    if (this.pendingPerIp.get(ip) >= o.maxHandshakesPerIp) return 'max-handshakes-per-ip';
    if (!this.failures.allows(ip)) return 'handshake-failures';
    return null;
  }

  private refuse(socket: Socket, ip: string, why: string): void {
    this.stats.refused++;
    bump(this.stats.refusedByReason, why);
    this.options.metrics?.connectionsRefused.inc({ reason: why });
    this.warnings.warn(`refused: ${why}`, `Refused connection from ${ip}: ${why} limit reached`, {
      peer: ip,
      event: 'refused',
    });
    // A reset, not a close: a flood of refusals leaves no TIME_WAIT sockets on this side.
    socket.resetAndDestroy();
  }

  /**
   * The handshake deadline for a connection accepted now: the full one while at most half of
   * the handshake slots are taken, then shorter in proportion, down to 1 s when all are.
   * @param joining connections about to join the pending set, counted as taken slots
   */
  private handshakeDeadline(joining = 0): number {
    const full = this.options.handshakeTimeoutMs;
    const fill = (this.pending.size + joining) / Math.max(1, this.options.maxHandshakes);
    if (fill <= 0.5) return full;
    return Math.max(Math.min(full, 1000), Math.round(full * 2 * (1 - fill)));
  }

  /** Cut the handshakes that have run past the deadline the current fill allows. */
  private sweepPending(): void {
    const deadline = this.handshakeDeadline();
    const now = performance.now();
    for (const conn of this.pending) {
      if (now - conn.acceptedAt < deadline) break;
      this.handshakeFailed(conn, 'HANDSHAKE_TIMEOUT', `no TLS handshake within ${deadline} ms`);
    }
  }

  private onConnection(raw: Socket): void {
    // Runs before TLS: a stranger costs a socket and a few counters until it is admitted.
    const ip = raw.remoteAddress ?? 'unknown';
    const why = this.refusalFor(ip);
    if (why) {
      this.refuse(raw, ip, why);
      return;
    }
    this.stats.connections++;
    this.sockets.add(raw);
    raw.on('error', () => {
      /* reported through the TLS socket or the session */
    });
    // The callbacks below run on later events, once `conn` exists.
    const meter = new HandshakeMeter(raw, {
      maxBytes: this.options.maxHandshakeBytes,
      onTooLarge: (bytes) =>
        this.handshakeFailed(
          conn,
          'HANDSHAKE_TOO_LARGE',
          `sent ${bytes} bytes without completing the handshake (limit ${this.options.maxHandshakeBytes}, --max-handshake-bytes)`,
        ),
      // The TLS socket (and OpenSSL's buffers) exist only once the client has sent something.
      onFirstData: () => this.tlsServer.emit('connection', meter),
    });
    // Counted with the connection admitted now, as the slots will be once it is pending.
    const deadline = this.handshakeDeadline(1);
    const conn: Conn = {
      ip,
      label: hostPort(ip, raw.remotePort ?? '?'),
      raw,
      meter,
      acceptedAt: performance.now(),
      state: 'pending',
      timer: setTimeout(
        () =>
          this.handshakeFailed(conn, 'HANDSHAKE_TIMEOUT', `no TLS handshake within ${deadline} ms`),
        deadline,
      ),
    };
    conns.set(meter, conn);
    this.pending.add(conn);
    this.pendingPerIp.up(ip);
    this.pendingChanged();
    if (deadline < this.options.handshakeTimeoutMs) this.sweepPending();
    raw.once('close', () => {
      this.sockets.delete(raw);
      // A TLS error for this connection is reported first, when there is one.
      setImmediate(() => {
        // Connect-and-close without a byte (a port scan, a TCP health check) costs nothing
        // and spends no budget; it is still counted.
        const silent = meter.bytesReceived === 0;
        this.handshakeFailed(
          conn,
          'CLOSED_EARLY',
          silent ? 'closed before sending anything' : 'closed during the handshake',
          undefined,
          !silent,
        );
      });
    });
  }

  /** The connection is no longer in its handshake (done, failed or closed). */
  private leavePending(conn: Conn): void {
    if (!this.pending.delete(conn)) return;
    clearTimeout(conn.timer);
    this.pendingPerIp.down(conn.ip);
    this.pendingChanged();
  }

  /** Publish the number of connections in their handshake (stats and metric). */
  private pendingChanged(): void {
    this.stats.handshaking = this.pending.size;
    this.options.metrics?.handshakesInProgress.set(this.pending.size);
  }

  /** Count and log a failed handshake once, spend a token of the IP's budget, and cut it. */
  private handshakeFailed(
    conn: Conn,
    code: string,
    text: string,
    err?: Error,
    spendBudget = true,
  ): void {
    if (conn.state !== 'pending') return;
    conn.state = 'failed';
    this.leavePending(conn);
    const reason = reasonLabel(code);
    this.stats.handshakeFailures++;
    bump(this.stats.handshakeFailuresByReason, reason);
    this.options.metrics?.handshakeFailures.inc({ reason });
    // A bigger handshake cost more to check: it spends a token per started 4 KiB.
    if (spendBudget) this.failures.failed(conn.ip, Math.ceil(conn.meter.bytesReceived / 4096));
    this.warnings.warn(`handshake: ${reason}`, `TLS handshake failed from ${conn.label}: ${text}`, {
      peer: conn.label,
      event: 'handshake-failed',
      reason,
    });
    if (err && this.logger.isEnabled('DEBUG'))
      this.logger.debug(
        `TLS handshake detail from ${conn.label}: ${(err as NodeJS.ErrnoException).code ?? ''} ${err.message}`,
      );
    conn.raw.destroy();
  }

  /** A handshake completed: judge the certificate, then apply the session limits. */
  private onSecure(socket: tls.TLSSocket): void {
    const conn = connOf(socket);
    if (!conn || conn.state !== 'pending') {
      socket.destroy();
      return;
    }
    if (!this.options.insecure) {
      const refusal = judgeClientCert(socket, this.options.maxChainDepth, this.trustedCas);
      if (refusal) {
        this.handshakeFailed(conn, refusal.code, `client certificate refused: ${refusal.text}`);
        socket.destroy();
        return;
      }
    }
    conn.state = 'secure';
    conn.meter.secured();
    this.leavePending(conn);
    socket.disableRenegotiation();
    // Sessions may have started while this one was in its handshake.
    const why = this.sessionLimitFor(conn.ip);
    if (why) {
      this.refuse(conn.raw, conn.ip, why);
      socket.destroy();
      return;
    }
    this.onSecureConnection(socket, conn);
  }

  private onSecureConnection(socket: tls.TLSSocket, conn: Conn): void {
    if (this.options.tutorial) {
      if (this.tutorialServed) {
        socket.destroy();
        return;
      }
      this.tutorialServed = true;
      // Tutorial mode serves exactly one session: stop accepting now.
      this.listener.close();
    }
    const id = this.nextId++;
    const tutorial = this.options.tutorial === true;
    const remote = conn.label;
    // Which session a record belongs to: JSON logs get fields, text logs the `[#id peer] `
    // prefix. Tutorial logs have neither, so they are the same on every run.
    const context: Record<string, unknown> = tutorial ? {} : { session: id, peer: remote };
    const log: SessionLog = {
      info: (m, f) => this.logger.info(m, { ...context, ...f }),
      debug: (m, f) => this.logger.debug(m, { ...context, ...f }),
      warning: (m, f) => this.logger.warning(m, { ...context, ...f }),
    };
    log.info(
      tutorial ? 'Client connected' : `Client connected (${socket.getProtocol() ?? 'TLS'})`,
      {
        event: 'connected',
      },
    );
    // After FAIL or DONE/OK the client gets one step deadline (at most 2 s) to close its side.
    const channel = new SocketLineChannel(socket, { lingerMs: this.lingerMs() });
    const ip = conn.ip;
    this.stats.sessionsStarted++;
    this.stats.inFlight++;
    this.sessionsPerIp.up(ip);
    this.adaptive?.arrival(ip);
    const metrics = this.options.metrics;
    metrics?.sessionsStarted.inc();
    metrics?.sessionsInFlight.inc();
    const started = performance.now();
    const plan = this.planFor();
    let workMs: number | undefined;
    const accepted = plan.onWorkAccepted;
    plan.onWorkAccepted = (ms) => {
      workMs = ms;
      this.adaptive?.workDone(ip);
      accepted?.(ms);
    };
    const run = runServerSession(channel, plan, log, this.shutdown.signal).then((result) => {
      const durationMs = performance.now() - started;
      this.stats.inFlight--;
      this.sessionsPerIp.down(ip);
      this.count(result);
      // A session that ends before its WORK is solved (dropped at WORK, reset, rejected) is a
      // failure of its IP: a client that never pays cannot keep the server busy with handshakes.
      if (workMs === undefined) this.failures.failed(ip);
      if (!tutorial)
        log.info(`Session ended: ${result.outcome} after ${Math.round(durationMs)} ms`, {
          event: 'session-end',
          outcome: result.outcome,
          n_bits: plan.nBits,
        });
      metrics?.sessionsInFlight.dec();
      metrics?.sessionSeconds.observe(durationMs / 1000);
      this.options.onSession?.({
        id,
        remoteAddress: remote,
        durationMs: Math.round(durationMs),
        nBits: plan.nBits,
        ...(workMs !== undefined ? { workMs: Math.round(workMs) } : {}),
        result,
      });
      if (tutorial) {
        log.info('Tutorial session finished: server stopping');
        void this.close();
      }
    });
    this.sessions.add(run);
    void run.finally(() => this.sessions.delete(run));
  }

  private count(result: SessionOutcome): void {
    const metrics = this.options.metrics;
    if (result.outcome === 'done' || result.outcome === 'fail-drawn') {
      if (result.outcome === 'done') this.stats.sessionsDone++;
      else this.stats.sessionsFailDrawn++;
      metrics?.sessionsCompleted.inc({ outcome: result.outcome.replace('-', '_') });
      return;
    }
    if (result.outcome === 'rejected') this.stats.sessionsRejected++;
    else this.stats.sessionsTransport++;
    const reason = reasonLabel(result.code);
    bump(this.stats.failedByReason, reason);
    metrics?.sessionsFailed.inc({ reason });
  }

  /** Sessions in flight, each IP counted at most `perIpWeight` times (the adaptive load). */
  private weightedInFlight(): number {
    const cap = this.adaptive?.perIpWeight ?? Infinity;
    let total = 0;
    for (const n of this.sessionsPerIp.values()) total += Math.min(n, cap);
    return total;
  }

  private startTimers(): void {
    const adaptive = this.adaptive;
    if (adaptive) {
      const every = this.options.adaptiveIntervalMs ?? 1000;
      this.timers.push(
        setInterval(() => {
          const change = adaptive.tick(this.weightedInFlight(), every / 1000);
          if (!change) return;
          this.stats.nBits = change.to;
          this.options.metrics?.nBits.set(change.to);
          this.logger.info(
            `Difficulty ${change.to > change.from ? 'raised' : 'lowered'}: n_bits ${change.from} -> ${change.to} (load ${change.load.toFixed(2)}, ${change.inFlight} weighted sessions in flight, ${change.arrivalsPerSecond.toFixed(1)} new/s)`,
          );
        }, every).unref(),
      );
    }
    const statsEvery = this.options.statsIntervalMs ?? 0;
    if (statsEvery > 0) {
      this.timers.push(setInterval(() => this.logger.info(this.summary()), statsEvery).unref());
    }
  }

  /** A one-line summary of the counters, as the periodic stats line logs it. */
  summary(): string {
    const s = this.stats;
    return (
      `Stats: ${s.inFlight} in flight, ${this.sockets.size} open connections, ${s.sessionsStarted} started, ` +
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
    return this.sockets.size;
  }

  private planFor(): SessionPlan {
    const o = this.options;
    if (o.tutorial) {
      return {
        token: o.token ?? DEFAULTS.tutorialToken,
        nBits: o.nBits,
        bodyRequests: BODY_COMMANDS.length,
        nextCommand: (i) => BODY_COMMANDS[i] as (typeof BODY_COMMANDS)[number],
        nextArg: () => o.randomString ?? DEFAULTS.tutorialArg,
        workTimeoutMs: o.workTimeoutMs,
        otherTimeoutMs: o.otherTimeoutMs,
      };
    }
    return {
      token: o.token ?? randomToken(DEFAULTS.randomTokenLength),
      nBits: this.stats.nBits,
      bodyRequests: o.bodyRequests,
      nextCommand: () => drawBodyCommand(o.simulateFailures !== false),
      nextArg: () => o.randomString ?? randomToken(DEFAULTS.randomArgLength),
      workTimeoutMs: o.workTimeoutMs,
      otherTimeoutMs: o.otherTimeoutMs,
      onWorkAccepted: (ms) => o.metrics?.workSeconds.observe(ms / 1000),
    };
  }

  /**
   * Start listening.
   * @throws TransportError when the address is in use or cannot be bound.
   */
  async listen(): Promise<AddressInfo> {
    const { host, port } = this.options;
    this.listener.listen(port, host);
    try {
      await Promise.race([
        once(this.listener, 'listening'),
        once(this.listener, 'error').then(([err]) => Promise.reject(err as Error)),
      ]);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'LISTEN';
      const why =
        code === 'EADDRINUSE'
          ? 'address already in use (pick another --port)'
          : code === 'EACCES'
            ? 'permission denied (use a port above 1023)'
            : (err as Error).message;
      throw new TransportError(code, `cannot listen on ${hostPort(host, port)}: ${why}`, {
        cause: err,
      });
    }
    this.listener.on('error', (err) => this.logger.error(`Server error: ${err.message}`));
    const address = this.listener.address() as AddressInfo;
    this.startTimers();
    const mode = this.options.insecure ? 'insecure TLS (no client certificates)' : 'mutual TLS';
    const extra = this.options.tutorial ? ', tutorial mode' : '';
    this.logger.info(
      `Listening on ${hostPort(host, address.port)} (${mode}, n_bits ${this.options.nBits}${extra})`,
    );
    return address;
  }

  /** The bound address, once listening. */
  address(): AddressInfo | null {
    const a = this.listener.address();
    return a && typeof a === 'object' ? a : null;
  }

  /** Sessions in progress. */
  get inFlight(): number {
    return this.stats.inFlight;
  }

  /**
   * Stop accepting; let sessions in progress finish for up to `graceMs` (default 0), then
   * close the rest.
   */
  async close(graceMs = 0): Promise<void> {
    if (this.listener.listening) this.listener.close();
    for (const conn of [...this.pending]) conn.raw.destroy();
    if (graceMs > 0 && this.sessions.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled([...this.sessions]),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs))),
      ]);
      clearTimeout(timer);
    }
    for (const t of this.timers.splice(0)) clearInterval(t);
    this.shutdown.abort();
    await Promise.allSettled([...this.sessions]);
    // Every session has written its last line and ended its side; each socket gets the
    // linger to deliver what is queued (a client may have pipelined all its answers) and
    // close, then what is left is cut.
    if (this.sockets.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all([...this.sockets].filter((s) => !s.destroyed).map((s) => once(s, 'close'))),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, this.lingerMs() + 100))),
      ]);
      clearTimeout(timer);
    }
    for (const s of this.sockets) s.destroy();
    this.warnings.close();
    this.resolveFinished();
  }
}

/** One accepted TCP connection, from accept to close. */
interface Conn {
  ip: string;
  /** `ip:port`, taken at accept (a closed socket no longer knows its peer). */
  label: string;
  raw: Socket;
  acceptedAt: number;
  state: 'pending' | 'failed' | 'secure';
  timer: NodeJS.Timeout;
  meter: HandshakeMeter;
}

const conns = new WeakMap<object, Conn>();

/**
 * The connection a TLS socket runs on. Node has no public link from a TLS socket to the
 * stream it wraps: a wrapped net.Socket is `_parent`, any other stream sits behind the
 * JSStreamSocket in `_handle._parentWrap.stream` (test/gate.test.ts fails if that changes).
 */
function connOf(socket: tls.TLSSocket): Conn | undefined {
  const s = socket as tls.TLSSocket & {
    _parent?: object;
    _handle?: { _parentWrap?: { stream?: object } } | null;
  };
  const inner = s._handle?._parentWrap?.stream ?? s._parent;
  return inner ? conns.get(inner) : undefined;
}

/** A stable code for a TLS error: Node's or OpenSSL's code, else the message's gist. */
function reasonCode(err: Error): string {
  return (err as NodeJS.ErrnoException).code ?? 'TLS_ERROR';
}

/** Create a server (not yet listening). */
export function createServer(options: ServerOptions): TlslpServer {
  return new TlslpServer(options);
}

function bump(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}
