/**
 * A connection on its way through the gate (admission, handshake, identity check): what the
 * gate's parts share of it, and the limits they enforce.
 * @module
 */
import type { Socket } from 'node:net';
import type tls from 'node:tls';
import type { ResolvedServerTable } from '../options/server.js';
import type { Lease } from '../state/backend.js';
import type { HandshakeMeter } from '../transport/handshake-meter.js';
import type { ClientIdentity } from './identity.js';
import type { ProxyTrust } from './proxy.js';

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
export interface Conn extends AdmittedConnection {
  identity?: ClientIdentity;
  fleetExtraBits?: number;
  lease?: Lease;
  readonly meter: HandshakeMeter;
  readonly acceptedAt: number;
  readonly timer: NodeJS.Timeout;
  state: 'pending' | 'failed' | 'secure';
}

/** A client whose certificate passed the handshake, refused before HELLO. */
export interface IdentityRefusal {
  /** `TLSLP_ERR_NOT_AUTHORIZED` (no allow-list names it) or `TLSLP_ERR_MAX_PER_IDENTITY`. */
  code: 'TLSLP_ERR_NOT_AUTHORIZED' | 'TLSLP_ERR_MAX_PER_IDENTITY';
  /** The reason sent after `FAIL`. */
  reason: string;
  /** Why, for the log. */
  detail: string;
}

/** What the gate hands on: admitted connections, and refused identities. */
export interface GateHooks {
  /** A connection passed every check: run its session. */
  admitted(socket: tls.TLSSocket, conn: AdmittedConnection): void;
  /**
   * A certificate passed the handshake but is refused: the session code sends it `FAIL` and
   * counts it (the gate writes no protocol line).
   */
  refused(socket: tls.TLSSocket, conn: AdmittedConnection, refusal: IdentityRefusal): void;
  /**
   * A certificate that passed OpenSSL was refused by the server's own verdict (revoked, chain
   * too deep, weak key, the CRL cannot say), counted as a failed handshake: the session code
   * sends it `FAIL <reason>` before HELLO.
   */
  certRefused(socket: tls.TLSSocket, reason: string): void;
}
