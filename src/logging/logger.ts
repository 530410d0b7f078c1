/**
 * The logger core: a level filter in front of one sink, which gets each record whole (pino's
 * split: a small core, formatting and destinations apart). It imports no sink: {@link createLogger}
 * (create.ts) puts the text or JSON formatter, the file and stderr behind it; a cluster worker
 * puts the IPC sink there. The library logs through this core alone, so importing the server
 * does not load the file sink.
 * @module
 */
import type { LineRecord } from './format.js';
import { SEVERITY, type LogLevel } from './levels.js';

/** A named logger. Methods may be called detached (`const { info } = logger`). */
export interface Logger {
  /** The name written on every line. */
  readonly name: string;
  /** Least severe level written. */
  readonly level: LogLevel;
  /** Log at DEBUG. `fields` are appended as ` key=value` (text) or as extra keys (JSON). */
  debug(msg: string, fields?: Record<string, unknown>): void;
  /** Log at INFO. */
  info(msg: string, fields?: Record<string, unknown>): void;
  /** Log at WARNING; also written to the stderr stream. */
  warning(msg: string, fields?: Record<string, unknown>): void;
  /**
   * Log at ERROR; also written to the stderr stream unless `options.stderr` is false (the
   * CLIs print their own one-line error and record it in the file only).
   */
  error(msg: string, fields?: Record<string, unknown>, options?: { stderr?: boolean }): void;
  /** Whether a record at `level` would be written; lets callers skip building costly messages. */
  isEnabled(level: LogLevel): boolean;
  /** Flush and close the file. Resolves once every line logged before the call is in the file. Idempotent. */
  close(): Promise<void>;
  /**
   * Close the log file after flushing it and open its path again, as logrotate's `postrotate`
   * (typically a SIGHUP handler) expects: once the file was moved away, new lines go to a new
   * file at the path. Lines logged before the call go to the old file, later ones to the new
   * one; none are lost or reordered. A deleted folder is recreated. Never rejects: a path that
   * cannot be opened is reported and retried like any other log-file fault. Resolves at once
   * for a logger without a file and after close().
   *
   * Optional so that loggers implemented elsewhere (a test's) need not have it; call it as
   * `logger.reopen?.()`. Every logger this module creates has it (a cluster worker's too).
   */
  reopen?(): Promise<void>;
  /**
   * Change the least severe level written (the server's SIGHUP rereads `--log-level`).
   * Optional, as `reopen`; every logger this module creates has it.
   */
  setLevel?(level: LogLevel): void;
}

/** A record that passed the level filter, as the core hands it to its sink. */
export interface LogRecord extends LineRecord {
  /** False when the caller keeps the record off stderr (`error(msg, fields, { stderr: false })`). */
  stderr: boolean;
}

/** Where the core sends records; `write` keeps the order of calls. */
export interface RecordSink {
  write(record: LogRecord): void;
  reopen(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A logger over one sink: records below `level` cost one comparison and reach no sink.
 * `close()` is idempotent; `reopen()` after it does nothing.
 */
export function createLoggerCore(name: string, level: LogLevel, sink: RecordSink): Logger {
  let threshold = SEVERITY[level];
  let closing: Promise<void> | null = null;
  const emit = (
    lvl: LogLevel,
    msg: string,
    fields: Record<string, unknown> | undefined,
    stderr = true,
  ): void => {
    if (SEVERITY[lvl] < threshold) return;
    sink.write({ level: lvl, name, msg, fields, stderr });
  };
  return {
    name,
    get level() {
      return level;
    },
    setLevel: (next) => {
      level = next;
      threshold = SEVERITY[next];
    },
    debug: (msg, fields) => emit('DEBUG', msg, fields),
    info: (msg, fields) => emit('INFO', msg, fields),
    warning: (msg, fields) => emit('WARNING', msg, fields),
    error: (msg, fields, opts) => emit('ERROR', msg, fields, opts?.stderr !== false),
    isEnabled: (lvl) => SEVERITY[lvl] >= threshold,
    close: () => (closing ??= sink.close()),
    reopen: () => (closing ? Promise.resolve() : sink.reopen()),
  };
}

/**
 * A child of `parent` (pino's `child`): every record carries `context` under the fields given
 * with it, which win on a clash, e.g. a session's `{ session, peer }`. A disabled level costs
 * the parent's level check and no merge. The parent owns the sinks: closing the child does
 * nothing, reopening it reopens the parent.
 */
export function childLogger(parent: Logger, context: Record<string, unknown>): Logger {
  const merged = (
    lvl: LogLevel,
    fields: Record<string, unknown> | undefined,
  ): Record<string, unknown> | undefined =>
    parent.isEnabled(lvl) ? { ...context, ...fields } : undefined;
  return {
    name: parent.name,
    get level() {
      return parent.level;
    },
    debug: (msg, fields) => parent.debug(msg, merged('DEBUG', fields)),
    info: (msg, fields) => parent.info(msg, merged('INFO', fields)),
    warning: (msg, fields) => parent.warning(msg, merged('WARNING', fields)),
    error: (msg, fields, opts) => parent.error(msg, merged('ERROR', fields), opts),
    isEnabled: (lvl) => parent.isEnabled(lvl),
    close: () => Promise.resolve(),
    reopen: () => parent.reopen?.() ?? Promise.resolve(),
  };
}

/** A logger that discards everything: the library default when the caller passes none. */
export function createNullLogger(name = 'tlslp'): Logger {
  const drop = (): void => {};
  return {
    name,
    level: 'CRITICAL',
    debug: drop,
    info: drop,
    warning: drop,
    error: drop,
    isEnabled: () => false,
    close: () => Promise.resolve(),
    reopen: () => Promise.resolve(),
  };
}
