/**
 * The server's live counters: each is a field of the object that changes it (as undici's
 * ClientStats reads its client's own fields), and {@link ServerStats} reads them there.
 * @module
 */
import { sessionFailureReason } from '../errors/index.js';
import type { SessionOutcome } from './session.js';
import type { ErrorCode } from '../errors/index.js';

/** Counters, for logs, tests and metrics. */
export interface ServerStats {
  /** TCP connections accepted (before TLS), in total. */
  connections: number;
  /** Sessions running now. */
  inFlight: number;
  /**
   * Sessions started (TLS handshake completed), in total; clients refused before HELLO (not
   * on the allow-lists, past `maxPerIdentity`) count too, and as rejected.
   */
  sessionsStarted: number;
  /** Sessions that ended with DONE/OK. */
  sessionsDone: number;
  /** Sessions ended by a drawn (simulated) FAIL. */
  sessionsFailDrawn: number;
  /** Sessions rejected: the client broke the contract, or was refused before HELLO. */
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

/** Add one to `key` of `counts`. */
export function bump(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

/** Sessions by how they ended: kept by the code that starts and ends them. */
export class SessionCounts {
  /** Sessions started, refused-before-HELLO ones included. */
  started = 0;
  done = 0;
  failDrawn = 0;
  rejected = 0;
  transport = 0;
  /** Rejected and transport-failed sessions by code (lowercased). */
  readonly failedByReason: Record<string, number> = {};

  /** A client was refused before HELLO: counted as a session started and rejected at once. */
  refused(code: ErrorCode): void {
    this.started++;
    this.rejected++;
    bump(this.failedByReason, sessionFailureReason(code));
  }

  /** A session ended with `result`. */
  ended(result: SessionOutcome): void {
    switch (result.outcome) {
      case 'done':
        this.done++;
        return;
      case 'fail-drawn':
        this.failDrawn++;
        return;
      case 'rejected':
        this.rejected++;
        break;
      default:
        this.transport++;
    }
    bump(this.failedByReason, sessionFailureReason(result.code));
  }
}

/** What the gate counts (connections, refusals, handshakes, sessions in flight). */
export interface GateCounts {
  readonly connections: number;
  readonly inFlight: number;
  readonly handshaking: number;
  readonly handshakeFailures: number;
  readonly refused: number;
  readonly refusedByReason: Record<string, number>;
  readonly handshakeFailuresByReason: Record<string, number>;
}

/**
 * A {@link ServerStats} that reads the counters where they are kept: live, and its fields
 * own and enumerable, so a spread or `JSON.stringify` copies their values.
 */
export function statsView(
  gate: GateCounts,
  sessions: SessionCounts,
  nBits: () => number,
): ServerStats {
  const fields: { [K in keyof ServerStats]: () => ServerStats[K] } = {
    connections: () => gate.connections,
    inFlight: () => gate.inFlight,
    sessionsStarted: () => sessions.started,
    sessionsDone: () => sessions.done,
    sessionsFailDrawn: () => sessions.failDrawn,
    sessionsRejected: () => sessions.rejected,
    sessionsTransport: () => sessions.transport,
    handshakeFailures: () => gate.handshakeFailures,
    handshaking: () => gate.handshaking,
    refused: () => gate.refused,
    refusedByReason: () => gate.refusedByReason,
    handshakeFailuresByReason: () => gate.handshakeFailuresByReason,
    failedByReason: () => sessions.failedByReason,
    nBits,
  };
  const view = {};
  for (const [key, get] of Object.entries(fields))
    Object.defineProperty(view, key, { get, enumerable: true });
  return view as ServerStats;
}
