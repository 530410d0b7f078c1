/**
 * Fresh tokens, body arguments and commands from a CSPRNG.
 * @module
 */
import { randomBytes, randomInt } from 'node:crypto';
import { BODY_COMMANDS, type BodyCommand } from './messages.js';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** A random string of `[A-Za-z0-9_-]`; 64 symbols, so `byte & 63` is exactly uniform. */
export function randomToken(length = 64): string {
  const bytes = randomBytes(length);
  let out = '';
  for (const b of bytes) out += ALPHABET[b & 63];
  return out;
}

/** What the server asks in one body step: a command, or FAIL (docs/protocol.md §3, normal mode). */
export type BodyDraw = BodyCommand | 'FAIL';

/** Draw one of the eight commands or FAIL, uniformly (or one of the eight only). */
export function drawBodyCommand(includeFail = true): BodyDraw {
  const i = randomInt(BODY_COMMANDS.length + (includeFail ? 1 : 0));
  return i === BODY_COMMANDS.length ? 'FAIL' : (BODY_COMMANDS[i] as BodyCommand);
}
