/**
 * SHA-256 helpers of the protocol: the WORK condition and the body checksum (docs/protocol.md §3–4).
 * @module
 */
import { createHash } from 'node:crypto';

/** SHA-256 of the UTF-8 bytes of `token + suffix`, as 32 bytes. */
export function workDigest(token: string, suffix: string): Buffer {
  return createHash('sha256')
    .update(token + suffix, 'utf8')
    .digest();
}

/** Number of trailing zero bits of a digest read as a big-endian unsigned integer. */
export function trailingZeroBits(digest: Uint8Array): number {
  let bits = 0;
  for (let i = digest.length - 1; i >= 0; i--) {
    const byte = digest[i] as number;
    if (byte === 0) {
      bits += 8;
      continue;
    }
    // Count the low zero bits of the first non-zero byte from the end.
    let b = byte;
    while ((b & 1) === 0) {
      bits++;
      b >>= 1;
    }
    return bits;
  }
  return bits;
}

/** True when SHA-256(token ‖ suffix) has at least `nBits` trailing zero bits. */
export function hasTrailingZeroBits(digest: Uint8Array, nBits: number): boolean {
  return trailingZeroBits(digest) >= nBits;
}

/** True when `suffix` solves `WORK token nBits` (the charset is checked elsewhere). */
export function verifyWork(token: string, suffix: string, nBits: number): boolean {
  return hasTrailingZeroBits(workDigest(token, suffix), nBits);
}

/** Lowercase hex SHA-256 of the UTF-8 bytes of `token + arg`: the body checksum. */
export function checksum(token: string, arg: string): string {
  return createHash('sha256')
    .update(token + arg, 'utf8')
    .digest('hex');
}
