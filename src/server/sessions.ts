/**
 * The sessions of one server: each admitted connection run as a session (numbered, planned,
 * logged with its context, counted, reported), and each identity refused before HELLO sent
 * its `FAIL`. The protocol lines are the session code's (session.ts); this wires a session to
 * the server's gate, load trackers, events and log.
 * @module
 */
import type tls from 'node:tls';
import type { Logger } from '../logging/logger.js';
import { SocketLineChannel } from '../transport/channel.js';
import type { AdaptiveDifficulty } from './adaptive.js';
import type { AdmittedConnection, IdentityRefusal } from './connection.js';
import type { ServerEmitter } from './events.js';
import type { Gate } from './gate.js';
import type { ClientIdentity } from './identity.js';
import type { IdentityDifficulty } from './identity-load.js';
import type { SessionPlanner } from './plans.js';
import { sessionContext } from './server-log.js';
import {
  refuseBeforeHello,
  runServerSession,
  type SessionLog,
  type SessionOutcome,
} from './session.js';
import { SessionCounts } from './stats.js';

/** What the server reports of one finished session. */
export interface SessionReport {
  /** Session number, from 1, in the order connections completed their handshake. */
  id: number;
  /** The client's address and port, e.g. `127.0.0.1:53122` or `[::1]:53122`. */
  remoteAddress: string;
  /** Time from the TLS handshake to the end of the session. */
  durationMs: number;
  /** The WORK difficulty this session was asked. */
  nBits: number;
  /** Who the client is: its certificate's subject CN (escaped) and fingerprint; absent in insecure mode. */
  identity?: ClientIdentity;
  /** Time from WORK sent to a valid suffix, when the client solved it. */
  workMs?: number;
  /** How the session ended. */
  result: SessionOutcome;
}

/** After FAIL or DONE/OK, the longest a client gets to close its side (or one step deadline, if shorter). */
const MAX_LINGER_MS = 2000;

/** What the sessions of a server run with. */
export interface SessionRunnerOptions {
  events: ServerEmitter;
  logger: Logger;
  planner: SessionPlanner;
  gate: Gate;
  adaptive: AdaptiveDifficulty | null;
  identities: IdentityDifficulty | null;
  /** The n_bits asked of new connections now. */
  nBits: () => number;
  /** Aborts every session's pending read (the server is closing). */
  signal: AbortSignal;
  /** The step deadline: the linger is at most this. */
  otherTimeoutMs: number;
  /** Called when a session ends (the server's `onSession`). */
  onSession?: ((report: SessionReport) => void) | undefined;
  /** Tutorial mode: the one session started (stop accepting). */
  onSingleStarted: () => void;
  /** Tutorial mode: the one session ended (stop the server). */
  onSingleEnded: () => void;
}

/** The sessions of one server. */
export class SessionRunner {
  /** Sessions by outcome. */
  readonly counts = new SessionCounts();
  /** The sessions running now (each resolves when its session has ended). */
  readonly running = new Set<Promise<void>>();
  /** How long a finished session's socket may take to deliver its last lines and close. */
  readonly lingerMs: number;
  private nextId = 1;
  private singleServed = false;

  constructor(private readonly o: SessionRunnerOptions) {
    this.lingerMs = Math.min(o.otherTimeoutMs, MAX_LINGER_MS);
  }

  /**
   * A client whose certificate passed the handshake is refused before HELLO (the gate
   * decided): it is sent `FAIL <reason>`, counted as a session started and rejected, and
   * never becomes a session.
   */
  refuse(socket: tls.TLSSocket, conn: AdmittedConnection, refusal: IdentityRefusal): void {
    const { ip, peer, identity } = conn;
    if (!identity) return void socket.destroy();
    this.counts.refused(refusal.code);
    const events = this.o.events;
    events.emit('sessionRefused', { server: events.server, ip, peer, identity, ...refusal });
    refuseBeforeHello(this.channel(socket), refusal.reason);
  }

  /** A certificate refused after its handshake (counted as a failed handshake) is told why. */
  certRefused(socket: tls.TLSSocket, reason: string): void {
    refuseBeforeHello(this.channel(socket), reason);
  }

  /** Run a session on a connection the gate admitted. */
  start(socket: tls.TLSSocket, conn: AdmittedConnection): void {
    const { planner, events, adaptive, identities } = this.o;
    if (planner.singleSession) {
      if (this.singleServed) {
        socket.destroy();
        return;
      }
      this.singleServed = true;
      // Serve exactly one session: stop accepting now.
      this.o.onSingleStarted();
    }
    const id = this.nextId++;
    const { ip, peer, identity } = conn;
    const reproducible = planner.reproducibleLog;
    const log = this.sessionLog(sessionContext(id, peer, reproducible, identity));
    const channel = this.channel(socket);
    const nBits = this.o.nBits();
    const plan = planner.plan(identities?.nBitsFor(identity, nBits, conn.fleetExtraBits) ?? nBits);
    this.o.gate.sessionStarted(conn);
    adaptive?.arrival(ip);
    if (identity) identities?.started(identity);
    this.counts.started++;
    const server = events.server;
    // What sessionStarted and sessionEnded both say of the session.
    const session = {
      server,
      id,
      ip,
      peer,
      nBits: plan.nBits,
      ...(identity ? { identity } : {}),
      reproducible,
    };
    events.emit('sessionStarted', { ...session, protocol: socket.getProtocol() ?? 'TLS' });
    const started = performance.now();
    let workMs: number | undefined;
    plan.onWorkAccepted = (ms) => {
      workMs = ms;
      adaptive?.workDone(ip);
      if (events.wants('workAccepted')) events.emit('workAccepted', { server, id, ms });
    };
    const run = runServerSession(channel, plan, log, this.o.signal).then((result) => {
      const durationMs = performance.now() - started;
      this.o.gate.sessionEnded(conn, workMs !== undefined);
      if (identity) identities?.ended(identity);
      this.counts.ended(result);
      events.emit('sessionEnded', {
        ...session,
        durationMs,
        ...(workMs !== undefined ? { workMs } : {}),
        result,
      });
      this.o.onSession?.({
        id,
        remoteAddress: peer,
        durationMs: Math.round(durationMs),
        nBits: plan.nBits,
        ...(identity ? { identity } : {}),
        ...(workMs !== undefined ? { workMs: Math.round(workMs) } : {}),
        result,
      });
      if (planner.singleSession) {
        log.info('Tutorial session finished: server stopping');
        this.o.onSingleEnded();
      }
    });
    this.running.add(run);
    void run.finally(() => this.running.delete(run));
  }

  /** Where a session's lines go: the server's logger, with the session's context. */
  private sessionLog(context: Record<string, unknown>): SessionLog {
    const logger = this.o.logger;
    // The level is asked first: a line not written costs no fields object.
    return {
      info: (m, f) => {
        if (logger.isEnabled('INFO')) logger.info(m, { ...context, ...f });
      },
      debug: (m, f) => {
        if (logger.isEnabled('DEBUG')) logger.debug(m, { ...context, ...f });
      },
      warning: (m, f) => {
        if (logger.isEnabled('WARNING')) logger.warning(m, { ...context, ...f });
      },
    };
  }

  /** The line channel of a session (or of a refusal before HELLO) on `socket`. */
  private channel(socket: tls.TLSSocket): SocketLineChannel {
    // After FAIL or DONE/OK the client gets one step deadline (at most 2 s) to close its side.
    return new SocketLineChannel(socket, { lingerMs: this.lingerMs });
  }
}
