/**
 * Flag parsing shared by the bins.
 * @module
 */
import { InvalidArgumentError } from 'commander';
import { parseLogLevel, type LogFormat, type LogLevel } from '../logging.js';

/** Parse `--ports 1234,5678`. */
export function parsePorts(value: string): number[] {
  const ports = value.split(',').map((p) => p.trim());
  if (
    ports.length === 0 ||
    ports.some((p) => !/^\d+$/.test(p) || Number(p) < 1 || Number(p) > 65535)
  ) {
    throw new InvalidArgumentError(
      '--ports must be a comma-separated list of ports 1..65535, e.g. 1234,5678.',
    );
  }
  return ports.map(Number);
}

/** Parse `--log-level`. */
export function logLevelOption(value: string): LogLevel {
  try {
    return parseLogLevel(value);
  } catch {
    throw new InvalidArgumentError('use DEBUG, INFO, WARNING, ERROR or CRITICAL.');
  }
}

/** Parse `--log-format`. */
export function logFormatOption(value: string): LogFormat {
  if (value !== 'text' && value !== 'json') throw new InvalidArgumentError('use text or json.');
  return value;
}

/** Read the package version (for `--version`). */
export { VERSION } from '../version.js';

/** Where `--log-file` sends the log: a file path, stderr only (`-`), or nowhere (`none`). */
export type LogFileChoice = { kind: 'file'; path: string } | { kind: 'stderr' } | { kind: 'none' };

/**
 * Read `--log-file`: absent means the XDG default file, `-` stderr only (every record, for
 * a server under a supervisor that collects stderr), `none` no file at all (warnings still on
 * stderr), anything else a path.
 */
export function logFileChoice(value: string | undefined, fallback: string): LogFileChoice {
  if (value === undefined) return { kind: 'file', path: fallback };
  if (value === '-') return { kind: 'stderr' };
  if (value === 'none') return { kind: 'none' };
  return { kind: 'file', path: value };
}
