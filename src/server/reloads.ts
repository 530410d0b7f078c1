/**
 * The CLI's reloads: of the TLS files (SIGHUP, `--reload-interval`, a cluster primary's word),
 * one at a time, with the requests that come meanwhile merged into one more; and of the
 * reloadable part of `--config` (SIGHUP).
 * @module
 */
import { createHash } from 'node:crypto';
import type { Logger } from '../logging/logger.js';
import type { LogLevel } from '../logging/levels.js';
import type { OptionEntry } from '../options/core.js';
import { SERVER_OPTIONS } from '../options/server.js';
import {
  RELOADABLE_CLI_OPTIONS,
  RELOADABLE_SERVER_OPTIONS,
  describeChanges,
  optionKey,
  showValue,
  type OptionChange,
  type ServerReconfiguration,
} from './reconfigure.js';
import type { ReloadReason } from './cluster.js';
import type { TlslpServer } from './server.js';
import type { ServerTlsLabels, TlsMaterial } from '../tls/material.js';
import { describeError } from '../errors/describe.js';

/**
 * A reloader of the TLS files into `server`, one reload at a time (a slow read overtaken by a
 * later one would swap older files back in). Requests that come while one runs merge into
 * one more reload after it (a `signal` among them makes it a signal's), so a burst of
 * SIGHUPs costs two rereads, not one per signal. A SIGHUP reloads at once, and says what came
 * of it. An interval tick acts on what it read only once it read the same on the tick
 * before: a certificate and key replaced one after the other, or a file being written, are
 * not taken half-way (nor logged as errors). A file that cannot be read is logged once while
 * it stays so.
 * @returns the reloader: it resolves when the reload that covers this request is done
 */
export function serialReloads(
  logger: Logger,
  server: Pick<TlslpServer, 'reloadAsync'>,
  read: () => Promise<TlsMaterial>,
  labels: ServerTlsLabels,
): (why: ReloadReason) => Promise<void> {
  let lastProblem = '';
  /** What the last read gave: the files' digest, or the problem reading them. */
  let lastSeen = '';
  const settled = (why: ReloadReason, seen: string): boolean => {
    const same = seen === lastSeen;
    lastSeen = seen;
    return why === 'signal' || same;
  };
  const failed = (problem: string): void =>
    logger.error(`TLS reload failed, still serving the previous material: ${problem}`);
  const reloadOnce = async (why: ReloadReason): Promise<void> => {
    let material: TlsMaterial;
    try {
      material = await read();
    } catch (err) {
      const problem = describeError(err);
      if (!settled(why, `problem:${problem}`)) return;
      if (why === 'signal' || problem !== lastProblem) failed(problem);
      lastProblem = problem;
      return;
    }
    const digest = createHash('sha256');
    for (const part of [material.cert, material.key, material.ca, material.crl])
      digest.update(part ?? '').update('\0');
    if (!settled(why, `files:${digest.digest('hex')}`)) return;
    lastProblem = '';
    // Off the event loop: a big CRL is read and indexed in a worker thread.
    const result = await server.reloadAsync(material, labels);
    if (why !== 'signal') return;
    // The server logs a reload and a new failure; a signal hears back about the rest too.
    if (result.outcome === 'unchanged')
      logger.info(`SIGHUP: TLS files unchanged (server certificate ${result.serverSerial})`);
    else if (result.outcome === 'failed' && result.repeated && result.error)
      failed(result.error.message);
  };
  let running: Promise<void> | null = null;
  /** The one reload queued behind the running one, which every later request joins. */
  let queued: { why: ReloadReason; done: Promise<void> } | null = null;
  const start = (why: ReloadReason): Promise<void> => {
    const run: Promise<void> = reloadOnce(why)
      .catch((err: unknown) => failed(describeError(err)))
      .finally(() => {
        if (running === run) running = null;
      });
    running = run;
    return run;
  };
  return (why) => {
    if (!running) return start(why);
    if (queued) {
      if (why === 'signal') queued.why = 'signal';
      return queued.done;
    }
    const entry: { why: ReloadReason; done: Promise<void> } = {
      why,
      done: running.then(() => {
        queued = null;
        return start(entry.why);
      }),
    };
    queued = entry;
    return entry.done;
  };
}

/** The values of `tlslp-server`'s table as the command line and `--config` give them. */
export type ServerValues = Readonly<Record<string, unknown>>;

/** Options of {@link configReloads}. */
export interface ConfigReloadOptions {
  logger: Logger;
  /** The `--config` file, for the messages. */
  file: string;
  /** The values the server started with. */
  initial: ServerValues;
  /**
   * Reread the command line and the file (the command line winning, as at start) and check
   * them as a start would.
   * @throws ConfigError naming the file and key, or the option
   */
  read: () => ServerValues;
  /**
   * Apply the reloadable library options (every one given, `undefined` = its default) and
   * the log level.
   * @returns what changed among the library options
   * @throws ConfigError naming the option
   */
  apply: (options: ServerReconfiguration, logLevel: LogLevel) => OptionChange[];
}

const NOT_SETTINGS = new Set(['config', 'check']);
/** A value as in effect: the option's default when not given. */
const effective = (key: string, v: unknown): unknown =>
  v ?? (SERVER_OPTIONS as Record<string, OptionEntry>)[key]?.default;
const same = (key: string, a: unknown, b: unknown): boolean =>
  JSON.stringify(effective(key, a)) === JSON.stringify(effective(key, b));

/**
 * SIGHUP's reread of `--config`: the reloadable options (see `RELOADABLE_SERVER_OPTIONS`, and
 * the log level) are applied and each change logged on one INFO line; a changed option that
 * needs a restart gets a WARNING and keeps its running value; a file that does not parse or
 * check gets one ERROR line and changes nothing.
 * @returns the reread, to call on each SIGHUP
 */
export function configReloads(options: ConfigReloadOptions): () => void {
  const { logger, file } = options;
  let running = options.initial;
  return () => {
    let next: ServerValues;
    try {
      next = options.read();
    } catch (err) {
      logger.error(
        `config reload failed, keeping the running configuration (--config ${file}): ${describeError(err)}`,
      );
      return;
    }
    // What needs a restart keeps its running value; the rest is taken from the file.
    const restart = Object.keys(SERVER_OPTIONS).filter(
      (k) =>
        !NOT_SETTINGS.has(k) &&
        !(RELOADABLE_SERVER_OPTIONS as readonly string[]).includes(k) &&
        !(RELOADABLE_CLI_OPTIONS as readonly string[]).includes(k) &&
        !same(k, running[k], next[k]),
    );
    const bits = ['nBits', 'minBits', 'maxBits'] as const;
    const wasAuto = running.nBits === 'auto';
    if (wasAuto !== (next.nBits === 'auto')) restart.push('nBits');
    for (const k of restart)
      logger.warning(
        `config reload: ${optionKey(k)} ${showValue(k, effective(k, running[k]))} → ${showValue(k, effective(k, next[k]))} needs a restart; still ${showValue(k, effective(k, running[k]))}`,
      );
    const kept = restart.includes('nBits') ? bits : [];
    const reloadable: Record<string, unknown> = {};
    for (const k of RELOADABLE_SERVER_OPTIONS)
      reloadable[k] = (kept as readonly string[]).includes(k) ? running[k] : next[k];
    const fromLevel = (running.logLevel ?? 'INFO') as LogLevel;
    const toLevel = (next.logLevel ?? 'INFO') as LogLevel;
    let changes: OptionChange[];
    try {
      changes = options.apply(reloadable, toLevel);
    } catch (err) {
      logger.error(
        `config reload failed, keeping the running configuration (--config ${file}): ${describeError(err)}`,
      );
      return;
    }
    const updated: Record<string, unknown> = { ...running };
    for (const k of [...RELOADABLE_SERVER_OPTIONS, ...RELOADABLE_CLI_OPTIONS])
      updated[k] = k in reloadable ? reloadable[k] : next[k];
    running = updated;
    if (fromLevel !== toLevel) changes.push({ option: 'logLevel', from: fromLevel, to: toLevel });
    if (changes.length > 0) logger.info(`config reloaded: ${describeChanges(changes)}`);
    else logger.info(`SIGHUP: config unchanged (--config ${file})`);
  };
}
