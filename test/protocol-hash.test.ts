import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  checksum,
  hasTrailingZeroBits,
  trailingZeroBits,
  verifyWork,
  workDigest,
} from '../src/protocol/hash.js';
import { CHECKSUM_VECTOR, T, WORK_VECTORS } from './fixtures/vectors.js';

describe('WORK digest and trailing zero bits (docs/protocol.md §4)', () => {
  for (const v of WORK_VECTORS) {
    it(`${v.token === T ? 'T' : v.token} + ${v.suffix} has ${v.bits} trailing zero bits`, () => {
      const digest = workDigest(v.token, v.suffix);
      expect(digest.toString('hex')).toBe(v.hex);
      expect(trailingZeroBits(digest)).toBe(v.bits);
      expect(verifyWork(v.token, v.suffix, v.bits)).toBe(true);
      expect(verifyWork(v.token, v.suffix, v.bits + 1)).toBe(false);
    });
  }

  it('accepts TlVR_ and refuses TlVR for WORK T 28', () => {
    expect(verifyWork(T, 'TlVR_', 28)).toBe(true);
    expect(verifyWork(T, 'TlVR', 28)).toBe(false);
  });

  it('counts bits across byte boundaries and in an all-zero digest', () => {
    expect(trailingZeroBits(Uint8Array.from([0xff, 0x80]))).toBe(7);
    expect(trailingZeroBits(Uint8Array.from([0x01, 0x00]))).toBe(8);
    expect(trailingZeroBits(Uint8Array.from([0x02, 0x00, 0x00]))).toBe(17);
    expect(trailingZeroBits(new Uint8Array(32))).toBe(256);
    expect(hasTrailingZeroBits(Uint8Array.from([0x01]), 0)).toBe(true);
    expect(hasTrailingZeroBits(Uint8Array.from([0x01]), 1)).toBe(false);
  });

  it('n_bits 0 is solved by any suffix', () => {
    expect(verifyWork('abc', 'anything', 0)).toBe(true);
  });
});

describe('body checksum', () => {
  it('matches the vector', () => {
    expect(checksum(CHECKSUM_VECTOR.token, CHECKSUM_VECTOR.arg)).toBe(CHECKSUM_VECTOR.hex);
  });
  it('hashes UTF-8 bytes', () => {
    // 'é' is two bytes in UTF-8; a Latin-1 hash would differ.
    const utf8 = createHash('sha256').update(Buffer.from('abcé', 'utf8')).digest('hex');
    const latin1 = createHash('sha256').update(Buffer.from('abcé', 'latin1')).digest('hex');
    expect(checksum('abc', 'é')).toBe(utf8);
    expect(utf8).not.toBe(latin1);
  });
});
