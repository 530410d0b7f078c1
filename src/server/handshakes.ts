/**
 * The handshakes in progress: each admitted connection metered (its bytes, before OpenSSL
 * sees them) and timed (a deadline that shrinks as the slots fill) through its TLS
 * handshake, its failure reported once and charged to its IP's budget, its success handed on
 * to the identity check.
 * @module
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Socket } from 'node:net';
import type tls from 'node:tls';
import { handshakeFailureReason } from '../errors/index.js';
import type { FleetState } from '../state/fleet.js';
import { describeSocketError } from '../transport/channel.js';
import { HandshakeMeter } from '../transport/handshake-meter.js';
import { looksLikeProxyHeader } from '../protocol/proxy-header.js';
import { Tally } from './tally.js';
import { handshakeRefusal } from './client-cert.js';
import type { Conn, GateLimits } from './connection.js';
import type { ServerEmitter } from './events.js';
import { bump } from './stats.js';

/** The shortest a handshake deadline gets when every handshake slot is taken. */
const MIN_HANDSHAKE_DEADLINE_MS = 1000;

/** Bytes of a handshake per failure-budget token. */
const HANDSHAKE_COST_BYTES = 4096;

/** Failure-budget tokens a handshake of `bytes` costs: one per started 4 KiB (a bigger one cost more to check). */
export function handshakeCost(bytes: number): number {
  return Math.ceil(bytes / HANDSHAKE_COST_BYTES);
}

/**
 * Which connection a TLS socket of the shared tls.Server runs on. Node has no public link from
 * a TLS socket to the stream it wraps, but the TLS socket is created inside `run(conn, …)`,
 * and async context flows into its handshake callbacks, so its events see their own Conn.
 */
const current = new AsyncLocalStorage<Conn>();

/** The handshakes of one server. */
export class HandshakeTracker {
  /** Failed handshakes, in total, and by reason. */
  failures = 0;
  readonly failuresByReason: Record<string, number> = {};
  /** Connections in their handshake, oldest first (for the shrinking deadline). */
  private readonly pending = new Set<Conn>();
  private readonly perIp = new Tally();

  constructor(
    private readonly limits: GateLimits,
    private readonly tlsServer: tls.Server,
    /** The failure budget, this server's own or the fleet's. */
    private readonly fleet: FleetState,
    private readonly events: ServerEmitter,
    /** A handshake completed: judge who it is (runs outside the connection's async context). */
    private readonly onSecure: (socket: tls.TLSSocket, conn: Conn) => void,
  ) {
    tlsServer.on('secureConnection', (socket: tls.TLSSocket) => {
      const conn = current.getStore();
      if (!conn || conn.state !== 'pending') {
        socket.destroy();
        return;
      }
      // The session runs outside this connection's context: nothing after it needs the Conn.
      current.exit(() => this.onSecure(socket, conn));
    });
    tlsServer.on('tlsClientError', (err: Error, socket: tls.TLSSocket) => {
      const conn = current.getStore();
      // No certificate, or one OpenSSL could not verify: logged and counted by its reason.
      const refusal = conn && handshakeRefusal(err, socket);
      if (conn && refusal)
        this.failed(conn, refusal.code, `client certificate refused: ${refusal.text}`);
      else if (conn) this.failed(conn, reasonCode(err), describeSocketError(err), err);
      socket.destroy();
    });
  }

  /** Connections in their handshake now. */
  get size(): number {
    return this.pending.size;
  }

  /** Connections of `ip` in their handshake now. */
  of(ip: string): number {
    return this.perIp.get(ip);
  }

  /**
   * Meter and time the handshake of a connection admitted now; its TLS socket is created
   * once the client sends something.
   * @param screenProxy refuse a PROXY header in its first bytes (a source not trusted to send one)
   */
  start(raw: Socket, ip: string, peer: string, screenProxy: boolean): Conn {
    const limit = this.limits.maxHandshakeBytes;
    // The callbacks below run on later events, once `conn` exists.
    const meter = new HandshakeMeter(raw, {
      maxBytes: limit,
      onTooLarge: (bytes) =>
        this.failed(
          conn,
          'HANDSHAKE_TOO_LARGE',
          `sent ${bytes} bytes without completing the handshake (limit ${limit}, maxHandshakeBytes)`,
        ),
      // Only a trusted balancer may say whose connection this is.
      screen: screenProxy
        ? (first) => {
            if (!looksLikeProxyHeader(first)) return true;
            this.failed(
              conn,
              'PROXY_HEADER_UNTRUSTED',
              'sent a PROXY protocol header but is not a trusted source (proxyFrom)',
            );
            return false;
          }
        : undefined,
      // The TLS socket (and OpenSSL's buffers) exist only once the client has sent something.
      onFirstData: () => current.run(conn, () => this.tlsServer.emit('connection', meter)),
    });
    // Counted with the connection admitted now, as the slots will be once it is pending.
    const deadline = this.deadline(1);
    const conn: Conn = {
      ip,
      peer,
      raw,
      meter,
      acceptedAt: performance.now(),
      state: 'pending',
      timer: setTimeout(
        () => this.failed(conn, 'HANDSHAKE_TIMEOUT', `no TLS handshake within ${deadline} ms`),
        deadline,
      ),
    };
    this.pending.add(conn);
    this.perIp.up(ip);
    this.changed();
    if (deadline < this.limits.handshakeTimeoutMs) this.sweep();
    return conn;
  }

  /** The connection's TCP socket closed: a failure, unless its handshake ended already. */
  closed(conn: Conn): void {
    // A TLS error for this connection is reported first, when there is one.
    setImmediate(() => this.closedEarly(conn));
  }

  /** Cut every handshake in progress (the server is closing), reported now. */
  cut(): void {
    for (const conn of [...this.pending]) this.closedEarly(conn);
  }

  /** The handshake completed and the certificate passed: no longer pending, no longer metered. */
  secured(conn: Conn): void {
    conn.state = 'secure';
    conn.meter.secured();
    this.leave(conn);
  }

  /**
   * Report a failed handshake once, spend the IP's budget by its size, and cut it.
   * @param cut false: the caller closes it (after telling the client why in a FAIL)
   */
  failed(
    conn: Conn,
    code: string,
    text: string,
    error?: Error,
    spendBudget = true,
    cut = true,
  ): void {
    if (conn.state !== 'pending') return;
    conn.state = 'failed';
    this.leave(conn);
    const bytes = conn.meter.bytesReceived;
    if (spendBudget) this.fleet.failed(conn.ip, handshakeCost(bytes));
    const reason = handshakeFailureReason(code);
    this.failures++;
    bump(this.failuresByReason, reason);
    this.events.emit('handshakeFailed', {
      server: this.events.server,
      ip: conn.ip,
      peer: conn.peer,
      reason,
      text,
      bytes,
      ...(error ? { error } : {}),
    });
    if (cut) conn.raw.destroy();
  }

  /** The connection closed (or is cut) in its handshake: report it, unless reported already. */
  private closedEarly(conn: Conn): void {
    // Connect-and-close without a byte (a port scan, a TCP health check) costs nothing and
    // spends no budget; it is still counted.
    const silent = conn.meter.bytesReceived === 0;
    this.failed(
      conn,
      'CLOSED_EARLY',
      silent ? 'closed before sending anything' : 'closed during the handshake',
      undefined,
      !silent,
    );
  }

  /**
   * The handshake deadline for a connection accepted now: the full one while at most half of
   * the handshake slots are taken, then shorter in proportion, down to 1 s when all are.
   * @param joining connections about to join the pending set, counted as taken slots
   */
  private deadline(joining = 0): number {
    const full = this.limits.handshakeTimeoutMs;
    const fill = (this.pending.size + joining) / Math.max(1, this.limits.maxHandshakes);
    if (fill <= 0.5) return full;
    return Math.max(Math.min(full, MIN_HANDSHAKE_DEADLINE_MS), Math.round(full * 2 * (1 - fill)));
  }

  /** Cut the handshakes that have run past the deadline the current fill allows. */
  private sweep(): void {
    const deadline = this.deadline();
    const now = performance.now();
    for (const conn of this.pending) {
      if (now - conn.acceptedAt < deadline) break;
      this.failed(conn, 'HANDSHAKE_TIMEOUT', `no TLS handshake within ${deadline} ms`);
    }
  }

  /** The connection is no longer in its handshake (done, failed or closed). */
  private leave(conn: Conn): void {
    if (!this.pending.delete(conn)) return;
    clearTimeout(conn.timer);
    this.perIp.down(conn.ip);
    this.changed();
  }

  private changed(): void {
    const events = this.events;
    if (events.wants('handshakes'))
      events.emit('handshakes', { server: events.server, inProgress: this.pending.size });
  }
}

/** A stable code for a TLS error: Node's or OpenSSL's code, else a generic one. */
function reasonCode(err: Error): string {
  return (err as NodeJS.ErrnoException).code ?? 'TLS_ERROR';
}
