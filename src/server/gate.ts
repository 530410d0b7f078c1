/**
 * The gate in front of the sessions, in three parts: admission before TLS (admission.ts),
 * the handshakes in progress (handshakes.ts), and the identity check after them
 * (identity-check.ts), counting the same session slots (slots.ts). What happens is told to
 * the server's emitter (see events.ts); the counts are fields of the parts that keep them.
 * The gate writes no protocol line: a refused identity goes to the server's session code.
 * @module
 */
import type { X509Certificate } from 'node:crypto';
import type { Socket } from 'node:net';
import type tls from 'node:tls';
import type { FleetState } from '../state/fleet.js';
import { Admission } from './admission.js';
import type { Revocation } from './client-cert.js';
import type { AdmittedConnection, GateHooks, GateLimits } from './connection.js';
import type { ServerEmitter } from './events.js';
import { HandshakeTracker } from './handshakes.js';
import { IdentityCheck } from './identity-check.js';
import { SessionSlots } from './slots.js';
import type { GateCounts } from './stats.js';

export type { AdmittedConnection, GateHooks, GateLimits, IdentityRefusal } from './connection.js';

/** The gate of one server. */
export class Gate implements GateCounts {
  private readonly slots: SessionSlots;
  private readonly admission: Admission;
  private readonly handshakes: HandshakeTracker;
  private readonly identity: IdentityCheck;

  constructor(
    events: ServerEmitter,
    /** Shared by the parts; {@link reconfigure} changes it in place. */
    private readonly limits: GateLimits,
    tlsServer: tls.Server,
    /** The CA certificates, parsed once (see judgeClientCert). */
    trustedCas: readonly X509Certificate[],
    /** Where admitted connections go, and refused identities (to be sent their FAIL). */
    hooks: GateHooks,
    /** The failure budget and session leases, this server's own or the fleet's. */
    private readonly fleet: FleetState,
    /** The CRLs chains are looked up in (the server swaps their list on reload). */
    revocation?: Revocation,
  ) {
    this.slots = new SessionSlots(limits);
    this.handshakes = new HandshakeTracker(limits, tlsServer, fleet, events, (socket, conn) =>
      this.identity.judge(socket, conn),
    );
    this.admission = new Admission(limits, this.slots, this.handshakes, fleet, events);
    this.identity = new IdentityCheck(
      limits,
      trustedCas,
      revocation,
      this.slots,
      this.handshakes,
      this.admission,
      fleet,
      hooks,
    );
  }

  /**
   * Judge new connections by `policy` from now on (the server's reconfigure: allow-lists and
   * limits); connections already admitted keep going.
   */
  reconfigure(policy: Partial<Omit<GateLimits, 'proxy' | 'insecure'>>): void {
    Object.assign(this.limits, policy);
    this.identity.reconfigure();
  }

  /** A TCP connection arrived. */
  accept(raw: Socket): void {
    this.admission.accept(raw);
  }

  /** Every TCP connection open now, in its handshake or a session. */
  get sockets(): ReadonlySet<Socket> {
    return this.admission.sockets;
  }

  /** TCP connections admitted before TLS, in total. */
  get connections(): number {
    return this.admission.connections;
  }

  /** Connections closed by a limit, in total. */
  get refused(): number {
    return this.admission.refused;
  }

  /** Refusals by limit. */
  get refusedByReason(): Record<string, number> {
    return this.admission.refusedByReason;
  }

  /** Failed handshakes, in total. */
  get handshakeFailures(): number {
    return this.handshakes.failures;
  }

  /** Failed handshakes by reason. */
  get handshakeFailuresByReason(): Record<string, number> {
    return this.handshakes.failuresByReason;
  }

  /** Connections in their TLS handshake now. */
  get handshaking(): number {
    return this.handshakes.size;
  }

  /** Sessions in flight. */
  get inFlight(): number {
    return this.slots.inFlight;
  }

  /** Sessions in flight, each IP counted at most `cap` times (the adaptive load). */
  weightedSessions(cap: number): number {
    return this.slots.weighted(cap);
  }

  /** A session of an admitted connection started. */
  sessionStarted(conn: AdmittedConnection): void {
    this.slots.take(conn);
  }

  /**
   * A session ended. One that ends before its WORK is solved (dropped at WORK, reset,
   * rejected) is a failure of its IP: a client that never pays cannot keep the server busy
   * with handshakes.
   */
  sessionEnded(conn: AdmittedConnection, solved: boolean): void {
    this.slots.free(conn);
    if (conn.lease) this.fleet.release(conn.lease);
    if (!solved) this.fleet.failed(conn.ip);
  }

  /** Cut every connection still in its handshake (the server is closing), each reported now. */
  cutPending(): void {
    this.admission.cut();
    this.handshakes.cut();
  }
}
