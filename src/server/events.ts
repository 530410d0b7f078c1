/**
 * The server's lifecycle events. Each server tells its own log lines and metrics of them
 * through its {@link ServerEmitter} (hooks of its own, no filtering), and publishes them on
 * `node:diagnostics_channel` (as undici does) for outside observers only, and only while a
 * channel has subscribers: a server nobody observes pays nothing for the channels. Its
 * counters ({@link ServerStats}) are fields of the objects that change them.
 *
 * Channels are process-wide; every message carries the `server` it came from, and
 * {@link subscribeServer} filters on it.
 *
 * @example Count refusals of every server in the process
 * ```ts
 * import diagnostics_channel from 'node:diagnostics_channel';
 * import { SERVER_CHANNELS, type ConnectionRefusedEvent } from 'tlslp';
 *
 * diagnostics_channel.subscribe(SERVER_CHANNELS.connectionRefused, (message) => {
 *   const { reason } = message as ConnectionRefusedEvent;
 *   console.log(`refused: ${reason}`);
 * });
 * ```
 * @module
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import type { ConfigError } from '../errors/index.js';
import type { ErrorCode } from '../errors/index.js';
import type { ClientIdentity } from './identity.js';
import type { SessionOutcome } from './session.js';

/** What a server's events identify it by (the {@link TlslpServer} that published them). */
export type EventSource = object;

/** Why a connection was refused: the limit it hit. */
export type RefusalReason =
  | 'max-connections'
  | 'max-per-ip'
  | 'max-handshakes'
  | 'max-handshakes-per-ip'
  | 'handshake-failures'
  /** A trusted balancer's connection came without a valid PROXY header in time. */
  | 'proxy-header';

/** A TCP connection passed the checks before TLS; its handshake starts. */
export interface ConnectionAcceptedEvent {
  /** The {@link TlslpServer} that published it. */
  server: EventSource;
  /**
   * The client's address as the per-IP limits see it (the PROXY header's when one is
   * trusted).
   */
  ip: string;
  /** The client's `ip:port` (an IPv6 address in brackets), as logged. */
  peer: string;
}

/** A connection was closed by a limit, before TLS or right after it (session limits). */
export interface ConnectionRefusedEvent {
  /** The {@link TlslpServer} that published it. */
  server: EventSource;
  /**
   * The client's address as the per-IP limits see it (the PROXY header's when one is trusted);
   * the balancer's own when the refusal came before its header was read (`max-handshakes`,
   * `proxy-header`).
   */
  ip: string;
  /** The limit it hit (`proxy-header`: the trusted balancer sent no valid header in time). */
  reason: RefusalReason;
  /** More about why, when the reason is not a limit (e.g. what was wrong with the header). */
  detail?: string;
}

/** The number of connections in their TLS handshake changed. */
export interface HandshakesEvent {
  /** The {@link TlslpServer} that published it. */
  server: EventSource;
  /** Connections in their handshake now. */
  inProgress: number;
}

/** A handshake failed (bad or missing certificate, not TLS, too slow, too large, closed). */
export interface HandshakeFailedEvent {
  /** The {@link TlslpServer} that published it. */
  server: EventSource;
  /**
   * The client's address as the per-IP limits see it (the PROXY header's when one is
   * trusted).
   */
  ip: string;
  /** The client's `ip:port` (an IPv6 address in brackets), as logged. */
  peer: string;
  /** Metric label of the reason, e.g. `cert_has_expired`, `handshake_timeout`. */
  reason: string;
  /** What happened, in words, for the log. */
  text: string;
  /** Bytes the client sent before it failed. */
  bytes: number;
  /** The TLS error, when there was one (its detail is logged at DEBUG). */
  error?: Error;
}

/** A session started: the handshake completed and the certificate was accepted. */
export interface SessionStartedEvent {
  /** The {@link TlslpServer} that published it. */
  server: EventSource;
  /** Session number, from 1 (as in the session's log lines). */
  id: number;
  /**
   * The client's address as the per-IP limits see it (the PROXY header's when one is
   * trusted).
   */
  ip: string;
  /** The client's `ip:port` (an IPv6 address in brackets), as logged. */
  peer: string;
  /** n_bits this session is asked (with its identity's extra bits under adaptive difficulty). */
  nBits: number;
  /** Who the client is (its certificate's CN and fingerprint); absent in insecure mode. */
  identity?: ClientIdentity;
  /** The TLS version, e.g. `TLSv1.3`. */
  protocol: string;
  /** Its log lines must be the same on every run (tutorial mode): no session context. */
  reproducible: boolean;
}

/** The client of a session solved its WORK. */
export interface WorkAcceptedEvent {
  /** The {@link TlslpServer} that published it. */
  server: EventSource;
  /** The session's number, as in {@link SessionStartedEvent.id}. */
  id: number;
  /** Time from WORK sent to the valid suffix, in ms. */
  ms: number;
}

/** A session ended. */
export interface SessionEndedEvent {
  /** The {@link TlslpServer} that published it. */
  server: EventSource;
  /** The session's number, as in {@link SessionStartedEvent.id}. */
  id: number;
  /**
   * The client's address as the per-IP limits see it (the PROXY header's when one is
   * trusted).
   */
  ip: string;
  /** The client's `ip:port` (an IPv6 address in brackets), as logged. */
  peer: string;
  /** n_bits the session was asked. */
  nBits: number;
  /** Who the client is; absent in insecure mode. */
  identity?: ClientIdentity;
  /** Time from the session's start (after the handshake) to its end, in ms (not rounded). */
  durationMs: number;
  /** Set when the client solved WORK: time from WORK sent to the valid suffix, in ms. */
  workMs?: number;
  /** How it ended: done, a drawn FAIL, or the client's or the server's failure. */
  result: SessionOutcome;
  /** As in {@link SessionStartedEvent.reproducible}. */
  reproducible: boolean;
}

/**
 * A client whose certificate passed the handshake was refused before HELLO: it is on none of
 * the allow-lists, or its certificate already has `maxPerIdentity` sessions. It was sent
 * `FAIL <reason>` and closed, and spent its IP's failure budget like a failed handshake. It
 * never became a session (no id, no report) but counts as one started and failed.
 */
export interface SessionRefusedEvent {
  /** The {@link TlslpServer} that published it. */
  server: EventSource;
  /**
   * The client's address as the per-IP limits see it (the PROXY header's when one is
   * trusted).
   */
  ip: string;
  /** The client's `ip:port` (an IPv6 address in brackets), as logged. */
  peer: string;
  /** Who the certificate names (its CN and fingerprint). */
  identity: ClientIdentity;
  /** `TLSLP_ERR_NOT_AUTHORIZED` or `TLSLP_ERR_MAX_PER_IDENTITY`. */
  code: ErrorCode;
  /** The reason sent after `FAIL`. */
  reason: string;
  /** What the server knows about why, for the log (the certificate's other names, the limit). */
  detail: string;
}

/** One identity's share of the load and its own n_bits, under adaptive difficulty. */
export interface IdentityLoad {
  /** The client certificate's CN and fingerprint (the key the tracker uses). */
  identity: ClientIdentity;
  /** n_bits its new sessions are asked now (the global n_bits plus its own extra bits). */
  nBits: number;
  /** Bits above the global n_bits. */
  extraBits: number;
  /** Its sessions in flight. */
  inFlight: number;
  /** Its smoothed rate of new sessions, per second (2 decimals). */
  arrivalsPerSecond: number;
  /** Its load over its allowance (each doubling past 1 adds a bit). */
  load: number;
}

/** An identity's own n_bits changed. */
export interface IdentityBitsChange extends IdentityLoad {
  /** n_bits it was asked before (the global n_bits when it had no extra bits). */
  from: number;
}

/**
 * Once per adaptive tick (with `nBits: 'auto'` and client certificates): the busiest
 * identities, at most `topIdentities` (10), and those whose n_bits changed (at most as many;
 * `moreChanges` counts the rest).
 */
export interface IdentityDifficultyEvent {
  /** The {@link TlslpServer} that published it. */
  server: EventSource;
  /** The global n_bits this tick. */
  base: number;
  /** The busiest identities by load, busiest first (at most `topIdentities`). */
  top: IdentityLoad[];
  /** Identities whose n_bits changed this tick, other than by the global n_bits moving. */
  changes: IdentityBitsChange[];
  /** Changes left out of `changes` to keep the event bounded. */
  moreChanges: number;
}

/** Adaptive difficulty moved the n_bits of new connections. */
export interface DifficultyChangedEvent {
  /** The {@link TlslpServer} that published it. */
  server: EventSource;
  /** The global n_bits before. */
  from: number;
  /** The global n_bits new sessions are asked now. */
  to: number;
  /**
   * The load the controller saw: the larger of in-flight and arrival rate over their targets
   * (1 = full load; each doubling past 1 adds a bit).
   */
  load: number;
  /** Sessions in flight, each IP counted at most `perIpWeight` times. */
  inFlight: number;
  /** The smoothed rate of new sessions, per second (weighed per source). */
  arrivalsPerSecond: number;
}

/** A part of the server's TLS material. */
export type TlsPart = 'cert' | 'key' | 'ca' | 'crl';

/**
 * The server was given new TLS material (`server.reload`, SIGHUP, `--reload-interval`): it
 * serves new handshakes with it (`ok`), or it was unusable and the material in use stays.
 * Material equal to the one in use, and material that failed the same way the time before,
 * publish nothing.
 */
export interface TlsReloadedEvent {
  /** The {@link TlslpServer} that published it. */
  server: EventSource;
  /** Whether new handshakes use the new material (else the material in use stays). */
  ok: boolean;
  /** The parts that differ from the material in use before. */
  changed: TlsPart[];
  /** Serial number of the server certificate in use now (uppercase hex). */
  serverSerial: string;
  /** With `ok`: the serial number of the one before (the same when only the CA or CRL changed). */
  previousSerial?: string;
  /** Serial numbers of the CA certificates in use now. */
  caSerials: string[];
  /** When the server certificate in use now expires. */
  serverNotAfter: Date;
  /** With `ok`: when the first of the CA certificates in use to expire does. */
  caNotAfter?: Date;
  /** With `ok` and a CRL: how many serial numbers it revokes. */
  revoked?: number;
  /** With `ok`: the earliest nextUpdate of the CRLs in use now (null: no CRL, or none has one). */
  crlNextUpdate?: Date | null;
  /** Without `ok`: why the material was refused (naming the file). */
  error?: ConfigError;
}

/** Every server event by channel key. */
export interface ServerEvents {
  /** A connection passed the limits before TLS. */
  connectionAccepted: ConnectionAcceptedEvent;
  /** A connection was cut by a limit. */
  connectionRefused: ConnectionRefusedEvent;
  /** The number of handshakes in progress changed. */
  handshakes: HandshakesEvent;
  /** A TLS handshake failed. */
  handshakeFailed: HandshakeFailedEvent;
  /** A session started. */
  sessionStarted: SessionStartedEvent;
  /** A session's client solved WORK. */
  workAccepted: WorkAcceptedEvent;
  /** A session ended. */
  sessionEnded: SessionEndedEvent;
  /** A certificate was refused before HELLO. */
  sessionRefused: SessionRefusedEvent;
  /** Adaptive difficulty moved the global n_bits. */
  difficultyChanged: DifficultyChangedEvent;
  /** New TLS material was taken or refused. */
  tlsReloaded: TlsReloadedEvent;
  /** Per-identity loads, once per adaptive tick. */
  identityDifficulty: IdentityDifficultyEvent;
}

/** The `node:diagnostics_channel` name of each event. */
export const SERVER_CHANNELS: { readonly [K in keyof ServerEvents]: string } = {
  connectionAccepted: 'tlslp:server:connection-accepted',
  connectionRefused: 'tlslp:server:connection-refused',
  handshakes: 'tlslp:server:handshakes',
  handshakeFailed: 'tlslp:server:handshake-failed',
  sessionStarted: 'tlslp:server:session-started',
  workAccepted: 'tlslp:server:work-accepted',
  sessionEnded: 'tlslp:server:session-ended',
  sessionRefused: 'tlslp:server:session-refused',
  difficultyChanged: 'tlslp:server:difficulty-changed',
  tlsReloaded: 'tlslp:server:tls-reloaded',
  identityDifficulty: 'tlslp:server:identity-difficulty',
};

// Held here for the life of the process: a channel object nobody references may be collected
// with its subscribers on Node 20.
const channels = Object.fromEntries(
  Object.entries(SERVER_CHANNELS).map(([key, name]) => [key, diagnosticsChannel.channel(name)]),
) as { readonly [K in keyof ServerEvents]: diagnosticsChannel.Channel };

/** Handlers for some of a server's events. */
export type ServerEventHandlers = {
  [K in keyof ServerEvents]?: (message: ServerEvents[K]) => void;
};

/**
 * Subscribe `handlers` to the events of `server` only.
 * @returns a function that unsubscribes them all
 */
export function subscribeServer(server: EventSource, handlers: ServerEventHandlers): () => void {
  const undo: Array<() => void> = [];
  for (const key of Object.keys(handlers) as Array<keyof ServerEvents>) {
    const handler = handlers[key] as ((message: unknown) => void) | undefined;
    if (!handler) continue;
    const listener = (message: unknown): void => {
      if ((message as { server?: unknown }).server === server) handler(message);
    };
    channels[key].subscribe(listener);
    undo.push(() => channels[key].unsubscribe(listener));
  }
  return () => {
    for (const u of undo.splice(0)) u();
  };
}

/**
 * One server's events: its own hooks (log lines, metrics) first, then the channel for
 * outside observers when it has subscribers. Build a message only when {@link wants} says
 * someone takes it.
 */
export class ServerEmitter {
  private hooks: { [K in keyof ServerEvents]?: Array<(message: ServerEvents[K]) => void> } = {};

  constructor(
    /** The server the messages name. */
    readonly server: EventSource,
    hooks: readonly ServerEventHandlers[] = [],
  ) {
    for (const h of hooks) this.add(h);
  }

  /** Add the server's own handlers (called before the channel's subscribers). */
  add(handlers: ServerEventHandlers): void {
    for (const key of Object.keys(handlers) as Array<keyof ServerEvents>) {
      const handler = handlers[key];
      if (handler) ((this.hooks[key] ??= []) as unknown[]).push(handler);
    }
  }

  /** Drop every hook (the server has closed); outside observers still get what comes late. */
  clear(): void {
    this.hooks = {};
  }

  /** Whether a hook or an outside observer takes `event` now. */
  wants(event: keyof ServerEvents): boolean {
    return this.hooks[event] !== undefined || channels[event].hasSubscribers;
  }

  /** Tell the hooks, then the channel's subscribers, if any. */
  emit<K extends keyof ServerEvents>(event: K, message: ServerEvents[K]): void {
    const hooks = this.hooks[event];
    if (hooks) for (const hook of hooks) hook(message);
    const channel = channels[event];
    if (channel.hasSubscribers) channel.publish(message);
  }
}
