/**
 * Log levels: the one list of their names, their order, and parsing what a user types. The
 * option kinds, `--log-level`'s choices and the docs read {@link LOG_LEVELS}.
 * @module
 */
import { ConfigError } from '../errors/index.js';

/** The levels, least severe first, with the Python names the original's users type. */
export const LOG_LEVELS = ['DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL'] as const;

/** Severity of a record. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Numeric order of the levels (Python's values: 10, 20, … 50), for threshold comparisons. */
export const SEVERITY: Readonly<Record<LogLevel, number>> = Object.fromEntries(
  LOG_LEVELS.map((level, i) => [level, (i + 1) * 10]),
) as Record<LogLevel, number>;

const ALIASES: Readonly<Record<string, LogLevel>> = { WARN: 'WARNING', FATAL: 'CRITICAL' };

/** The spellings a user may type besides the names, for the docs (`WARN`, `FATAL`). */
export const LOG_LEVEL_ALIASES: readonly string[] = Object.keys(ALIASES);

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
    { value: JSON.stringify(value), levels: LOG_LEVELS.join(', ') },
    { option: 'level' },
  );
}
