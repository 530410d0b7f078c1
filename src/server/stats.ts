/**
 * The server's live counters, kept by a subscriber of its lifecycle events.
 * @module
 */
import { subscribeServer, type EventSource } from './events.js';
import { sessionFailureReason } from '../errors/index.js';

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

/** Counters at zero, n_bits at `nBits`. */
export function emptyStats(nBits: number): ServerStats {
  return {
    connections: 0,
    inFlight: 0,
    sessionsStarted: 0,
    sessionsDone: 0,
    sessionsFailDrawn: 0,
    sessionsRejected: 0,
    sessionsTransport: 0,
    handshakeFailures: 0,
    handshaking: 0,
    refused: 0,
    refusedByReason: {},
    handshakeFailuresByReason: {},
    failedByReason: {},
    nBits,
  };
}

function bump(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

/**
 * Keep `stats` up to date from the events of `server`.
 * @returns a function that stops it
 */
export function trackStats(server: EventSource, stats: ServerStats): () => void {
  return subscribeServer(server, {
    connectionAccepted: () => stats.connections++,
    connectionRefused: ({ reason }) => {
      stats.refused++;
      bump(stats.refusedByReason, reason);
    },
    handshakes: ({ inProgress }) => (stats.handshaking = inProgress),
    handshakeFailed: ({ reason }) => {
      stats.handshakeFailures++;
      bump(stats.handshakeFailuresByReason, reason);
    },
    sessionStarted: () => {
      stats.sessionsStarted++;
      stats.inFlight++;
    },
    // Refused before HELLO: counted as a session started and rejected at once.
    sessionRefused: ({ code }) => {
      stats.sessionsStarted++;
      stats.sessionsRejected++;
      bump(stats.failedByReason, sessionFailureReason(code));
    },
    sessionEnded: ({ result }) => {
      stats.inFlight--;
      switch (result.outcome) {
        case 'done':
          stats.sessionsDone++;
          return;
        case 'fail-drawn':
          stats.sessionsFailDrawn++;
          return;
        case 'rejected':
          stats.sessionsRejected++;
          break;
        default:
          stats.sessionsTransport++;
      }
      bump(stats.failedByReason, sessionFailureReason(result.code));
    },
    difficultyChanged: ({ to }) => (stats.nBits = to),
  });
}
