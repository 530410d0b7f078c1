/**
 * Prometheus metrics of a server (prom-client), on a registry of its own so several
 * servers (tests, cluster workers) never collide.
 * @module
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { sessionFailureReason } from '../errors.js';
import { listenError } from '../transport/channel.js';
import { hostPort } from '../text/address.js';
import { subscribeServer, type EventSource } from './events.js';
import { identityLabel } from './identity.js';

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
   * (Unix seconds): `server`, or `ca` (the first to end of the CA bundle). Updated on reload.
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
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800],
      registers,
    });
    this.sessionSeconds = new Histogram({
      name: 'tlslp_session_duration_seconds',
      help: 'Session duration, TLS handshake to close',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800],
      registers,
    });
    // Across cluster workers, the one that expires first (a worker not yet reloaded).
    this.certificateExpiry = new Gauge({
      name: 'tlslp_certificate_expiry_timestamp_seconds',
      help: 'When the certificate in use expires (notAfter, Unix seconds): server, or ca (the first of the bundle to end)',
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

/**
 * Keep `metrics` up to date from the events of `server`.
 * @returns a function that stops it
 */
export function trackMetrics(server: EventSource, metrics: ServerMetrics): () => void {
  return subscribeServer(server, {
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
      if (result.outcome === 'done' || result.outcome === 'fail-drawn')
        metrics.sessionsCompleted.inc({ outcome: result.outcome.replace('-', '_') });
      else metrics.sessionsFailed.inc({ reason: sessionFailureReason(result.code) });
      metrics.sessionsInFlight.dec();
      metrics.sessionSeconds.observe(durationMs / 1000);
    },
    difficultyChanged: ({ to }) => metrics.nBits.set(to),
    tlsReloaded: ({ ok, serverNotAfter, caNotAfter }) => {
      if (!ok) return;
      metrics.certificateExpiry.set(
        { which: 'server' },
        Math.floor(serverNotAfter.getTime() / 1000),
      );
      if (caNotAfter)
        metrics.certificateExpiry.set({ which: 'ca' }, Math.floor(caNotAfter.getTime() / 1000));
    },
    // The label set is the top identities of this tick only: old labels go.
    identityDifficulty: ({ top }) => {
      metrics.identityNBits.reset();
      for (const t of top)
        metrics.identityNBits.set({ identity: identityLabel(t.identity) }, t.nBits);
    },
  });
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

/**
 * Serve `GET /metrics` from `registry` (or from a function producing the text, for cluster
 * mode) on host:port, and the health endpoints a balancer checks: `GET /healthz` answers 200
 * while the process serves; `GET /readyz` 200 while `readiness()` says ready, else 503 (so a
 * balancer takes a draining or full server out before it stops).
 */
export async function serveMetrics(
  source: Registry | (() => Promise<{ text: string; contentType: string }>),
  host: string,
  port: number,
  readiness: () => Readiness = () => ({ ready: true }),
): Promise<{
  /** The HTTP server. */
  server: Server;
  /** The bound port (useful with port 0). */
  port: number;
  /** Stop serving. */
  close: () => Promise<void>;
}> {
  const produce =
    typeof source === 'function'
      ? source
      : async () => ({ text: await source.metrics(), contentType: source.contentType });
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0];
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
    if (path !== '/metrics' && path !== '/') {
      res.writeHead(404).end('not found\n');
      return;
    }
    produce().then(
      ({ text, contentType }) => res.writeHead(200, { 'Content-Type': contentType }).end(text),
      (err: Error) => res.writeHead(500).end(`${err.message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(listenError(err, 'metrics', hostPort(host, port))),
    );
    server.listen(port, host, resolve);
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
