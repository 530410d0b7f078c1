/**
 * Prometheus metrics of a server (prom-client), on a registry of its own so several
 * servers (tests, cluster workers) never collide.
 * @module
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { sessionFailureReason } from '../errors/index.js';
import { listenError } from '../transport/channel.js';
import { hostPort } from '../text/address.js';
import type { ServerEventHandlers, TlsReloadedEvent } from './events.js';
import { identityLabel } from './identity.js';

/** Histogram buckets of the solve and session times, in seconds (10 ms to 30 min). */
const DURATION_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800];

/** A listener's defaults for the header and keep-alive timeouts, in ms. */
const HEADERS_TIMEOUT_MS = 5000;
const KEEP_ALIVE_TIMEOUT_MS = 5000;

/** The metrics a server updates. */
export class ServerMetrics {
  /** The registry holding them; expose it with {@link serveMetrics}. */
  readonly registry: Registry;
  /** `tlslp_sessions_started_total`: sessions started (TLS handshake completed). */
  readonly sessionsStarted: Counter;
  /** `tlslp_sessions_completed_total{outcome}`: `done` (DONE/OK) or `fail_drawn`. */
  readonly sessionsCompleted: Counter<'outcome'>;
  /**
   * `tlslp_sessions_failed_total{reason}`: the client broke the contract, timed out or left
   * (reasons: `SESSION_FAILURE_REASONS` of the error catalog).
   */
  readonly sessionsFailed: Counter<'reason'>;
  /** `tlslp_sessions_in_flight`: sessions in progress. */
  readonly sessionsInFlight: Gauge;
  /** `tlslp_handshake_failures_total{reason}`: failed TLS handshakes (`HANDSHAKE_FAILURE_REASONS`). */
  readonly handshakeFailures: Counter<'reason'>;
  /** `tlslp_handshakes_in_progress`: connections accepted that have not finished TLS. */
  readonly handshakesInProgress: Gauge;
  /** `tlslp_connections_refused_total{reason}`: connections closed by a limit. */
  readonly connectionsRefused: Counter<'reason'>;
  /** `tlslp_n_bits`: n_bits asked of new connections (max across cluster workers). */
  readonly nBits: Gauge;
  /**
   * `tlslp_identity_n_bits{identity="<cn>:<fp8>"}`: the n_bits of the busiest client
   * certificates (at most 10), under adaptive difficulty; replaced every tick.
   */
  readonly identityNBits: Gauge<'identity'>;
  /** `tlslp_work_solve_seconds`: time from WORK sent to a valid suffix received. */
  readonly workSeconds: Histogram;
  /** `tlslp_session_duration_seconds`: TLS handshake to close. */
  readonly sessionSeconds: Histogram;
  /**
   * `tlslp_certificate_expiry_timestamp_seconds{which}`: when the certificate in use expires
   * (Unix seconds): `server`, or `ca` (the first to end of the CA bundle); and `crl`, the
   * CRL's nextUpdate (past it every client is refused). Updated on reload.
   */
  readonly certificateExpiry: Gauge<'which'>;

  /** `tlslp_state_up`: 1 while the shared store answers, 0 while it does not (limits per server). */
  readonly stateUp: Gauge;
  /** `tlslp_state_fallbacks_total{op}`: decisions made locally because the store did not answer in time. */
  readonly stateFallbacks: Counter<'op'>;
  /** `tlslp_fleet_servers`: servers that reported to the shared store within its window. */
  readonly fleetServers: Gauge;
  /** `tlslp_fleet_connections_refused{reason}`: refusals of the whole fleet, as the store counts them. */
  readonly fleetRefused: Gauge<'reason'>;

  constructor(options: { defaultMetrics?: boolean; registry?: Registry } = {}) {
    const registers = [(this.registry = options.registry ?? new Registry())];
    this.sessionsStarted = new Counter({
      name: 'tlslp_sessions_started_total',
      help: 'Sessions started (TLS handshake completed)',
      registers,
    });
    this.sessionsCompleted = new Counter({
      name: 'tlslp_sessions_completed_total',
      help: 'Sessions completed: done (DONE/OK) or fail_drawn (the simulated server FAIL)',
      labelNames: ['outcome'],
      registers,
    });
    this.sessionsFailed = new Counter({
      name: 'tlslp_sessions_failed_total',
      help: 'Sessions that failed, by reason (the client broke the contract, timed out or went away)',
      labelNames: ['reason'],
      registers,
    });
    this.sessionsInFlight = new Gauge({
      name: 'tlslp_sessions_in_flight',
      help: 'Sessions in progress',
      registers,
    });
    this.handshakeFailures = new Counter({
      name: 'tlslp_handshake_failures_total',
      help: 'TLS handshakes that failed, by reason',
      labelNames: ['reason'],
      registers,
    });
    this.handshakesInProgress = new Gauge({
      name: 'tlslp_handshakes_in_progress',
      help: 'Connections accepted that have not finished their TLS handshake',
      registers,
    });
    this.connectionsRefused = new Counter({
      name: 'tlslp_connections_refused_total',
      help: 'Connections refused by a limit, by limit',
      labelNames: ['reason'],
      registers,
    });
    // Across cluster workers the hardest difficulty is the one that matters, not the sum.
    this.nBits = new Gauge({
      name: 'tlslp_n_bits',
      help: 'n_bits asked of new connections',
      aggregator: 'max',
      registers,
    });
    this.identityNBits = new Gauge({
      name: 'tlslp_identity_n_bits',
      help: 'n_bits asked of the busiest client certificates (top 10 by load, adaptive difficulty)',
      labelNames: ['identity'],
      aggregator: 'max',
      registers,
    });
    this.workSeconds = new Histogram({
      name: 'tlslp_work_solve_seconds',
      help: 'Time from WORK sent to a valid suffix received',
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.sessionSeconds = new Histogram({
      name: 'tlslp_session_duration_seconds',
      help: 'Session duration, TLS handshake to close',
      buckets: DURATION_BUCKETS,
      registers,
    });
    // Across cluster workers, the one that expires first (a worker not yet reloaded).
    this.certificateExpiry = new Gauge({
      name: 'tlslp_certificate_expiry_timestamp_seconds',
      help: 'When the certificate in use expires (notAfter, Unix seconds): server, or ca (the first of the bundle to end); crl: the CRL nextUpdate',
      labelNames: ['which'],
      aggregator: 'min',
      registers,
    });
    // Across cluster workers, down if any worker finds the store down.
    this.stateUp = new Gauge({
      name: 'tlslp_state_up',
      help: 'Whether the shared state store answers (1) or not (0: each server uses its own limits); absent without --state',
      aggregator: 'min',
      registers,
    });
    this.stateFallbacks = new Counter({
      name: 'tlslp_state_fallbacks_total',
      help: 'Decisions made on local limits because the shared store did not answer in time, by call',
      labelNames: ['op'],
      registers,
    });
    this.fleetServers = new Gauge({
      name: 'tlslp_fleet_servers',
      help: 'Servers that reported to the shared state store lately',
      aggregator: 'max',
      registers,
    });
    this.fleetRefused = new Gauge({
      name: 'tlslp_fleet_connections_refused',
      help: 'Connections refused by a limit across the whole fleet, by limit (from the shared store)',
      labelNames: ['reason'],
      aggregator: 'max',
      registers,
    });
    if (options.defaultMetrics)
      collectDefaultMetrics({ register: this.registry, prefix: 'tlslp_' });
  }
}

/** Unix seconds of `date`, as the expiry gauges hold them. */
function unixSeconds(date: Date): number {
  return Math.floor(date.getTime() / 1000);
}

/**
 * `tlslp_certificate_expiry_timestamp_seconds` of the TLS material in use (at start, and on
 * each reload): the CRL's label goes when the material has no CRL with a nextUpdate (null).
 */
export function setExpiryGauges(
  metrics: ServerMetrics,
  ends: Pick<TlsReloadedEvent, 'serverNotAfter' | 'caNotAfter' | 'crlNextUpdate'>,
): void {
  const { serverNotAfter, caNotAfter, crlNextUpdate } = ends;
  if (crlNextUpdate) metrics.certificateExpiry.set({ which: 'crl' }, unixSeconds(crlNextUpdate));
  else if (crlNextUpdate === null) metrics.certificateExpiry.remove({ which: 'crl' });
  metrics.certificateExpiry.set({ which: 'server' }, unixSeconds(serverNotAfter));
  if (caNotAfter) metrics.certificateExpiry.set({ which: 'ca' }, unixSeconds(caNotAfter));
}

/** The hooks that keep `metrics` up to date from a server's events. */
export function metricsHooks(metrics: ServerMetrics): ServerEventHandlers {
  return {
    connectionRefused: ({ reason }) => metrics.connectionsRefused.inc({ reason }),
    handshakes: ({ inProgress }) => metrics.handshakesInProgress.set(inProgress),
    handshakeFailed: ({ reason }) => metrics.handshakeFailures.inc({ reason }),
    sessionStarted: () => {
      metrics.sessionsStarted.inc();
      metrics.sessionsInFlight.inc();
    },
    // Refused before HELLO: a session started and failed at once, without a duration.
    sessionRefused: ({ code }) => {
      metrics.sessionsStarted.inc();
      metrics.sessionsFailed.inc({ reason: sessionFailureReason(code) });
    },
    workAccepted: ({ ms }) => metrics.workSeconds.observe(ms / 1000),
    sessionEnded: ({ result, durationMs }) => {
      if (result.outcome === 'done') metrics.sessionsCompleted.inc({ outcome: 'done' });
      else if (result.outcome === 'fail-drawn')
        metrics.sessionsCompleted.inc({ outcome: 'fail_drawn' });
      else metrics.sessionsFailed.inc({ reason: sessionFailureReason(result.code) });
      metrics.sessionsInFlight.dec();
      metrics.sessionSeconds.observe(durationMs / 1000);
    },
    difficultyChanged: ({ to }) => metrics.nBits.set(to),
    tlsReloaded: (e) => {
      if (e.ok) setExpiryGauges(metrics, e);
    },
    // The label set is the top identities of this tick only: old labels go.
    identityDifficulty: ({ top }) => {
      metrics.identityNBits.reset();
      for (const t of top)
        metrics.identityNBits.set({ identity: identityLabel(t.identity) }, t.nBits);
    },
  };
}

/** Whether a server takes new sessions now, for a balancer's health check. */
export interface Readiness {
  /** Whether it does: `GET /readyz` answers 200 when true, 503 when false. */
  ready: boolean;
  /** Why not, e.g. `draining` or `at max-connections`. */
  reason?: string;
  /** Serving, but with something missing (e.g. the shared store): `/healthz` says what. */
  degraded?: string;
}

/** The exposition text of a registry, as `/metrics` serves it. */
export interface MetricsText {
  /** The Prometheus text. */
  text: string;
  /** Its `Content-Type`, as the registry gives it. */
  contentType: string;
}

/**
 * Limits of a metrics or health listener: it faces scrapers and balancers, so what a peer
 * can make it spend (sockets, renders, requests) is bounded, and the TLS server beside it
 * on the same thread keeps its share.
 */
export interface HttpListenerOptions {
  /** Most connections open at once (default 64); more are closed at accept. */
  maxConnections?: number;
  /** Most connections open at once from one IP address (default 8). */
  maxConnectionsPerIp?: number;
  /** Requests per second the listener answers in all (default 1000, bursts of twice that); past it 429. */
  requestsPerSecond?: number;
  /**
   * Requests per second one IP address gets answered (default 100, bursts of twice that);
   * past it 429. A scraper asks every few seconds, a balancer's check once a second or so.
   */
  requestsPerSecondPerIp?: number;
  /** A rendered `/metrics` is served from cache for this long (default 1000 ms). */
  cacheMs?: number;
  /** Time a client gets to send a request's headers (default 5000 ms). */
  headersTimeoutMs?: number;
  /** Time a client gets to send a whole request (default 10 000 ms). */
  requestTimeoutMs?: number;
  /** An idle keep-alive connection is closed after this long (default 5000 ms). */
  keepAliveTimeoutMs?: number;
}

/** A listening metrics or health endpoint. */
export interface HttpListener {
  /** The HTTP server. */
  server: Server;
  /** The bound port (useful with port 0). */
  port: number;
  /**
   * Stop serving: idle connections close at once, requests in progress get `graceMs`
   * (default 200) before their connections are cut. Never rejects.
   */
  close: (graceMs?: number) => Promise<void>;
}

/** A token bucket: `rate` tokens a second, at most `burst` kept. */
class Bucket {
  private tokens: number;
  private at = performance.now();
  constructor(
    private readonly rate: number,
    private readonly burst: number,
  ) {
    this.tokens = burst;
  }
  take(): boolean {
    const now = performance.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) / 1000) * this.rate);
    this.at = now;
    if (this.tokens < 1) return false;
    this.tokens--;
    return true;
  }
}

/** Per-IP buckets, the oldest dropped past this many (a bucket a flood forgets is a full one). */
const MAX_IP_BUCKETS = 4096;

/**
 * The text of `produce`, made at most once per `ttlMs` and shared by the requests in between
 * (a failure too, so a broken source is not retried by every request).
 */
export function cachedRender(
  produce: () => Promise<MetricsText>,
  ttlMs: number,
): () => Promise<MetricsText> {
  let last: { at: number; value: Promise<MetricsText> } | null = null;
  return () => {
    const now = performance.now();
    if (last && now - last.at < ttlMs) return last.value;
    const value = produce();
    // The clock starts when the render ends: a slow render is not redone back to back.
    const entry = { at: Infinity, value };
    last = entry;
    const stamp = (): void => void (entry.at = performance.now());
    value.then(stamp, stamp);
    return value;
  };
}

/** Which endpoints a listener serves. */
type Endpoints = 'metrics' | 'health';

async function serveHttp(
  what: Endpoints,
  produce: (() => Promise<MetricsText>) | null,
  host: string,
  port: number,
  readiness: () => Readiness,
  options: HttpListenerOptions,
): Promise<HttpListener> {
  const render = produce ? cachedRender(produce, options.cacheMs ?? 1000) : null;
  const perSecond = options.requestsPerSecond ?? 1000;
  const perIpSecond = options.requestsPerSecondPerIp ?? 100;
  const overall = new Bucket(perSecond, perSecond * 2);
  const perIp = new Map<string, Bucket>();
  const connectionsPerIp = new Map<string, number>();
  const maxPerIp = options.maxConnectionsPerIp ?? 8;
  const allowed = (ip: string): boolean => {
    let bucket = perIp.get(ip);
    if (!bucket) {
      if (perIp.size >= MAX_IP_BUCKETS) perIp.delete(perIp.keys().next().value as string);
      bucket = new Bucket(perIpSecond, perIpSecond * 2);
      perIp.set(ip, bucket);
    }
    // Both are spent: one IP's flood cannot use up the listener for the others.
    return bucket.take() && overall.take();
  };
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (!allowed(req.socket.remoteAddress ?? '')) {
      // Closing the connection makes a pipelining client come back through the caps.
      res
        .writeHead(429, { 'Retry-After': '1', Connection: 'close', 'Content-Type': 'text/plain' })
        .end('too many requests\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end('method not allowed\n');
      return;
    }
    if (path === '/healthz') {
      const degraded = readiness().degraded;
      res
        .writeHead(200, { 'Content-Type': 'text/plain' })
        .end(degraded ? `ok (degraded: ${degraded})\n` : 'ok\n');
      return;
    }
    if (path === '/readyz') {
      const r = readiness();
      res
        .writeHead(r.ready ? 200 : 503, { 'Content-Type': 'text/plain' })
        .end(r.ready ? 'ready\n' : `not ready: ${r.reason ?? 'unavailable'}\n`);
      return;
    }
    if (!render || (path !== '/metrics' && path !== '/')) {
      res.writeHead(404).end('not found\n');
      return;
    }
    render().then(
      ({ text, contentType }) => res.writeHead(200, { 'Content-Type': contentType }).end(text),
      (err: Error) => res.writeHead(500).end(`${err.message}\n`),
    );
  };
  const server = createServer(
    {
      headersTimeout: options.headersTimeoutMs ?? HEADERS_TIMEOUT_MS,
      requestTimeout: options.requestTimeoutMs ?? 10_000,
      keepAliveTimeout: options.keepAliveTimeoutMs ?? KEEP_ALIVE_TIMEOUT_MS,
      // Node checks the two timeouts above this often (default 30 s).
      connectionsCheckingInterval: 1000,
    },
    handle,
  );
  server.maxConnections = options.maxConnections ?? 64;
  // Nor is a connection that never sends a byte kept: idle is idle, whatever its state.
  const idleMs = Math.max(
    options.headersTimeoutMs ?? HEADERS_TIMEOUT_MS,
    options.keepAliveTimeoutMs ?? KEEP_ALIVE_TIMEOUT_MS,
  );
  server.on('connection', (socket: Socket) => {
    const ip = socket.remoteAddress ?? '';
    const n = (connectionsPerIp.get(ip) ?? 0) + 1;
    if (n > maxPerIp) {
      socket.destroy();
      return;
    }
    connectionsPerIp.set(ip, n);
    socket.once('close', () => {
      const left = (connectionsPerIp.get(ip) ?? 1) - 1;
      if (left > 0) connectionsPerIp.set(ip, left);
      else connectionsPerIp.delete(ip);
    });
    socket.setTimeout(idleMs + 1000, () => socket.destroy());
  });
  // A peer that resets is its own problem; a bad request gets Node's 400 and a close.
  server.on('clientError', (_err, socket: Socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(listenError(err, what, hostPort(host, port))),
    );
    server.listen(port, host, resolve);
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: (graceMs = 200) =>
      new Promise<void>((resolve) => {
        const cut = setTimeout(() => server.closeAllConnections(), graceMs);
        server.close(() => {
          clearTimeout(cut);
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
}

/**
 * Serve `GET /metrics` from `registry` (or from a function producing the text, for cluster
 * mode) on host:port, and the health endpoints a balancer checks: `GET /healthz` answers 200
 * while the process serves; `GET /readyz` 200 while `readiness()` says ready, else 503 (so a
 * balancer takes a draining or full server out before it stops).
 *
 * The text is rendered at most once per `options.cacheMs` (1 s), shared by the requests in
 * between; the health answers never wait for a render. Connections, requests and idle time
 * are bounded (see {@link HttpListenerOptions}): a flood gets 429s, not the server's CPU.
 */
export async function serveMetrics(
  source: Registry | (() => Promise<MetricsText>),
  host: string,
  port: number,
  readiness: () => Readiness = () => ({ ready: true }),
  options: HttpListenerOptions = {},
): Promise<HttpListener> {
  const produce =
    typeof source === 'function'
      ? source
      : async () => ({ text: await source.metrics(), contentType: source.contentType });
  return serveHttp('metrics', produce, host, port, readiness, options);
}

/**
 * Serve only `GET /healthz` and `GET /readyz` (as {@link serveMetrics} does) on host:port:
 * what a balancer checks, on an interface of its own, while the metrics stay on loopback.
 */
export function serveHealth(
  host: string,
  port: number,
  readiness: () => Readiness = () => ({ ready: true }),
  options: HttpListenerOptions = {},
): Promise<HttpListener> {
  return serveHttp('health', null, host, port, readiness, options);
}
