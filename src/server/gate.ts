/**
 * The gate in front of the sessions: every TCP connection is admitted or refused before TLS,
 * metered and timed through its handshake, and its client certificate judged, before it
 * may become a session. What happens is published as events (see events.ts); the gate keeps
 * only the counts its decisions need.
 * @module
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { X509Certificate } from 'node:crypto';
import type { Socket } from 'node:net';
import type tls from 'node:tls';
import { handshakeFailureReason } from '../errors/index.js';
import type { ResolvedServerTable } from '../options/server.js';
import { describeSocketError } from '../transport/channel.js';
import { HandshakeMeter } from '../transport/handshake-meter.js';
import { hostPort } from '../text/address.js';
import { Tally } from './admission.js';
import type { FleetState } from '../state/fleet.js';
import type { Lease } from '../state/backend.js';
import {
  handshakeRefusal,
  judgeClientCert,
  refusalReason,
  type Revocation,
} from './client-cert.js';
import {
  AllowList,
  certNames,
  describeNames,
  identityOf,
  type CertNames,
  type ClientIdentity,
} from './identity.js';
import { formatServerMessage } from '../protocol/messages.js';
import { FAIL_REASONS } from './session.js';
import { publish, type EventSource, type RefusalReason } from './events.js';
import { plainAddress, readProxyHeader, type ProxyTrust } from './proxy.js';
import { looksLikeProxyHeader } from '../protocol/proxy-header.js';

/** The limits the gate enforces (the server's options of the same names). */
export interface GateLimits extends Pick<
  ResolvedServerTable,
  | 'maxConnections'
  | 'maxPerIp'
  | 'maxHandshakes'
  | 'maxHandshakesPerIp'
  | 'maxHandshakeBytes'
  | 'maxChainDepth'
  | 'maxHandshakeFailuresPerIp'
  | 'handshakeTimeoutMs'
  | 'insecure'
  | 'allowCn'
  | 'allowOu'
  | 'allowDns'
  | 'allowUri'
  | 'maxPerIdentity'
  | 'otherTimeoutMs'
> {
  /**
   * The sources that must send a PROXY protocol header before TLS (a balancer); null = the
   * PROXY protocol is off. A header from any other source is refused.
   */
  proxy: ProxyTrust | null;
  /** Ask the fleet for each identity's extra n_bits (per-identity difficulty with a store). */
  fleetIdentityBits?: boolean;
}

/** Deadline for a balancer's PROXY header; it sends it at once, so a short one. */
const PROXY_HEADER_TIMEOUT_MS = 3000;

/** A connection that passed the gate: its handshake completed and its certificate is good. */
export interface AdmittedConnection {
  /** The client's IP address. */
  readonly ip: string;
  /** `ip:port`, taken at accept (a closed socket no longer knows its peer). */
  readonly peer: string;
  /** The TCP socket under the TLS socket. */
  readonly raw: Socket;
  /** Who the client is, by its certificate; absent in insecure mode. */
  readonly identity?: ClientIdentity;
  /** Extra n_bits the fleet asks of this identity (shared store), 0 if none. */
  readonly fleetExtraBits?: number;
  /** The fleet lease of this session (shared store), given back when it ends. */
  readonly lease?: Lease;
}

/** One accepted TCP connection, from accept to close. */
interface Conn extends AdmittedConnection {
  identity?: ClientIdentity;
  fleetExtraBits?: number;
  lease?: Lease;
  readonly meter: HandshakeMeter;
  readonly acceptedAt: number;
  readonly timer: NodeJS.Timeout;
  state: 'pending' | 'failed' | 'secure';
}

/**
 * Which connection a TLS socket of the shared tls.Server runs on. Node has no public link from
 * a TLS socket to the stream it wraps, but the TLS socket is created inside `run(conn, …)`,
 * and async context flows into its handshake callbacks, so its events see their own Conn.
 */
const current = new AsyncLocalStorage<Conn>();

/** The gate of one server. */
export class Gate {
  /** Every TCP connection open now, in its handshake or a session. */
  readonly sockets = new Set<Socket>();
  /** Connections in their handshake, oldest first (for the shrinking deadline). */
  private readonly pending = new Set<Conn>();
  private readonly pendingPerIp = new Tally();
  /** Sessions in flight per IP: the `maxPerIp` limit and the adaptive controller's load. */
  private readonly sessionsPerIp = new Tally();
  private sessions = 0;
  /** Connections from a balancer whose PROXY header has not arrived yet. */
  private readonly awaitingHeader = new Set<Socket>();
  private allow: AllowList;
  /** Sessions in flight per client certificate (fingerprint): the `maxPerIdentity` limit. */
  private readonly sessionsPerIdentity = new Tally();

  constructor(
    private readonly server: EventSource,
    private readonly limits: GateLimits,
    private readonly tlsServer: tls.Server,
    /** The CA certificates, parsed once (see judgeClientCert). */
    private readonly trustedCas: readonly X509Certificate[],
    private readonly onAdmitted: (socket: tls.TLSSocket, conn: AdmittedConnection) => void,
    /** The failure budget and session leases, this server's own or the fleet's. */
    private readonly fleet: FleetState,
    /** The CRLs chains are looked up in (the server swaps their list on reload). */
    private readonly revocation?: Revocation,
  ) {
    this.allow = new AllowList(limits);
    tlsServer.on('secureConnection', (socket: tls.TLSSocket) => this.onSecure(socket));
    tlsServer.on('tlsClientError', (err: Error, socket: tls.TLSSocket) => {
      const conn = current.getStore();
      // No certificate, or one OpenSSL could not verify: logged and counted by its reason.
      const refusal = conn && handshakeRefusal(err, socket);
      if (conn && refusal)
        this.handshakeFailed(conn, refusal.code, `client certificate refused: ${refusal.text}`);
      else if (conn) this.handshakeFailed(conn, reasonCode(err), describeSocketError(err), err);
      socket.destroy();
    });
  }

  /**
   * Judge new connections by `policy` from now on (the server's reconfigure: allow-lists and
   * limits); connections already admitted keep going.
   */
  reconfigure(policy: Partial<Omit<GateLimits, 'proxy' | 'insecure'>>): void {
    Object.assign(this.limits, policy);
    this.allow = new AllowList(this.limits);
  }

  /** Sessions in flight. */
  get inFlight(): number {
    return this.sessions;
  }

  /** Sessions in flight, each IP counted at most `cap` times (the adaptive load). */
  weightedSessions(cap: number): number {
    let total = 0;
    for (const n of this.sessionsPerIp.values()) total += Math.min(n, cap);
    return total;
  }

  /** A session of an admitted connection started. */
  sessionStarted({ ip, identity }: AdmittedConnection): void {
    this.sessions++;
    this.sessionsPerIp.up(ip);
    if (identity) this.sessionsPerIdentity.up(identity.fp);
  }

  /**
   * A session ended. One that ends before its WORK is solved (dropped at WORK, reset,
   * rejected) is a failure of its IP: a client that never pays cannot keep the server busy
   * with handshakes.
   */
  sessionEnded({ ip, identity, lease }: AdmittedConnection, solved: boolean): void {
    this.sessions--;
    this.sessionsPerIp.down(ip);
    if (identity) this.sessionsPerIdentity.down(identity.fp);
    if (lease) this.fleet.release(lease);
    if (!solved) this.fleet.failed(ip);
  }

  /** Cut every connection still in its handshake (the server is closing). */
  cutPending(): void {
    for (const raw of [...this.awaitingHeader]) raw.destroy();
    for (const conn of [...this.pending]) conn.raw.destroy();
  }

  /** Which session limit a new session from `ip` would pass, or null. */
  private sessionLimitFor(ip: string): RefusalReason | null {
    const o = this.limits;
    if (this.sessions >= o.maxConnections) return 'max-connections';
    if (o.maxPerIp > 0 && this.sessionsPerIp.get(ip) >= o.maxPerIp) return 'max-per-ip';
    return null;
  }

  /** Why a new connection from `ip` is refused before TLS, or null. */
  private refusalFor(ip: string): RefusalReason | null {
    const o = this.limits;
    const sessionLimit = this.sessionLimitFor(ip);
    if (sessionLimit) return sessionLimit;
    if (this.pending.size + this.awaitingHeader.size >= o.maxHandshakes) return 'max-handshakes';
    if (this.pendingPerIp.get(ip) >= o.maxHandshakesPerIp) return 'max-handshakes-per-ip';
    if (!this.fleet.allows(ip)) return 'handshake-failures';
    return null;
  }

  private refuse(socket: Socket, ip: string, reason: RefusalReason, detail?: string): void {
    this.fleet.countRefusal(reason);
    publish('connectionRefused', {
      server: this.server,
      ip,
      reason,
      ...(detail ? { detail } : {}),
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
    const full = this.limits.handshakeTimeoutMs;
    const fill = (this.pending.size + joining) / Math.max(1, this.limits.maxHandshakes);
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

  /**
   * A connection from a balancer: its PROXY header names the client, whose address the
   * limits, budgets, logs and metrics then use. Only the global slot count applies before it.
   */
  private acceptFromBalancer(raw: Socket, direct: string): void {
    if (this.pending.size + this.awaitingHeader.size >= this.limits.maxHandshakes) {
      this.refuse(raw, direct, 'max-handshakes');
      return;
    }
    raw.on('error', () => {
      /* a reset in the header phase shows as the close */
    });
    this.awaitingHeader.add(raw);
    this.sockets.add(raw);
    raw.once('close', () => this.sockets.delete(raw));
    const timeout = Math.min(this.limits.handshakeTimeoutMs, PROXY_HEADER_TIMEOUT_MS);
    void readProxyHeader(raw, timeout).then((read) => {
      this.awaitingHeader.delete(raw);
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
    const limit = this.limits.maxHandshakeBytes;
    // The callbacks below run on later events, once `conn` exists.
    const meter = new HandshakeMeter(raw, {
      maxBytes: limit,
      onTooLarge: (bytes) =>
        this.handshakeFailed(
          conn,
          'HANDSHAKE_TOO_LARGE',
          `sent ${bytes} bytes without completing the handshake (limit ${limit}, maxHandshakeBytes)`,
        ),
      // Only a trusted balancer may say whose connection this is.
      screen: screenProxy
        ? (first) => {
            if (!looksLikeProxyHeader(first)) return true;
            this.handshakeFailed(
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
    const deadline = this.handshakeDeadline(1);
    const peer = hostPort(ip, port);
    const conn: Conn = {
      ip,
      peer,
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
    this.pending.add(conn);
    this.pendingPerIp.up(ip);
    publish('connectionAccepted', { server: this.server, ip, peer });
    this.pendingChanged();
    if (deadline < this.limits.handshakeTimeoutMs) this.sweepPending();
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

  private pendingChanged(): void {
    publish('handshakes', { server: this.server, inProgress: this.pending.size });
  }

  /** Report a failed handshake once, spend a token of the IP's budget, and cut it. */
  private handshakeFailed(
    conn: Conn,
    code: string,
    text: string,
    error?: Error,
    spendBudget = true,
    cut = true,
  ): void {
    if (conn.state !== 'pending') return;
    conn.state = 'failed';
    this.leavePending(conn);
    const bytes = conn.meter.bytesReceived;
    // A bigger handshake cost more to check: it spends a token per started 4 KiB.
    if (spendBudget) this.fleet.failed(conn.ip, Math.ceil(bytes / 4096));
    publish('handshakeFailed', {
      server: this.server,
      ip: conn.ip,
      peer: conn.peer,
      reason: handshakeFailureReason(code),
      text,
      bytes,
      ...(error ? { error } : {}),
    });
    if (cut) conn.raw.destroy();
  }

  /** A handshake completed: judge the certificate, then apply the session limits. */
  private onSecure(socket: tls.TLSSocket): void {
    const conn = current.getStore();
    if (!conn || conn.state !== 'pending') {
      socket.destroy();
      return;
    }
    let names: CertNames | undefined;
    if (!this.limits.insecure) {
      const plain = socket.getPeerCertificate(false);
      const refusal = judgeClientCert(
        socket,
        this.limits.maxChainDepth,
        this.trustedCas,
        plain,
        this.revocation,
      );
      if (refusal) {
        // A refusal that is the server's doing (an out-of-date CRL) spends no client budget.
        const text = `client certificate refused: ${refusal.text}`;
        this.handshakeFailed(conn, refusal.code, text, undefined, !refusal.serverFault, false);
        // No public API sends a TLS alert once the handshake is done: the client hears why
        // in a FAIL line before HELLO, as docs/protocol.md allows.
        this.sayFail(socket, refusalReason(refusal.code));
        return;
      }
      names = certNames(plain);
      conn.identity = identityOf(plain, names);
    }
    conn.state = 'secure';
    conn.meter.secured();
    this.leavePending(conn);
    socket.disableRenegotiation();
    // Who the certificate names, and how many sessions it has: decided before HELLO, so a
    // refused certificate costs its handshake and no more.
    if (names && conn.identity && !this.allow.allows(names)) {
      const others = describeNames(names);
      this.refuseIdentity(conn, socket, conn.identity, 'TLSLP_ERR_NOT_AUTHORIZED', {
        reason: FAIL_REASONS.notAuthorized,
        detail: `on none of the allow-lists${others ? ` (${others})` : ''}`,
      });
      return;
    }
    // Sessions may have started while this one was in its handshake.
    const limit = this.localLimitFor(conn);
    if (limit) {
      this.refuseAtLimit(conn, socket, limit, '');
      return;
    }
    const o = this.limits;
    const fleetLimited =
      o.maxPerIp > 0 ||
      (conn.identity !== undefined && (o.maxPerIdentity > 0 || o.fleetIdentityBits));
    if (this.fleet.shared && fleetLimited) {
      // The session runs outside this connection's context: nothing after it needs the Conn.
      current.exit(() => void this.askFleet(conn, socket));
      return;
    }
    current.exit(() => this.onAdmitted(socket, conn));
  }

  /**
   * With a shared store: the fleet's counts decide `maxPerIp` and `maxPerIdentity` (one
   * round trip). When the store cannot say in time, this server's own counts decide again,
   * as they would have without a store.
   */
  private async askFleet(conn: Conn, socket: tls.TLSSocket): Promise<void> {
    const o = this.limits;
    const fp = conn.identity?.fp;
    const { verdict, lease, extraBits } = await this.fleet.acquire(
      conn.ip,
      fp,
      o.maxPerIp,
      o.maxPerIdentity,
    );
    if (socket.destroyed) {
      // Gone while the store answered: what was taken goes back.
      if (verdict === 'ok') this.fleet.release(lease);
      return;
    }
    const limit =
      verdict === 'local' ? this.localLimitFor(conn) : verdict === 'ok' ? null : verdict;
    if (limit) {
      this.refuseAtLimit(conn, socket, limit, verdict === 'local' ? '' : ' in the fleet');
      return;
    }
    if (verdict === 'local') this.fleet.hold(lease);
    conn.lease = lease;
    conn.fleetExtraBits = extraBits;
    this.onAdmitted(socket, conn);
  }

  /** Which session limit this server's own counts put the connection past, or null. */
  private localLimitFor(conn: Conn): RefusalReason | 'max-per-identity' | null {
    const perIdentity = this.limits.maxPerIdentity;
    if (
      conn.identity &&
      perIdentity > 0 &&
      this.sessionsPerIdentity.get(conn.identity.fp) >= perIdentity
    )
      return 'max-per-identity';
    return this.sessionLimitFor(conn.ip);
  }

  /**
   * Refuse a connection past a session limit after its handshake: `FAIL` before HELLO for
   * its certificate's limit, a reset for the others.
   * @param where how far the count reaches, for the log (`''` or `' in the fleet'`)
   */
  private refuseAtLimit(
    conn: Conn,
    socket: tls.TLSSocket,
    limit: RefusalReason | 'max-per-identity',
    where: string,
  ): void {
    if (limit === 'max-per-identity' && conn.identity) {
      this.refuseIdentity(conn, socket, conn.identity, 'TLSLP_ERR_MAX_PER_IDENTITY', {
        reason: FAIL_REASONS.maxPerIdentity,
        detail: `already has ${this.limits.maxPerIdentity} sessions${where} (maxPerIdentity)`,
      });
      return;
    }
    if (limit !== 'max-per-identity') this.refuse(conn.raw, conn.ip, limit);
    socket.destroy();
  }

  /**
   * Refuse a client whose certificate passed the handshake: `FAIL <reason>`, our side ended,
   * the socket cut after a short linger. It spends its IP's failure budget as a failed
   * handshake of the same size does, and never becomes a session.
   */
  private refuseIdentity(
    conn: Conn,
    socket: tls.TLSSocket,
    identity: ClientIdentity,
    code: 'TLSLP_ERR_NOT_AUTHORIZED' | 'TLSLP_ERR_MAX_PER_IDENTITY',
    why: { reason: string; detail: string },
  ): void {
    this.fleet.failed(conn.ip, Math.ceil(conn.meter.bytesReceived / 4096));
    publish('sessionRefused', {
      server: this.server,
      ip: conn.ip,
      peer: conn.peer,
      identity,
      code,
      reason: why.reason,
      detail: why.detail,
    });
    this.sayFail(socket, why.reason);
  }

  /** Send `FAIL <reason>`, end our side, and cut the socket after a short linger. */
  private sayFail(socket: tls.TLSSocket, reason: string): void {
    socket.on('error', () => {
      /* the client may be gone already */
    });
    socket.end(`${formatServerMessage({ type: 'FAIL', reason })}\n`);
    setTimeout(() => socket.destroy(), Math.min(this.limits.otherTimeoutMs, 2000)).unref();
  }
}

/** A stable code for a TLS error: Node's or OpenSSL's code, else a generic one. */
function reasonCode(err: Error): string {
  return (err as NodeJS.ErrnoException).code ?? 'TLS_ERROR';
}
