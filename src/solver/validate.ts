/**
 * Argument checks of the solver's public functions, before any kernel loads or thread starts.
 * @module
 */
import { ConfigError } from '../errors/index.js';

const TOKEN_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;
/** Most threads a solve may ask for. */
export const MAX_THREADS = 1024;

/** Options checked by {@link validateSolve}. */
export interface CheckedOptions {
  threads?: number;
  progressIntervalMs?: number;
}

/** @throws ConfigError (`BAD_THREADS`) unless `threads` is an integer from 1 to {@link MAX_THREADS}. */
export function validateThreads(threads: number): void {
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS) {
    throw new ConfigError('TLSLP_ERR_BAD_THREADS', {
      option: 'threads',
      max: MAX_THREADS,
      value: threads,
    });
  }
}

/**
 * Check the arguments of a solve (they may come from untyped callers).
 * @throws ConfigError `BAD_TOKEN`, `BAD_N_BITS`, `BAD_THREADS` or `BAD_PROGRESS_INTERVAL`.
 */
export function validateSolve(token: unknown, nBits: unknown, options: CheckedOptions): void {
  if (typeof token !== 'string' || !TOKEN_PATTERN.test(token)) {
    throw new ConfigError('TLSLP_ERR_BAD_TOKEN', { option: 'token' });
  }
  if (typeof nBits !== 'number' || !Number.isInteger(nBits) || nBits < 0 || nBits > 64) {
    throw new ConfigError('TLSLP_ERR_BAD_N_BITS', { option: 'nBits', value: String(nBits) });
  }
  const { threads, progressIntervalMs } = options;
  if (threads !== undefined) validateThreads(threads);
  if (
    progressIntervalMs !== undefined &&
    !(Number.isFinite(progressIntervalMs) && progressIntervalMs > 0)
  ) {
    throw new ConfigError('TLSLP_ERR_BAD_DURATION', {
      option: 'progressIntervalMs',
      value: progressIntervalMs,
    });
  }
}
