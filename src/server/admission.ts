/**
 * Admission before TLS: every TCP connection is admitted or refused by the limits before it
 * costs a handshake (sessions in flight, handshake slots, the failure budget), and a trusted
 * balancer's PROXY header is read first to learn whose connection it is.
 * @module
 */
import type { Socket } from 'node:net';
import type { FleetState } from '../state/fleet.js';
import type { GateLimits } from './connection.js';
import type { RefusalReason, ServerEmitter } from './events.js';
import type { HandshakeTracker } from './handshakes.js';
import { plainAddress, readProxyHeader } from './proxy.js';
import { hostPort } from '../text/address.js';
import type { SessionSlots } from './slots.js';
import { bump } from './stats.js';

/** Deadline for a balancer's PROXY header; it sends it at once, so a short one. */
const PROXY_HEADER_TIMEOUT_MS = 3000;

/** The admission of one server. */
export class Admission {
  /** Every TCP connection open now, in its handshake or a session. */
  readonly sockets = new Set<Socket>();
  /** TCP connections admitted before TLS, in total. */
  connections = 0;
  /** Connections closed by a limit (before TLS, or after it for the session limits), in total and by limit. */
  refused = 0;
  readonly refusedByReason: Record<string, number> = {};
  /** Connections from a balancer whose PROXY header has not arrived yet, with the balancer's address. */
  private readonly awaitingHeader = new Map<Socket, string>();

  constructor(
    private readonly limits: GateLimits,
    private readonly slots: SessionSlots,
    private readonly handshakes: HandshakeTracker,
    /** The failure budget (and the fleet's refusal counts). */
    private readonly fleet: FleetState,
    private readonly events: ServerEmitter,
  ) {}

  /** A TCP connection arrived. */
  accept(raw: Socket): void {
    const direct = raw.remoteAddress ?? 'unknown';
    const proxy = this.limits.proxy;
    if (proxy?.trusts(direct)) {
      this.acceptFromBalancer(raw, direct);
      return;
    }
    this.admit(raw, direct, raw.remotePort ?? '?', proxy !== null);
  }

  /** Close a connection for a limit it hit, counted and reported. */
  refuse(socket: Socket, ip: string, reason: RefusalReason, detail?: string): void {
    this.fleet.countRefusal(reason);
    this.refused++;
    bump(this.refusedByReason, reason);
    this.events.emit('connectionRefused', {
      server: this.events.server,
      ip,
      reason,
      ...(detail ? { detail } : {}),
    });
    // A reset, not a close: a flood of refusals leaves no TIME_WAIT sockets on this side.
    socket.resetAndDestroy();
  }

  /** Cut the connections still waiting for their PROXY header (the server is closing), reported now. */
  cut(): void {
    for (const [raw, direct] of [...this.awaitingHeader]) {
      this.awaitingHeader.delete(raw);
      const where = raw.bytesRead === 0 ? 'before' : 'in';
      raw.destroy();
      this.refuse(raw, direct, 'proxy-header', `closed ${where} its PROXY header`);
    }
  }

  /** Handshake slots taken: handshakes in progress and balancer connections before their header. */
  private get handshakeSlots(): number {
    return this.handshakes.size + this.awaitingHeader.size;
  }

  /** Why a new connection from `ip` is refused before TLS, or null. */
  private refusalFor(ip: string): RefusalReason | null {
    const o = this.limits;
    const sessionLimit = this.slots.limitFor(ip);
    if (sessionLimit) return sessionLimit;
    if (this.handshakeSlots >= o.maxHandshakes) return 'max-handshakes';
    if (this.handshakes.of(ip) >= o.maxHandshakesPerIp) return 'max-handshakes-per-ip';
    if (!this.fleet.allows(ip)) return 'handshake-failures';
    return null;
  }

  /**
   * A connection from a balancer: its PROXY header names the client, whose address the
   * limits, budgets, logs and metrics then use. Only the global slot count applies before it.
   */
  private acceptFromBalancer(raw: Socket, direct: string): void {
    if (this.handshakeSlots >= this.limits.maxHandshakes) {
      this.refuse(raw, direct, 'max-handshakes');
      return;
    }
    raw.on('error', () => {
      /* a reset in the header phase shows as the close */
    });
    this.awaitingHeader.set(raw, direct);
    this.sockets.add(raw);
    raw.once('close', () => this.sockets.delete(raw));
    const timeout = Math.min(this.limits.handshakeTimeoutMs, PROXY_HEADER_TIMEOUT_MS);
    void readProxyHeader(raw, timeout).then((read) => {
      // Cut by close() meanwhile: reported then.
      if (!this.awaitingHeader.delete(raw)) return;
      if (!read.ok) {
        this.refuse(raw, direct, 'proxy-header', read.reason);
        return;
      }
      // LOCAL (the balancer's own check) and families without an address: the socket's own.
      const source = read.header.source;
      const ip = source ? plainAddress(source.address) : direct;
      const port = source ? source.port : (raw.remotePort ?? '?');
      if (read.rest.length > 0) raw.unshift(read.rest);
      this.admit(raw, ip, port, false);
      raw.resume();
    });
  }

  /**
   * Admit a connection of client `ip` or refuse it, before TLS.
   * @param screenProxy refuse a PROXY header in its first bytes (a source not trusted to send one)
   */
  private admit(raw: Socket, ip: string, port: number | string, screenProxy: boolean): void {
    // Runs before TLS: a stranger costs a socket and a few counters until it is admitted.
    const why = this.refusalFor(ip);
    if (why) {
      this.refuse(raw, ip, why);
      return;
    }
    this.sockets.add(raw);
    raw.on('error', () => {
      /* reported through the TLS socket or the session */
    });
    this.connections++;
    const peer = hostPort(ip, port);
    const events = this.events;
    if (events.wants('connectionAccepted'))
      events.emit('connectionAccepted', { server: events.server, ip, peer });
    const conn = this.handshakes.start(raw, ip, peer, screenProxy);
    raw.once('close', () => {
      this.sockets.delete(raw);
      this.handshakes.closed(conn);
    });
  }
}
