/**
 * The server's log lines about connections and sessions, written by hooks on its own
 * events (see `ServerEmitter`). Warnings strangers can cause are rate-limited per kind.
 * @module
 */
import { sessionFailureReason } from '../errors/index.js';
import type { Logger } from '../logging/logger.js';
import { identityLabel, type ClientIdentity } from './identity.js';
import type { ServerEventHandlers } from './events.js';
import { WarningLimiter, type WarningLimitOptions } from './warn-limit.js';

/**
 * The fields that tie a record to its session and its client: `session`, `peer`, and the
 * certificate's `cn` and `fp` when there is one (none in a reproducible log).
 */
export function sessionContext(
  id: number,
  peer: string,
  reproducible: boolean,
  identity?: ClientIdentity,
): Record<string, unknown> {
  if (reproducible) return {};
  return identity ? { session: id, peer, cn: identity.cn, fp: identity.fp } : { session: id, peer };
}

/**
 * The hooks that log a server's events to `logger`, and `close` (writes the warning
 * limiter's last summary).
 */
export function logHooks(
  logger: Logger,
  warningLimit?: WarningLimitOptions,
): { hooks: ServerEventHandlers; close: () => void } {
  const warnings = new WarningLimiter((m, f) => logger.warning(m, f), warningLimit);
  const hooks: ServerEventHandlers = {
    connectionRefused: ({ ip, reason, detail }) =>
      warnings.warn(
        `refused: ${reason}`,
        // A missing or broken PROXY header is no limit: say what was wrong with it.
        reason === 'proxy-header'
          ? `Refused connection from ${ip}: no valid PROXY protocol header (${detail ?? 'none in time'})`
          : `Refused connection from ${ip}: ${reason} limit reached`,
        {
          peer: ip,
          event: 'refused',
        },
      ),
    handshakeFailed: ({ peer, reason, text, error }) => {
      warnings.warn(`handshake: ${reason}`, `TLS handshake failed from ${peer}: ${text}`, {
        peer,
        event: 'handshake-failed',
        reason,
      });
      if (error && logger.isEnabled('DEBUG'))
        logger.debug(
          `TLS handshake detail from ${peer}: ${(error as NodeJS.ErrnoException).code ?? ''} ${error.message}`,
        );
    },
    sessionStarted: ({ id, peer, protocol, identity, reproducible }) => {
      if (!logger.isEnabled('INFO')) return;
      logger.info(reproducible ? 'Client connected' : `Client connected (${protocol})`, {
        ...sessionContext(id, peer, reproducible, identity),
        event: 'connected',
      });
    },
    sessionRefused: ({ peer, identity, code, detail }) => {
      const label = sessionFailureReason(code);
      warnings.warn(`session: ${label}`, `Refused client ${peer} before HELLO: ${detail}`, {
        peer,
        event: 'session-refused',
        reason: label,
        cn: identity.cn,
        fp: identity.fp,
      });
    },
    sessionEnded: ({ id, peer, result, durationMs, nBits, identity, reproducible }) => {
      if (reproducible || !logger.isEnabled('INFO')) return;
      logger.info(`Session ended: ${result.outcome} after ${Math.round(durationMs)} ms`, {
        ...sessionContext(id, peer, false, identity),
        event: 'session-end',
        outcome: result.outcome,
        n_bits: nBits,
      });
    },
    identityDifficulty: ({ base, changes, moreChanges }) => {
      for (const c of changes)
        logger.info(
          `Identity n_bits ${c.nBits > c.from ? 'raised' : 'lowered'}: ${identityLabel(c.identity)} n_bits ${c.from} -> ${c.nBits} (load ${c.load.toFixed(2)}: ${c.inFlight} in flight, ${c.arrivalsPerSecond.toFixed(1)} new/s; global n_bits ${base})`,
          {
            event: 'identity-n-bits',
            cn: c.identity.cn,
            fp: c.identity.fp,
            n_bits: c.nBits,
          },
        );
      if (moreChanges > 0)
        logger.info(`Identity n_bits changed for ${moreChanges} more identities`, {
          event: 'identity-n-bits',
          count: moreChanges,
        });
    },
    difficultyChanged: (c) =>
      logger.info(
        `Difficulty ${c.to > c.from ? 'raised' : 'lowered'}: n_bits ${c.from} -> ${c.to} (load ${c.load.toFixed(2)}, ${c.inFlight} weighted sessions in flight, ${c.arrivalsPerSecond.toFixed(1)} new/s)`,
      ),
  };
  return { hooks, close: () => warnings.close() };
}
