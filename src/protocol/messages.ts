/**
 * Messages of the session (docs/protocol.md §3–4): parsing and validation for both sides, and
 * formatting. Pure: knows nothing of sockets.
 * @module
 */
import { ProtocolError } from '../errors/index.js';

/** The eight body commands, in the order tutorial mode sends them. */
export const BODY_COMMANDS = [
  'FULL_NAME',
  'EMAIL1',
  'EMAIL2',
  'SOCIAL',
  'BIRTHDATE',
  'COUNTRY',
  'ADDR_LINE1',
  'ADDR_LINE2',
] as const;

/** One of the eight body commands. */
export type BodyCommand = (typeof BODY_COMMANDS)[number];

/** Largest n_bits a WORK may ask for. */
export const MAX_N_BITS = 64;
/** Longest token and suffix. */
export const MAX_TOKEN_LENGTH = 128;

const TOKEN_RE = /^[A-Za-z0-9_-]{1,128}$/;
const N_BITS_RE = /^(?:0|[1-9][0-9]?)$/;
// A body argument: a run without spaces or control characters. The protocol only calls it
// "short"; the 1000-byte line limit bounds it, and the checksum covers whatever it is.
const ARG_RE = /^[^\s\p{Cc}]+$/u;
const CHECKSUM_RE = /^[0-9a-f]{64}$/;

/** A message the server sends. */
export type ServerMessage =
  | {
      /** `HELLO`: the session starts. */
      type: 'HELLO';
    }
  | {
      /** `WORK <token> <n_bits>`: the proof-of-work challenge. */
      type: 'WORK';
      /** The token the suffix is appended to. */
      token: string;
      /** Trailing zero bits required, 0..64. */
      nBits: number;
    }
  | {
      /** `<CMD> <arg>`: one body request. */
      type: 'BODY';
      /** Which of the eight values is asked for. */
      command: BodyCommand;
      /** The argument hashed into the checksum. */
      arg: string;
    }
  | {
      /** `DONE`: all requests answered. */
      type: 'DONE';
    }
  | {
      /** `FAIL <reason>`: the server ends the session. */
      type: 'FAIL';
      /** The text after `FAIL ` (may be empty). */
      reason: string;
    };

/** True for a valid WORK token or suffix: 1..128 characters of `[A-Za-z0-9_-]`. */
export function isValidToken(value: string): boolean {
  return TOKEN_RE.test(value);
}

/** True for a valid suffix (same rule as a token). */
export const isValidSuffix = isValidToken;

/** True for a valid body argument. */
export function isValidArg(value: string): boolean {
  return ARG_RE.test(value);
}

/** True for a valid n_bits: an integer 0..64. */
export function isValidNBits(value: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= MAX_N_BITS;
}

/** True when `value` is a body command. */
export function isBodyCommand(value: string): value is BodyCommand {
  return (BODY_COMMANDS as readonly string[]).includes(value);
}

/** Split a line into command and argument at the first space only. */
export function splitCommand(line: string): {
  /** Text before the first space (the whole line when there is none). */
  command: string;
  /** Text after the first space, or undefined when the line has no space. */
  arg: string | undefined;
} {
  const i = line.indexOf(' ');
  return i === -1
    ? { command: line, arg: undefined }
    : { command: line.slice(0, i), arg: line.slice(i + 1) };
}

/** Make text safe to quote in an error or log line: bounded and without control characters. */
export function quote(text: string, max = 60): string {
  const cut = text.length > max ? `${text.slice(0, max)}…` : text;
  return JSON.stringify(cut);
}

/**
 * Parse and validate a line from the server (the client side).
 * @throws ProtocolError for anything outside the contract.
 */
export function parseServerMessage(line: string): ServerMessage {
  const { command, arg } = splitCommand(line);
  switch (command) {
    case 'HELLO':
    case 'DONE':
      if (arg !== undefined) throw new ProtocolError('TLSLP_ERR_BAD_MESSAGE', { command });
      return { type: command };
    case 'FAIL':
      return { type: 'FAIL', reason: arg ?? '' };
    case 'WORK': {
      const parts = arg === undefined ? [] : arg.split(' ');
      if (parts.length !== 2) throw new ProtocolError('TLSLP_ERR_BAD_WORK');
      const [token, bits] = parts as [string, string];
      if (!isValidToken(token)) {
        throw new ProtocolError('TLSLP_ERR_BAD_WORK_TOKEN', { token: quote(token) });
      }
      const nBits = N_BITS_RE.test(bits) ? Number(bits) : NaN;
      if (!isValidNBits(nBits))
        throw new ProtocolError('TLSLP_ERR_BAD_WORK_N_BITS', { value: quote(bits) });
      return { type: 'WORK', token, nBits };
    }
    default:
      if (isBodyCommand(command)) {
        if (arg === undefined || !isValidArg(arg)) {
          throw new ProtocolError('TLSLP_ERR_BAD_ARGUMENT', { command });
        }
        return { type: 'BODY', command, arg };
      }
      throw new ProtocolError('TLSLP_ERR_UNKNOWN_COMMAND', { command: quote(command) });
  }
}

/** Format a server message as line text (without `\n`). */
export function formatServerMessage(message: ServerMessage): string {
  switch (message.type) {
    case 'HELLO':
    case 'DONE':
      return message.type;
    case 'FAIL':
      return `FAIL ${message.reason}`;
    case 'WORK':
      return `WORK ${message.token} ${message.nBits}`;
    case 'BODY':
      return `${message.command} ${message.arg}`;
  }
}

/** The client's reply to HELLO. */
export const HELLO_REPLY = 'HELLOBACK';
/** The client's reply to DONE. */
export const DONE_REPLY = 'OK';

/**
 * Parse the client's answer to WORK: the suffix alone.
 * @throws ProtocolError when it is not 1..128 characters of `[A-Za-z0-9_-]`.
 */
export function parseSuffixReply(line: string): string {
  if (!isValidSuffix(line)) throw new ProtocolError('TLSLP_ERR_BAD_SUFFIX');
  return line;
}

/** A parsed body reply: `<sha256hex(token ‖ arg)> <value>`. */
export interface BodyReply {
  /** The 64 lowercase hex digits before the first space. */
  checksum: string;
  /** Everything after the first space (may be empty or hold spaces). */
  value: string;
}

/**
 * Parse the client's answer to a body command.
 * @throws ProtocolError when the checksum is not 64 lowercase hex digits.
 */
export function parseBodyReply(line: string): BodyReply {
  const { command, arg } = splitCommand(line);
  if (!CHECKSUM_RE.test(command)) throw new ProtocolError('TLSLP_ERR_BAD_CHECKSUM_FORMAT');
  return { checksum: command, value: arg ?? '' };
}

/** Format a body reply line (without `\n`). */
export function formatBodyReply(checksum: string, value: string): string {
  return `${checksum} ${value}`;
}

/** Half a token at most, for logs (docs/protocol.md §7). */
export function redactToken(token: string): string {
  return `${token.slice(0, Math.floor(token.length / 2))}…`;
}
