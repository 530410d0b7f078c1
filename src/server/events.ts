/**
 * The server's lifecycle events, published on `node:diagnostics_channel` (as undici does):
 * the server only says what happened; its counters ({@link ServerStats}), Prometheus metrics
 * and log lines are subscribers, and so can be any tool of the user's.
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
import type { ConfigError } from '../errors.js';
import type { ErrorCode } from '../errors.js';
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
  server: EventSource;
  /** The client's IP address. */
  ip: string;
  /** `ip:port`. */
  peer: string;
}

/** A connection was closed by a limit, before TLS or right after it (session limits). */
export interface ConnectionRefusedEvent {
  server: EventSource;
  ip: string;
  reason: RefusalReason;
  /** More about why, when the reason is not a limit (e.g. what was wrong with the header). */
  detail?: string;
}

/** The number of connections in their TLS handshake changed. */
export interface HandshakesEvent {
  server: EventSource;
  /** Connections in their handshake now. */
  inProgress: number;
}

/** A handshake failed (bad or missing certificate, not TLS, too slow, too large, closed). */
export interface HandshakeFailedEvent {
  server: EventSource;
  ip: string;
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
  server: EventSource;
  /** Session number, from 1. */
  id: number;
  ip: string;
  peer: string;
  /** n_bits this session is asked. */
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
  server: EventSource;
  id: number;
  /** Time from WORK sent to the valid suffix. */
  ms: number;
}

/** A session ended. */
export interface SessionEndedEvent {
  server: EventSource;
  id: number;
  ip: string;
  peer: string;
  nBits: number;
  /** Who the client is; absent in insecure mode. */
  identity?: ClientIdentity;
  durationMs: number;
  /** Set when the client solved WORK. */
  workMs?: number;
  result: SessionOutcome;
  reproducible: boolean;
}

/**
 * A client whose certificate passed the handshake was refused before HELLO: it is on none of
 * the allow-lists, or its certificate already has `maxPerIdentity` sessions. It was sent
 * `FAIL <reason>` and closed, and spent its IP's failure budget like a failed handshake. It
 * never became a session (no id, no report) but counts as one started and failed.
 */
export interface SessionRefusedEvent {
  server: EventSource;
  ip: string;
  peer: string;
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
  identity: ClientIdentity;
  /** n_bits its new sessions are asked now (the global n_bits plus its own extra bits). */
  nBits: number;
  /** Bits above the global n_bits. */
  extraBits: number;
  /** Its sessions in flight. */
  inFlight: number;
  /** Its smoothed rate of new sessions. */
  arrivalsPerSecond: number;
  /** Its load over its allowance (each doubling past 1 adds a bit). */
  load: number;
}

/** An identity's own n_bits changed. */
export interface IdentityBitsChange extends IdentityLoad {
  /** n_bits before. */
  from: number;
}

/**
 * Once per adaptive tick (with `nBits: 'auto'` and client certificates): the busiest
 * identities, at most `topIdentities` (10), and those whose n_bits changed (at most as many;
 * `moreChanges` counts the rest).
 */
export interface IdentityDifficultyEvent {
  server: EventSource;
  /** The global n_bits this tick. */
  base: number;
  top: IdentityLoad[];
  changes: IdentityBitsChange[];
  moreChanges: number;
}

/** Adaptive difficulty moved the n_bits of new connections. */
export interface DifficultyChangedEvent {
  server: EventSource;
  from: number;
  to: number;
  /** The load the controller saw (weighted sessions in flight over the target). */
  load: number;
  inFlight: number;
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
  server: EventSource;
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
  /** Without `ok`: why the material was refused (naming the file). */
  error?: ConfigError;
}

/** Every server event by channel key. */
export interface ServerEvents {
  connectionAccepted: ConnectionAcceptedEvent;
  connectionRefused: ConnectionRefusedEvent;
  handshakes: HandshakesEvent;
  handshakeFailed: HandshakeFailedEvent;
  sessionStarted: SessionStartedEvent;
  workAccepted: WorkAcceptedEvent;
  sessionEnded: SessionEndedEvent;
  sessionRefused: SessionRefusedEvent;
  difficultyChanged: DifficultyChangedEvent;
  tlsReloaded: TlsReloadedEvent;
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

/** Publish `message` on the channel of `event` (a no-op without subscribers). */
export function publish<K extends keyof ServerEvents>(event: K, message: ServerEvents[K]): void {
  const channel = channels[event];
  if (channel.hasSubscribers) channel.publish(message);
}

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
