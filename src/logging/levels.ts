/**
 * Log levels: the names, their order, and parsing what a user types.
 * @module
 */
import { ConfigError } from '../errors/index.js';

/** Severity of a record, with the Python names the original's users type. */
export type LogLevel = 'DEBUG' | 'INFO' | 'WARNING' | 'ERROR' | 'CRITICAL';

/** Numeric order of the levels (Python's values), for threshold comparisons. */
export const SEVERITY: Readonly<Record<LogLevel, number>> = {
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
