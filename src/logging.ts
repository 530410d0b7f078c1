/**
 * Logging as the wire contract describes it (PROTOCOL §7): one line per record,
 * `<timestamp> <LEVEL> <logger>: <message>`, to `$XDG_STATE_HOME/tlslp/logs/<role>.log`,
 * with warnings and errors also on stderr. Normal mode appends and rotates (50 MiB, 2 backups,
 * logrotate naming `server.log.1`, `server.log.2`); tutorial mode truncates the file at open and
 * writes a fixed timestamp so its logs can be compared with golden files. A log file that stops
 * working (disk full, I/O error, folder removed, failed rotation) never stops the program: lines
 * are dropped and counted meanwhile, the file is retried with backoff, and both the failure and
 * the recovery are reported once. {@link Logger.reopen} follows the path after logrotate moved
 * the file away.
 * @module
 */
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { ConfigError } from './errors.js';
import { SELF, openSink } from './log-file.js';
import { escapeControl, escapeJsonText, hasControl } from './text/escape.js';

/** Severity of a record, with the Python names the original's users type. */
export type LogLevel = 'DEBUG' | 'INFO' | 'WARNING' | 'ERROR' | 'CRITICAL';

/** `text`: the §7 line format; `json`: one JSON object per line. */
export type LogFormat = 'text' | 'json';

/** The timestamp tutorial mode writes on every line, so runs are byte-for-byte reproducible. */
export const TUTORIAL_TIMESTAMP = '2000-01-01T00:00:00+0100';

const SEVERITY: Readonly<Record<LogLevel, number>> = {
  DEBUG: 10,
  INFO: 20,
  WARNING: 30,
  ERROR: 40,
  CRITICAL: 50,
};
const ALIASES: Readonly<Record<string, LogLevel>> = { WARN: 'WARNING', FATAL: 'CRITICAL' };

/**
 * Parse a level name as a user types it: case-insensitive, surrounding blanks ignored,
 * `WARN` accepted for `WARNING` (and `FATAL` for `CRITICAL`, as Python does).
 * @throws ConfigError naming the accepted levels when `value` is none of them.
 */
export function parseLogLevel(value: string): LogLevel {
  const upper = value.trim().toUpperCase();
  if (Object.hasOwn(SEVERITY, upper)) return upper as LogLevel;
  if (Object.hasOwn(ALIASES, upper)) return ALIASES[upper] as LogLevel;
  throw new ConfigError(
    'TLSLP_ERR_BAD_LOG_LEVEL',
    { value: JSON.stringify(value), levels: Object.keys(SEVERITY).join(', ') },
    { option: 'level' },
  );
}

/**
 * The log folder: `$XDG_STATE_HOME/tlslp/logs`, or `~/.local/state/tlslp/logs` when
 * `XDG_STATE_HOME` is unset, empty or relative (the XDG spec says to ignore relative paths).
 * @param env environment to read (default `process.env`); `HOME` in it is preferred to the OS's idea of home.
 */
export function defaultLogDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_STATE_HOME;
  const home = env.HOME && isAbsolute(env.HOME) ? env.HOME : homedir();
  const base = xdg && isAbsolute(xdg) ? xdg : join(home, '.local', 'state');
  return join(base, 'tlslp', 'logs');
}

/** Path of the log file of a role: `<defaultLogDir(env)>/server.log` or `…/client.log`. */
export function logFilePath(
  role: 'server' | 'client',
  env: NodeJS.ProcessEnv = process.env,
): string {
  return join(defaultLogDir(env), `${role}.log`);
}

/**
 * ISO 8601 local time to the second with a numeric offset without colon, as Python's
 * `%Y-%m-%dT%H:%M:%S%z` writes it: `2024-05-01T14:03:09+0200`, `…-0530`, `…+0000`.
 */
export function formatTimestamp(date: Date): string {
  const offset = -date.getTimezoneOffset();
  const abs = Math.abs(offset);
  return (
    `${pad(date.getFullYear(), 4)}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}` +
    `${offset < 0 ? '-' : '+'}${pad(Math.floor(abs / 60))}${pad(abs % 60)}`
  );
}

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
   * Optional so that loggers implemented elsewhere (a cluster worker's, a test's) need not
   * have it; call it as `logger.reopen?.()`. Every logger this module creates has it.
   */
  reopen?(): Promise<void>;
}

/**
 * Create a logger writing to a file and/or stderr.
 * @throws ConfigError naming the path when the log folder cannot be created or the file cannot
 * be opened for writing; ConfigError too for an unknown level or format, or malformed
 * `maxSize`/`maxFiles`.
 */
export function createLogger(options: LoggerOptions): Logger {
  const name = options.name;
  // Validated again because callers may hand over unchecked strings (config files, plain JS).
  const level = options.level === undefined ? 'INFO' : parseLogLevel(options.level);
  const threshold = SEVERITY[level];
  const format = options.format ?? 'text';
  if (format !== 'text' && format !== 'json') {
    throw new ConfigError(
      'TLSLP_ERR_BAD_LOG_FORMAT',
      { value: JSON.stringify(format) },
      { option: 'format' },
    );
  }
  const json = format === 'json';
  const fixed = options.fixedTimestamp;
  const stderr = options.stderr === undefined ? process.stderr : options.stderr;
  const stderrThreshold = SEVERITY[options.stderrLevel ?? 'WARNING'];
  // The logger's own lines about its file use the file's format, so a file never mixes formats.
  const selfLine = (lvl: LogLevel, msg: string): string => {
    const time = fixed ?? formatTimestamp(new Date());
    return json
      ? jsonLine(time, lvl, SELF, msg, undefined)
      : textLine(time, lvl, SELF, msg, undefined);
  };
  const file = options.file ? openSink(resolve(options.file), options, stderr, selfLine) : null;
  let closing: Promise<void> | null = null;

  const emit = (
    lvl: LogLevel,
    msg: string,
    fields: Record<string, unknown> | undefined,
    toStderr = true,
  ): void => {
    // Cheap check first: a disabled level costs one comparison, no formatting.
    if (SEVERITY[lvl] < threshold) return;
    const time = fixed ?? formatTimestamp(new Date());
    const line = json
      ? jsonLine(time, lvl, name, msg, fields)
      : textLine(time, lvl, name, msg, fields);
    if (file && !closing) file.write(line);
    if (stderr && toStderr && SEVERITY[lvl] >= stderrThreshold) stderr.write(line);
  };

  return {
    name,
    level,
    debug: (msg, fields) => emit('DEBUG', msg, fields),
    info: (msg, fields) => emit('INFO', msg, fields),
    warning: (msg, fields) => emit('WARNING', msg, fields),
    error: (msg, fields, opts) => emit('ERROR', msg, fields, opts?.stderr !== false),
    isEnabled: (lvl) => SEVERITY[lvl] >= threshold,
    close: () => (closing ??= file ? file.close() : Promise.resolve()),
    reopen: () => (file && !closing ? file.reopen() : Promise.resolve()),
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

/** Keep a record on one line and free of terminal controls (C0, DEL, C1, bidi overrides). */
const escapeText = escapeControl;

/**
 * Fields that say where a record belongs (which session, which peer, what happened). JSON
 * lines carry them as keys; text lines, which predate them, show `session` and `peer` as the
 * `[#12 127.0.0.1:53122] ` prefix they always had and leave the rest to the message (a
 * `peer` without a `session` is an ordinary field).
 */
export const CONTEXT_FIELDS: ReadonlySet<string> = new Set([
  'session',
  'peer',
  'event',
  'n_bits',
  'outcome',
  'identity',
]);

function textLine(
  time: string,
  level: LogLevel,
  name: string,
  msg: string,
  fields: Record<string, unknown> | undefined,
): string {
  let prefix = '';
  if (fields?.session !== undefined)
    prefix = `[#${String(fields.session)}${fields.peer !== undefined ? ` ${String(fields.peer)}` : ''}] `;
  let line = `${time} ${level} ${name}: ${escapeText(prefix + msg)}`;
  if (fields)
    for (const key of Object.keys(fields)) {
      // session and peer are in the prefix; the other context fields are for JSON only.
      if (CONTEXT_FIELDS.has(key) && (key !== 'peer' || prefix !== '')) continue;
      line += ` ${escapeText(key)}=${textValue(fields[key])}`;
    }
  return line + '\n';
}

const BARE_VALUE = /^[^\s"=\\]+$/;

/** Bare when unambiguous (`port=443`, `peer=127.0.0.1`), JSON-quoted otherwise (`reason="bad line"`). */
function textValue(value: unknown): string {
  if (typeof value === 'string')
    return BARE_VALUE.test(value) && !hasControl(value) ? value : escapeText(JSON.stringify(value));
  if (
    typeof value === 'number' ||
    typeof value === 'boolean' ||
    typeof value === 'bigint' ||
    value == null
  )
    return String(value);
  if (value instanceof Error) return escapeText(JSON.stringify(value.message));
  return escapeText(safeJson(value));
}

const RESERVED = new Set(['time', 'level', 'logger', 'msg']);

function jsonLine(
  time: string,
  level: LogLevel,
  name: string,
  msg: string,
  fields: Record<string, unknown> | undefined,
): string {
  const record: Record<string, unknown> = { time, level, logger: name, msg };
  if (fields) {
    // A field named like a fixed key must not overwrite it; keep it under a prefixed name.
    for (const key of Object.keys(fields))
      record[RESERVED.has(key) ? `field.${key}` : key] = fields[key];
  }
  // JSON.stringify escapes newlines; C1 and bidi characters it leaves raw are escaped too.
  return escapeJsonText(safeJson(record)) + '\n';
}

/** JSON.stringify that copes with bigint, Error and cycles instead of throwing. */
function safeJson(value: unknown): string {
  const plain = (_key: string, v: unknown): unknown => {
    if (typeof v === 'bigint') return v.toString();
    if (v instanceof Error) return { name: v.name, message: v.message };
    return v;
  };
  try {
    return JSON.stringify(value, plain) ?? 'null';
  } catch {
    // A cycle (the only other way stringify throws here): cut every repeated object. This also
    // cuts shared non-cyclic references, acceptable for a log line that would otherwise be lost.
    const seen = new WeakSet<object>();
    return (
      JSON.stringify(value, (key, v: unknown) => {
        const p = plain(key, v);
        if (typeof p === 'object' && p !== null) {
          if (seen.has(p)) return '[Circular]';
          seen.add(p);
        }
        return p;
      }) ?? 'null'
    );
  }
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}
