/**
 * Any thrown value as the one line a user sees (the bins' error line, the reloader's log line).
 * @module
 */
import { escapeControl } from '../text/escape.js';
import { TlslpError } from './index.js';

/**
 * Format any thrown value as the one line a user sees, control characters escaped: a message
 * may quote a peer (a FAIL reason, an unexpected line), and it goes to a terminal.
 */
export function describeError(err: unknown): string {
  return escapeControl(rawDescription(err));
}

function rawDescription(err: unknown): string {
  if (err instanceof TlslpError) return err.message;
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code ? `${err.message} (${code})` : err.message;
  }
  return String(err);
}
