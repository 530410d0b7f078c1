/**
 * The tlslp server: accepts mutual-TLS connections and runs one session on each, many at
 * a time. Hostile or broken connections are logged, counted and dropped; they never stop
 * the server.
 * @module
 */
import { once, setMaxListeners } from 'node:events';
import type { AddressInfo, Socket } from 'node:net';
import tls from 'node:tls';
import { DEFAULTS } from '../defaults.js';
import { ConfigError, TransportError } from '../errors.js';
import { createNullLogger, type Logger } from '../logging.js';
import { BODY_COMMANDS, isValidArg, isValidNBits, isValidToken } from '../protocol/messages.js';
import { drawBodyCommand, randomToken } from '../protocol/random.js';
import { assertInsecureAllowed, checkServerTls, type TlsMaterial } from '../tls.js';
import { SocketLineChannel, describeSocketError } from '../transport/channel.js';
import { AdaptiveDifficulty, type AdaptiveOptions } from './adaptive.js';
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
  /** TLS handshake deadline (default 10 s). */
  handshakeTimeoutMs?: number;
  /** Most connections at once (default 10000); more are closed at once. */
  maxConnections?: number;
  /** Most connections at once from one IP address (default 0 = no limit). */
  maxPerIp?: number;
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
  /** TLS handshakes that failed (no or wrong client certificate, not TLS, too slow). */
  handshakeFailures: number;
  /** Connections closed at once by `maxConnections` or `maxPerIp`. */
  refused: number;
  /** Refusals by limit (`max-connections`, `max-per-ip`). */
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
    refused: 0,
    refusedByReason: {},
    handshakeFailuresByReason: {},
    failedByReason: {},
    nBits: 0,
  };
  private readonly logger: Logger;
  private readonly server: tls.Server;
  private readonly sockets = new Set<Socket>();
  private readonly sessions = new Set<Promise<void>>();
  private readonly perIp = new Map<string, number>();
  /** Sessions in flight per IP, for the adaptive controller's weighted load. */
  private readonly sessionsPerIp = new Map<string, number>();
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
    checkServerTls(options.tls);
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
      maxConnections: options.maxConnections ?? 10_000,
      maxPerIp: options.maxPerIp ?? 0,
    };
    this.logger = options.logger ?? createNullLogger('tlslp.server');
    if (options.adaptive && options.tutorial)
      throw new ConfigError('BAD_N_BITS', 'tutorial mode needs a fixed n_bits, not auto');
    this.adaptive = options.adaptive ? new AdaptiveDifficulty(options.adaptive) : null;
    this.stats.nBits = this.adaptive ? this.adaptive.current : nBits;
    options.metrics?.nBits.set(this.stats.nBits);
    this.finished = new Promise((resolve) => (this.resolveFinished = resolve));
    // Every session's pending read listens on this one signal.
    setMaxListeners(0, this.shutdown.signal);

    try {
      this.server = tls.createServer({
        cert: options.tls.cert,
        key: options.tls.key,
        ca: options.tls.ca,
        requestCert: !options.insecure,
        rejectUnauthorized: !options.insecure,
        minVersion: 'TLSv1.2',
        handshakeTimeout: this.options.handshakeTimeoutMs,
      });
    } catch (err) {
      throw new ConfigError(
        'BAD_TLS_MATERIAL',
        `server certificate, key or CA unusable: ${(err as Error).message} (check --server-cert, --server-key and --ca-cert)`,
        { cause: err },
      );
    }
    this.server.on('connection', (socket: Socket) => this.onConnection(socket));
    this.server.on('secureConnection', (socket: tls.TLSSocket) => this.onSecureConnection(socket));
    this.server.on('tlsClientError', (err: Error, socket: tls.TLSSocket) => {
      const reason = reasonLabel((err as NodeJS.ErrnoException).code);
      this.stats.handshakeFailures++;
      bump(this.stats.handshakeFailuresByReason, reason);
      this.options.metrics?.handshakeFailures.inc({ reason });
      this.logger.warning(
        `TLS handshake failed from ${peerLabel(socket)}: ${describeSocketError(err)}`,
      );
      this.logger.debug(
        `TLS handshake detail: ${(err as NodeJS.ErrnoException).code ?? ''} ${err.message}`,
      );
      socket.destroy();
    });
  }

  private onConnection(socket: Socket): void {
    // Runs before TLS: count and bound raw connections, so a flood of idle sockets is capped.
    const ip = socket.remoteAddress ?? 'unknown';
    const fromIp = this.perIp.get(ip) ?? 0;
    if (
      this.sockets.size >= this.options.maxConnections ||
      (this.options.maxPerIp > 0 && fromIp >= this.options.maxPerIp)
    ) {
      this.stats.refused++;
      const why =
        this.sockets.size >= this.options.maxConnections ? 'max-connections' : 'max-per-ip';
      bump(this.stats.refusedByReason, why);
      this.options.metrics?.connectionsRefused.inc({ reason: why });
      this.logger.warning(`Refused connection from ${ip}: ${why} limit reached`);
      socket.destroy();
      return;
    }
    this.stats.connections++;
    peerLabel(socket);
    this.sockets.add(socket);
    this.perIp.set(ip, fromIp + 1);
    socket.on('error', () => {
      /* reported through tlsClientError or the session */
    });
    socket.once('close', () => {
      this.sockets.delete(socket);
      const n = (this.perIp.get(ip) ?? 1) - 1;
      if (n <= 0) this.perIp.delete(ip);
      else this.perIp.set(ip, n);
    });
  }

  private onSecureConnection(socket: tls.TLSSocket): void {
    if (this.options.tutorial) {
      if (this.tutorialServed) {
        socket.destroy();
        return;
      }
      this.tutorialServed = true;
      // Tutorial mode serves exactly one session: stop accepting now.
      this.server.close();
    }
    const id = this.nextId++;
    const tutorial = this.options.tutorial === true;
    const remote = peerLabel(socket);
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
    socket.setNoDelay(true);
    // After FAIL or DONE/OK the client gets one step deadline (at most 2 s) to close its side.
    const channel = new SocketLineChannel(socket, {
      lingerMs: Math.min(this.options.otherTimeoutMs, 2000),
    });
    const ip = socket.remoteAddress ?? 'unknown';
    this.stats.sessionsStarted++;
    this.stats.inFlight++;
    this.sessionsPerIp.set(ip, (this.sessionsPerIp.get(ip) ?? 0) + 1);
    this.adaptive?.arrival();
    const metrics = this.options.metrics;
    metrics?.sessionsStarted.inc();
    metrics?.sessionsInFlight.inc();
    const started = performance.now();
    const plan = this.planFor();
    let workMs: number | undefined;
    const accepted = plan.onWorkAccepted;
    plan.onWorkAccepted = (ms) => {
      workMs = ms;
      accepted?.(ms);
    };
    const run = runServerSession(channel, plan, log, this.shutdown.signal).then((result) => {
      const durationMs = performance.now() - started;
      this.stats.inFlight--;
      const left = (this.sessionsPerIp.get(ip) ?? 1) - 1;
      if (left <= 0) this.sessionsPerIp.delete(ip);
      else this.sessionsPerIp.set(ip, left);
      this.count(result);
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
    this.server.listen(port, host);
    try {
      await Promise.race([
        once(this.server, 'listening'),
        once(this.server, 'error').then(([err]) => Promise.reject(err as Error)),
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
    this.server.on('error', (err) => this.logger.error(`Server error: ${err.message}`));
    const address = this.server.address() as AddressInfo;
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
    const a = this.server.address();
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
    if (this.server.listening) this.server.close();
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
    for (const s of this.sockets) s.destroy();
    await Promise.allSettled([...this.sessions]);
    this.resolveFinished();
  }
}

/** Peer labels taken when a connection arrives: a closed socket no longer knows its peer. */
const peers = new WeakMap<Socket, string>();

function peerLabel(socket: Socket): string {
  const known =
    peers.get(socket) ??
    peers.get((socket as tls.TLSSocket & { _parent?: Socket })._parent as Socket);
  if (known) return known;
  const addr = socket.remoteAddress ?? 'unknown';
  const label = hostPort(addr, socket.remotePort ?? '?');
  peers.set(socket, label);
  return label;
}

/** Create a server (not yet listening). */
export function createServer(options: ServerOptions): TlslpServer {
  return new TlslpServer(options);
}

function bump(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}
