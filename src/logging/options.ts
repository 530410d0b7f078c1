/**
 * The options of {@link createLogger}, one entry each: its description, default and kind.
 * `LoggerOptions` is read from this table, and the bins' `--log-level`/`--log-format` flags
 * are its `level` and `format` entries.
 * @module
 */
import { option, type InputOf } from '../options/core.js';
import { integer, oneOf, text } from '../options/kinds.js';
import { LOG_LEVELS, parseLogLevel } from './levels.js';

/** A level as a user types it (`warn`, ` Info `): {@link parseLogLevel}'s spellings. */
const level = oneOf(LOG_LEVELS, (s) => {
  try {
    return parseLogLevel(s);
  } catch {
    return s; // refused by the list, with the list in the message
  }
});

/** A path, or null for none. */
const pathOrNull = {
  parse: (s: string): string | null => s,
  expected: (v: unknown) => (v === null || typeof v === 'string' ? null : 'a path or null'),
  show: (v: string | null) => v ?? 'none',
};

/** The logger's options that are values (the stream and callbacks are in LoggerOptions). */
export const LOGGER_OPTIONS = {
  /** Logger name written on every line, e.g. `tlslp.server`. Default: none. */
  name: option(text(), {
    default: undefined,
    help: 'logger name written on every line, e.g. `tlslp.server`',
  }),
  /** Least severe level written. Default: `"INFO"`. */
  level: option(level, {
    default: 'INFO',
    help: 'least severe level written',
  }),
  /** Line format: `text` or `json` (one object per line). Default: `"text"`. */
  format: option(oneOf(['text', 'json']), {
    default: 'text',
    help: 'line format: `text` or `json` (one object per line)',
  }),
  /**
   * Path of the log file; null or unset writes no file. Its folder is created if missing. Default:
   * none.
   */
  file: option(pathOrNull, {
    default: undefined,
    help: 'path of the log file; null or unset writes no file. Its folder is created if missing',
  }),
  /**
   * `append` keeps what the file holds and rotates by size (logrotate naming: `<file>.1` is the
   * newest backup); `overwrite` truncates the file at open and never rotates. Default: `"append"`.
   */
  mode: option(oneOf(['append', 'overwrite']), {
    default: 'append',
    help: '`append` keeps what the file holds and rotates by size (logrotate naming: `<file>.1` is the newest backup); `overwrite` truncates the file at open and never rotates',
  }),
  /**
   * Written instead of the current time on every line (tutorial mode: `TUTORIAL_TIMESTAMP`).
   * Default: none.
   */
  fixedTimestamp: option(text(), {
    default: undefined,
    help: 'written instead of the current time on every line (tutorial mode: `TUTORIAL_TIMESTAMP`)',
  }),
  /**
   * Least severe level also written to `stderr`; `--log-file -` sets it to the logger's level, so
   * every record goes to stderr. Default: `"WARNING"`.
   */
  stderrLevel: option(level, {
    default: 'WARNING',
    help: "least severe level also written to `stderr`; `--log-file -` sets it to the logger's level, so every record goes to stderr",
  }),
  /**
   * Size at which the file rotates in append mode: a positive number and a unit `B`, `K`, `M` or
   * `G` (`300B`, `10K`, `50M`). Default: `"50M"`.
   */
  maxSize: option(text(), {
    default: '50M',
    help: 'size at which the file rotates in append mode: a positive number and a unit `B`, `K`, `M` or `G` (`300B`, `10K`, `50M`)',
  }),
  /** How many rotated backups append mode keeps. Default: `2`. */
  maxFiles: option(integer(1, 1000), {
    default: 2,
    help: 'how many rotated backups append mode keeps',
  }),
  /**
   * Least time in milliseconds between two checks that the open file is still the one at the path
   * (a write into a deleted file succeeds and the line is lost; logrotate may have moved it away).
   * Checked only when lines are written, and at each rotation; 0 checks before every write.
   * Default: `1000` ms.
   */
  checkMs: option(integer(0, 2 ** 31 - 1), {
    default: 1000,
    help: 'least time in milliseconds between two checks that the open file is still the one at the path (a write into a deleted file succeeds and the line is lost; logrotate may have moved it away). Checked only when lines are written, and at each rotation; 0 checks before every write',
  }),
} as const;

type Table = typeof LOGGER_OPTIONS;

/** Bounds of the backoff between retries of a failed log file, in milliseconds. */
export interface RetryDelays {
  /** First delay, > 0. */
  min: number;
  /** Largest delay, >= `min`; each failed retry doubles the delay up to this. */
  max: number;
}

/** The default backoff of a failed log file. */
export const DEFAULT_RETRY_MS: RetryDelays = { min: 1000, max: 60_000 };

/** The table's options: `name` required, the others optional. */
type LoggerTableOptions = Omit<InputOf<Table, keyof Table>, 'name'> &
  Required<Pick<InputOf<Table, 'name'>, 'name'>>;

/** Options of {@link createLogger}: the table's, and the stream and callbacks. */
export interface LoggerOptions extends LoggerTableOptions {
  /** Where WARNING and above also go. Default `process.stderr`; `null` = nowhere. */
  stderr?: NodeJS.WritableStream | null;
  /** Called after each rotation (append mode) with the path of the backup just made, always `<file>.1`. */
  onRotated?: (backup: string) => void;
  /**
   * Delays between attempts to get a failed log file working again (disk full, I/O error,
   * permission denied, folder removed, failed rotation), in milliseconds: `min` first,
   * doubling up to `max`. Lines logged meanwhile are dropped and counted. Default
   * `{ min: 1000, max: 60000 }`; tests pass small values. The timers never keep the process
   * alive.
   */
  retryMs?: RetryDelays;
}
