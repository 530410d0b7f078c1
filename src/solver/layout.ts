/**
 * How a candidate suffix is laid out, shared by every kernel.
 *
 * suffix = filler + 11 nonce characters. The filler (a run of `FILLER_CHAR`) is sized so
 * that `token + filler` is 44 bytes past a 64-byte boundary. The message then always ends
 * with exactly one final block: bytes 0..43 constant, bytes 44..54 the nonce, byte 55 the
 * 0x80 pad, bytes 56..63 the bit length. Everything before that block is hashed once (the
 * midstate); inside one scan call only the last three nonce characters change, so message
 * words W0..W12 are constant and only W13 varies per candidate.
 *
 * The nonce is a 64-bit number split as (hi, lo), two unsigned 32-bit halves. Nonce
 * character i (0..10) is `ALPHABET[(nonce >> 6*(10-i)) & 63]`: the least significant six
 * bits are the last character.
 * @module
 */
import { compress, IV } from './sha256.js';

/** The 64 characters a suffix may use (`[A-Za-z0-9_-]`), in nonce-digit order. */
export const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
/** Byte values of {@link ALPHABET}, for kernels. */
export const ALPHABET_BYTES = Uint8Array.from(ALPHABET, (c) => c.charCodeAt(0));
/** Number of nonce characters at the end of every suffix (66 bits ≥ 64-bit nonce). */
export const NONCE_CHARS = 11;
/** The filler character. */
export const FILLER_CHAR = 'x';
/** Offset of the first nonce byte inside the final block. */
export const NONCE_OFFSET = 44;
/**
 * Largest candidate count of one scan call: the last three nonce characters (18 bits), so
 * that W0..W12 stay constant inside a call. Calls start at a multiple of this.
 */
export const SCAN_WINDOW = 1 << 18;

/** A WORK challenge prepared for scanning. Plain data: it crosses to worker threads as is. */
export interface PreparedJob {
  token: string;
  nBits: number;
  /** The filler placed before the nonce characters. */
  filler: string;
  /** Hash state after the full 64-byte blocks of `token + filler` (8 words). */
  midstate: Uint32Array;
  /** Bytes 0..43 of the final block (the tail of `token + filler`). */
  tail: Uint8Array;
  /** Total message length in bytes (`token + filler + 11`). */
  messageLength: number;
}

/** Prepare `WORK token nBits` for the kernels. `token` must be ASCII (validated by the caller). */
export function prepareJob(token: string, nBits: number): PreparedJob {
  const fillerLength = (((NONCE_OFFSET - token.length) % 64) + 64) % 64;
  const filler = FILLER_CHAR.repeat(fillerLength);
  const prefix = Buffer.from(token + filler, 'latin1');
  const fullBlocks = (prefix.length - NONCE_OFFSET) / 64;
  const midstate = new Uint32Array(IV);
  for (let b = 0; b < fullBlocks; b++) compress(midstate, prefix, b * 64);
  const tail = new Uint8Array(prefix.subarray(fullBlocks * 64));
  return {
    token,
    nBits,
    filler,
    midstate,
    tail,
    messageLength: prefix.length + NONCE_CHARS,
  };
}

/** Write the 11 nonce characters of nonce (hi, lo) into `out[offset..offset+11)`. */
export function writeNonce(out: Uint8Array, offset: number, hi: number, lo: number): void {
  // Characters 10..5 come from bits 0..35, characters 4..0 from bits 36..65.
  let low = lo >>> 0;
  let high = hi >>> 0;
  for (let i = NONCE_CHARS - 1; i >= 0; i--) {
    out[offset + i] = ALPHABET_BYTES[low & 63] as number;
    // Shift the 64-bit value right by six bits.
    low = ((low >>> 6) | ((high & 63) << 26)) >>> 0;
    high = high >>> 6;
  }
}

/** The nonce characters of nonce (hi, lo). */
export function nonceString(hi: number, lo: number): string {
  const out = new Uint8Array(NONCE_CHARS);
  writeNonce(out, 0, hi, lo);
  return Buffer.from(out).toString('latin1');
}

/** The full suffix for nonce (hi, lo) of `job`. */
export function suffixFor(job: PreparedJob, hi: number, lo: number): string {
  return job.filler + nonceString(hi, lo);
}

/**
 * The last-digest-word mask a kernel tests in its hot loop: a candidate is a hit when
 * `(H7 & mask) === 0`. For n_bits above 32 this is the whole word and the caller checks
 * the rest with node:crypto.
 */
export function hitMask(nBits: number): number {
  if (nBits >= 32) return 0xffffffff;
  return ((1 << nBits) - 1) >>> 0;
}
