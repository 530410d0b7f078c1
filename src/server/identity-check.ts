/**
 * The identity check after a completed handshake: the client certificate judged (issuer,
 * depth, revocation, key), then who it names (the allow-lists) and how many sessions it and
 * its IP have (the session limits, the fleet's when a store is shared), before HELLO. A
 * refused certificate costs its handshake and no more.
 * @module
 */
import type { X509Certificate } from 'node:crypto';
import type tls from 'node:tls';
import type { FleetState } from '../state/fleet.js';
import type { Admission } from './admission.js';
import { judgeClientCert, refusalReason, type Revocation } from './client-cert.js';
import type { Conn, GateHooks, GateLimits, IdentityRefusal } from './connection.js';
import type { RefusalReason } from './events.js';
import { handshakeCost, type HandshakeTracker } from './handshakes.js';
import { AllowList, certNames, describeNames, identityOf, type CertNames } from './identity.js';
import { FAIL_REASONS } from '../protocol/fail-reasons.js';
import type { SessionSlots } from './slots.js';

/** The identity check of one server. */
export class IdentityCheck {
  private allow: AllowList;

  constructor(
    /** Shared with the gate's other parts; {@link reconfigure} changes it in place. */
    private readonly limits: GateLimits,
    /** The CA certificates, parsed once (see judgeClientCert); the server swaps their contents on reload. */
    private readonly trustedCas: readonly X509Certificate[],
    /** The CRLs chains are looked up in (the server swaps their list on reload). */
    private readonly revocation: Revocation | undefined,
    private readonly slots: SessionSlots,
    private readonly handshakes: HandshakeTracker,
    /** Where a connection past a session limit is refused (and counted). */
    private readonly admission: Admission,
    /** The session leases and the failure budget, this server's own or the fleet's. */
    private readonly fleet: FleetState,
    private readonly hooks: GateHooks,
  ) {
    this.allow = new AllowList(limits);
  }

  /** The allow-lists changed (the limits object has the new ones). */
  reconfigure(): void {
    this.allow = new AllowList(this.limits);
  }

  /** A handshake completed: judge the certificate, then apply the session limits. */
  judge(socket: tls.TLSSocket, conn: Conn): void {
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
        this.handshakes.failed(conn, refusal.code, text, undefined, !refusal.serverFault, false);
        // No public API sends a TLS alert once the handshake is done: the client hears why
        // in a FAIL line before HELLO (sent by the session code), as docs/protocol.md allows.
        this.hooks.certRefused(socket, refusalReason(refusal.code));
        return;
      }
      names = certNames(plain);
      conn.identity = identityOf(plain, names);
    }
    this.handshakes.secured(conn);
    socket.disableRenegotiation();
    if (names && conn.identity && !this.allow.allows(names)) {
      const others = describeNames(names);
      this.refuseIdentity(conn, socket, 'TLSLP_ERR_NOT_AUTHORIZED', {
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
      void this.askFleet(conn, socket);
      return;
    }
    this.hooks.admitted(socket, conn);
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
    this.hooks.admitted(socket, conn);
  }

  /** Which session limit this server's own counts put the connection past, or null. */
  private localLimitFor(conn: Conn): RefusalReason | 'max-per-identity' | null {
    if (conn.identity && this.slots.identityFull(conn.identity)) return 'max-per-identity';
    return this.slots.limitFor(conn.ip);
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
      this.refuseIdentity(conn, socket, 'TLSLP_ERR_MAX_PER_IDENTITY', {
        reason: FAIL_REASONS.maxPerIdentity,
        detail: `already has ${this.limits.maxPerIdentity} sessions${where} (maxPerIdentity)`,
      });
      return;
    }
    if (limit !== 'max-per-identity') this.admission.refuse(conn.raw, conn.ip, limit);
    socket.destroy();
  }

  /**
   * Refuse a client whose certificate passed the handshake: it spends its IP's failure
   * budget as a failed handshake of the same size does, and the server's session code sends
   * it `FAIL <reason>` (no protocol line is written here); it never becomes a session.
   */
  private refuseIdentity(
    conn: Conn,
    socket: tls.TLSSocket,
    code: IdentityRefusal['code'],
    why: { reason: string; detail: string },
  ): void {
    this.fleet.failed(conn.ip, handshakeCost(conn.meter.bytesReceived));
    this.hooks.refused(socket, conn, { code, ...why });
  }
}
