/**
 * The logger core: a level filter in front of one sink, which gets each record whole (pino's
 * split: a small core, formatting and destinations apart). {@link createLogger} puts the text or
 * JSON formatter, the file and stderr behind it; a cluster worker puts the IPC sink there.
 * @module
 */
import { resolve } from 'node:path';
import { ConfigError } from '../errors/index.js';
import { SELF, openSink } from './file-sink.js';
import { formatLine, lineTimestamp, type LineRecord, type LogFormat } from './format.js';
import { SEVERITY, parseLogLevel, type LogLevel } from './levels.js';
import { fileLines, formattedLines, stderrLines, type LineSink } from './sinks.js';

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** Logger name written on every line, e.g. `tlslp.server`. */
  name: string;
  /** Least severe level written. Default `INFO`. */
  level?: LogLevel;
  /** Line format. Default `text`. */
  format?: LogFormat;
  /** Path of the log file; `null`/`undefined` writes no file. Its folder is created if missing. */
  file?: string | null;
  /**
   * `append` (default): keep what the file holds and rotate by size (logrotate naming:
   * `<file>.1` is the newest backup). `overwrite`: truncate the file at open, never rotate.
   */
  mode?: 'append' | 'overwrite';
  /** Written instead of the current time on every line (tutorial mode: {@link TUTORIAL_TIMESTAMP}). */
  fixedTimestamp?: string;
  /** Where WARNING and above also go. Default `process.stderr`; `null` = nowhere. */
  stderr?: NodeJS.WritableStream | null;
  /**
   * Least severe level also written to `stderr` (default `WARNING`). `--log-file -` sets it
   * to the logger's level: every record goes to stderr.
   */
  stderrLevel?: LogLevel;
  /** Size at which the file rotates in append mode: a positive number and a unit `B`, `K`, `M` or `G` (`300B`, `10K`, `50M`). Default `50M`. */
  maxSize?: string;
  /** How many rotated backups append mode keeps. Default 2. */
  maxFiles?: number;
  /** Called after each rotation (append mode) with the path of the backup just made, always `<file>.1`. */
  onRotated?: (backup: string) => void;
  /**
   * Delays between attempts to get a failed log file working again (disk full, I/O error,
   * permission denied, folder removed, failed rotation), in milliseconds: `min` first, doubling
   * up to `max`. Lines logged meanwhile are dropped and counted. Default `{ min: 1000, max: 60000 }`;
   * tests pass small values. The timers never keep the process alive.
   */
  retryMs?: RetryDelays;
  /**
   * Least time in milliseconds between two checks that the open file is still the one at the
   * path (a write into a deleted file succeeds and the line is silently lost; logrotate may have
   * moved it away). Checked only when lines are written, and at each rotation. Default 1000;
   * 0 checks before every write.
   */
  checkMs?: number;
}

/** Bounds of the backoff between retries of a failed log file, in milliseconds. */
export interface RetryDelays {
  /** First delay, > 0. */
  min: number;
  /** Largest delay, >= `min`; each failed retry doubles the delay up to this. */
  max: number;
}

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

/**
 * Create a logger writing to a file and/or stderr.
 * @throws ConfigError naming the path when the log folder cannot be created or the file cannot
 * be opened for writing; ConfigError too for an unknown level or format, or malformed
 * `maxSize`/`maxFiles`.
 */
export function createLogger(options: LoggerOptions): Logger {
  // Validated again because callers may hand over unchecked strings (config files, plain JS).
  const level = options.level === undefined ? 'INFO' : parseLogLevel(options.level);
  const format = options.format ?? 'text';
  if (format !== 'text' && format !== 'json') {
    throw new ConfigError(
      'TLSLP_ERR_BAD_LOG_FORMAT',
      { value: JSON.stringify(format) },
      { option: 'format' },
    );
  }
  const fixed = options.fixedTimestamp;
  const stderr = options.stderr === undefined ? process.stderr : options.stderr;
  // The logger's own lines about its file use the file's format, so a file never mixes formats.
  const selfLine = (lvl: LogLevel, msg: string): string =>
    formatLine(format, fixed ?? lineTimestamp(format, new Date()), {
      level: lvl,
      name: SELF,
      msg,
      fields: undefined,
    });
  const file = options.file ? openSink(resolve(options.file), options, stderr, selfLine) : null;
  const lines: LineSink[] = [];
  if (file) lines.push(fileLines(file));
  if (stderr) lines.push(stderrLines(stderr, options.stderrLevel ?? 'WARNING'));
  return createLoggerCore(options.name, level, formattedLines(format, fixed, lines));
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
