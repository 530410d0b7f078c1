/**
 * The plain-TypeScript kernel: scalar SHA-256 of one candidate at a time. It runs anywhere
 * Node runs and is the fallback when neither the native addon nor WebAssembly loads.
 *
 * Per scan call it hashes the constant part once: rounds 0..12 of the final block (words
 * W0..W12 do not change inside a {@link SCAN_WINDOW}), the half of round 13 that does not
 * touch W13, and every schedule word and partial sum that does not depend on W13. Per
 * candidate it then only builds W13 and runs rounds 13..60: the last digest word is
 * `midstate[7] + e` after round 60, so rounds 61..63 (and the `a` updates of rounds 57..60)
 * are never needed.
 *
 * What V8 needs to run the loop at full speed (measured on Node 20, one core):
 * - the setup in its own function: its sums overflow int32, which deoptimizes the function
 *   they are in, and the hot loop should not be thrown away with it;
 * - a short warm-up before the first real call ({@link warmUp}): called straight away with
 *   a full window, V8 compiles the loop on the stack (OSR) and most processes then stay on
 *   code about half as fast (about 6 against 11 M/s);
 * - each round adding S1(e) last: it is the deepest term of the e chain, so this shortens
 *   the loop-carried dependency (+6%).
 * @module
 */
import {
  ALPHABET_BYTES,
  NONCE_OFFSET,
  SCAN_WINDOW,
  hitMask,
  prepareJob,
  writeNonce,
  type PreparedJob,
} from '../layout.js';
import { K } from '../sha256.js';
import type { Kernel } from '../types.js';

// The SHA-256 functions on int32 values, for the per-call setup (the hot loop spells them out).
function bigSigma0(x: number): number {
  return ((x >>> 2) | (x << 30)) ^ ((x >>> 13) | (x << 19)) ^ ((x >>> 22) | (x << 10));
}
function bigSigma1(x: number): number {
  return ((x >>> 6) | (x << 26)) ^ ((x >>> 11) | (x << 21)) ^ ((x >>> 25) | (x << 7));
}
function sigma0(x: number): number {
  return ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
}
function sigma1(x: number): number {
  return ((x >>> 17) | (x << 15)) ^ ((x >>> 19) | (x << 13)) ^ (x >>> 10);
}
function ch(x: number, y: number, z: number): number {
  return z ^ (x & (y ^ z));
}
function maj(x: number, y: number, z: number): number {
  return (x & y) | (z & (x | y));
}

const WINDOW_MASK = SCAN_WINDOW - 1;
// W13 = nonce characters 8, 9, 10 and the 0x80 pad. HIGH13[n >>> 6] holds characters 8 and 9
// with the pad, LOW13[n & 63] character 10, for n the 18-bit offset inside the window.
const HIGH13 = new Int32Array(4096);
const LOW13 = new Int32Array(64);
for (let i = 0; i < 4096; i++) {
  HIGH13[i] =
    ((ALPHABET_BYTES[i >>> 6] as number) << 24) | ((ALPHABET_BYTES[i & 63] as number) << 16) | 0x80;
}
for (let i = 0; i < 64; i++) LOW13[i] = (ALPHABET_BYTES[i] as number) << 8;

// Per-call scratch, reused: the final block and its message words.
const block = new Uint8Array(64);
const W = new Int32Array(16);
/** Slots of {@link P}. */
const enum Slot {
  A13,
  E13,
  s0,
  s1,
  s2,
  s4,
  s5,
  s6,
  m7,
  kw14,
  kw15,
  kw16,
  kw17,
  kw18,
  kw19,
  kw21,
  kw23,
  kw25,
  k20,
  k22,
  k24,
  k26,
  k27,
  k28,
  k29,
  k30,
  k31,
  k32,
  k33,
  k34,
  k35,
  k36,
  k37,
  k38,
  k39,
  k40,
  k41,
  Count,
}
/** The per-call constants of the hot loop, written by prepare() and read by scan(). */
const P = new Int32Array(Slot.Count);

/**
 * Per-call setup, into {@link P}: rounds 0..12 of the final block (the same for every
 * candidate of the call), the W13-free half of round 13, and every schedule word and partial
 * sum that does not depend on W13. Kept out of scan() (see the module comment).
 */
function prepare(job: PreparedJob, hi: number, lo: number): void {
  // The final block of the window's first candidate: tail, nonce, pad, bit length.
  block.set(job.tail, 0);
  writeNonce(block, NONCE_OFFSET, hi, lo);
  block[55] = 0x80;
  const bitLength = job.messageLength * 8;
  block[56] = 0;
  block[57] = 0;
  block[58] = 0;
  block[59] = 0;
  block[60] = bitLength >>> 24;
  block[61] = (bitLength >>> 16) & 0xff;
  block[62] = (bitLength >>> 8) & 0xff;
  block[63] = bitLength & 0xff;
  for (let i = 0; i < 16; i++) {
    const o = i * 4;
    W[i] =
      ((block[o] as number) << 24) |
      ((block[o + 1] as number) << 16) |
      ((block[o + 2] as number) << 8) |
      (block[o + 3] as number);
  }
  const w0 = W[0] as number;
  const w1 = W[1] as number;
  const w2 = W[2] as number;
  const w3 = W[3] as number;
  const w4 = W[4] as number;
  const w5 = W[5] as number;
  const w6 = W[6] as number;
  const w7 = W[7] as number;
  const w8 = W[8] as number;
  const w9 = W[9] as number;
  const w10 = W[10] as number;
  const w11 = W[11] as number;
  const w12 = W[12] as number;
  const w14 = W[14] as number;
  const w15 = W[15] as number;

  // Rounds 0..12 of the final block: the same for every candidate of the call.
  const mid = job.midstate;
  let a = (mid[0] as number) | 0;
  let b = (mid[1] as number) | 0;
  let c = (mid[2] as number) | 0;
  let d = (mid[3] as number) | 0;
  let e = (mid[4] as number) | 0;
  let f = (mid[5] as number) | 0;
  let g = (mid[6] as number) | 0;
  let h = (mid[7] as number) | 0;
  P[Slot.m7] = h;
  for (let i = 0; i < 13; i++) {
    const t1 = (h + bigSigma1(e) + ch(e, f, g) + (K[i] as number) + (W[i] as number)) | 0;
    const t2 = (bigSigma0(a) + maj(a, b, c)) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  // Round 13 without W13: e13 = E13 + W13 and a13 = A13 + W13.
  const p13 = (h + bigSigma1(e) + ch(e, f, g) + (K[13] as number)) | 0;
  P[Slot.E13] = (d + p13) | 0;
  P[Slot.A13] = (p13 + bigSigma0(a) + maj(a, b, c)) | 0;
  P[Slot.s0] = a;
  P[Slot.s1] = b;
  P[Slot.s2] = c;
  P[Slot.s4] = e;
  P[Slot.s5] = f;
  P[Slot.s6] = g;

  // Schedule words that do not depend on W13 ...
  const c16 = (sigma1(w14) + w9 + sigma0(w1) + w0) | 0;
  const c17 = (sigma1(w15) + w10 + sigma0(w2) + w1) | 0;
  const c18 = (sigma1(c16) + w11 + sigma0(w3) + w2) | 0;
  const c19 = (sigma1(c17) + w12 + sigma0(w4) + w3) | 0;
  const c21 = (sigma1(c19) + w14 + sigma0(w6) + w5) | 0;
  const c23 = (sigma1(c21) + c16 + sigma0(w8) + w7) | 0;
  const c25 = (sigma1(c23) + c18 + sigma0(w10) + w9) | 0;
  // ... with their round constants ...
  P[Slot.kw14] = ((K[14] as number) + w14) | 0;
  P[Slot.kw15] = ((K[15] as number) + w15) | 0;
  P[Slot.kw16] = ((K[16] as number) + c16) | 0;
  P[Slot.kw17] = ((K[17] as number) + c17) | 0;
  P[Slot.kw18] = ((K[18] as number) + c18) | 0;
  P[Slot.kw19] = ((K[19] as number) + c19) | 0;
  P[Slot.kw21] = ((K[21] as number) + c21) | 0;
  P[Slot.kw23] = ((K[23] as number) + c23) | 0;
  P[Slot.kw25] = ((K[25] as number) + c25) | 0;
  // ... and the constant terms of the words that do (w_i = k_i + the W13-dependent terms).
  P[Slot.k20] = (sigma1(c18) + sigma0(w5) + w4) | 0;
  P[Slot.k22] = (w15 + sigma0(w7) + w6) | 0;
  P[Slot.k24] = (c17 + sigma0(w9) + w8) | 0;
  P[Slot.k26] = (c19 + sigma0(w11) + w10) | 0;
  P[Slot.k27] = (sigma1(c25) + sigma0(w12) + w11) | 0;
  P[Slot.k28] = (c21 + w12) | 0;
  P[Slot.k29] = sigma0(w14);
  P[Slot.k30] = (c23 + sigma0(w15) + w14) | 0;
  P[Slot.k31] = (sigma0(c16) + w15) | 0;
  P[Slot.k32] = (c25 + sigma0(c17) + c16) | 0;
  P[Slot.k33] = (sigma0(c18) + c17) | 0;
  P[Slot.k34] = (sigma0(c19) + c18) | 0;
  P[Slot.k35] = c19;
  P[Slot.k36] = sigma0(c21);
  P[Slot.k37] = c21;
  P[Slot.k38] = sigma0(c23);
  P[Slot.k39] = c23;
  P[Slot.k40] = sigma0(c25);
  P[Slot.k41] = c25;
}

function scan(job: PreparedJob, hi: number, lo: number, count: number): number {
  if (count <= 0) return -1;
  prepare(job, hi, lo);
  // Int32Array reads: V8 types them int32, so the hot loop needs no overflow checks.
  const A13 = P[Slot.A13] as number;
  const E13 = P[Slot.E13] as number;
  const s0 = P[Slot.s0] as number;
  const s1 = P[Slot.s1] as number;
  const s2 = P[Slot.s2] as number;
  const s4 = P[Slot.s4] as number;
  const s5 = P[Slot.s5] as number;
  const s6 = P[Slot.s6] as number;
  const m7 = P[Slot.m7] as number;
  const kw14 = P[Slot.kw14] as number;
  const kw15 = P[Slot.kw15] as number;
  const kw16 = P[Slot.kw16] as number;
  const kw17 = P[Slot.kw17] as number;
  const kw18 = P[Slot.kw18] as number;
  const kw19 = P[Slot.kw19] as number;
  const kw21 = P[Slot.kw21] as number;
  const kw23 = P[Slot.kw23] as number;
  const kw25 = P[Slot.kw25] as number;
  const k20 = P[Slot.k20] as number;
  const k22 = P[Slot.k22] as number;
  const k24 = P[Slot.k24] as number;
  const k26 = P[Slot.k26] as number;
  const k27 = P[Slot.k27] as number;
  const k28 = P[Slot.k28] as number;
  const k29 = P[Slot.k29] as number;
  const k30 = P[Slot.k30] as number;
  const k31 = P[Slot.k31] as number;
  const k32 = P[Slot.k32] as number;
  const k33 = P[Slot.k33] as number;
  const k34 = P[Slot.k34] as number;
  const k35 = P[Slot.k35] as number;
  const k36 = P[Slot.k36] as number;
  const k37 = P[Slot.k37] as number;
  const k38 = P[Slot.k38] as number;
  const k39 = P[Slot.k39] as number;
  const k40 = P[Slot.k40] as number;
  const k41 = P[Slot.k41] as number;
  // The working variables, all assigned at the top of every iteration.
  let a = 0;
  let b = 0;
  let c = 0;
  let d = 0;
  let e = 0;
  let f = 0;
  let g = 0;
  let h = 0;
  const mask = hitMask(job.nBits) | 0;
  const start = lo & WINDOW_MASK;
  const end = start + count;
  let n = start;
  let t = 0;
  // One line per step reads better than prettier's wrapping of these long expressions.
  // prettier-ignore
  do {
    const w13 = ((HIGH13[n >>> 6] as number) | (LOW13[n & 63] as number)) | 0;
    // Round 13, then rounds 14..60 fully unrolled with the expressions written out: V8 does
    // not inline helper functions into a body this large (4-5x slower in a prototype). The
    // working variables are renamed round to round instead of shifted, so each round assigns
    // only the new `a` and `e`; W13-dependent schedule words are built as they are needed.
    h = (A13 + w13) | 0;
    a = s0;
    b = s1;
    c = s2;
    d = (E13 + w13) | 0;
    e = s4;
    f = s5;
    g = s6;
    t = (g + kw14 + (f ^ (d & (e ^ f))) + ((d >>> 6 | d << 26) ^ (d >>> 11 | d << 21) ^ (d >>> 25 | d << 7))) | 0;
    c = (c + t) | 0;
    g = (t + ((h >>> 2 | h << 30) ^ (h >>> 13 | h << 19) ^ (h >>> 22 | h << 10)) + ((h & a) | (b & (h | a)))) | 0;
    t = (f + kw15 + (e ^ (c & (d ^ e))) + ((c >>> 6 | c << 26) ^ (c >>> 11 | c << 21) ^ (c >>> 25 | c << 7))) | 0;
    b = (b + t) | 0;
    f = (t + ((g >>> 2 | g << 30) ^ (g >>> 13 | g << 19) ^ (g >>> 22 | g << 10)) + ((g & h) | (a & (g | h)))) | 0;
    t = (e + kw16 + (d ^ (b & (c ^ d))) + ((b >>> 6 | b << 26) ^ (b >>> 11 | b << 21) ^ (b >>> 25 | b << 7))) | 0;
    a = (a + t) | 0;
    e = (t + ((f >>> 2 | f << 30) ^ (f >>> 13 | f << 19) ^ (f >>> 22 | f << 10)) + ((f & g) | (h & (f | g)))) | 0;
    t = (d + kw17 + (c ^ (a & (b ^ c))) + ((a >>> 6 | a << 26) ^ (a >>> 11 | a << 21) ^ (a >>> 25 | a << 7))) | 0;
    h = (h + t) | 0;
    d = (t + ((e >>> 2 | e << 30) ^ (e >>> 13 | e << 19) ^ (e >>> 22 | e << 10)) + ((e & f) | (g & (e | f)))) | 0;
    t = (c + kw18 + (b ^ (h & (a ^ b))) + ((h >>> 6 | h << 26) ^ (h >>> 11 | h << 21) ^ (h >>> 25 | h << 7))) | 0;
    g = (g + t) | 0;
    c = (t + ((d >>> 2 | d << 30) ^ (d >>> 13 | d << 19) ^ (d >>> 22 | d << 10)) + ((d & e) | (f & (d | e)))) | 0;
    t = (b + kw19 + (a ^ (g & (h ^ a))) + ((g >>> 6 | g << 26) ^ (g >>> 11 | g << 21) ^ (g >>> 25 | g << 7))) | 0;
    f = (f + t) | 0;
    b = (t + ((c >>> 2 | c << 30) ^ (c >>> 13 | c << 19) ^ (c >>> 22 | c << 10)) + ((c & d) | (e & (c | d)))) | 0;
    const w20 = (k20 + w13) | 0;
    t = (a + 0x2de92c6f + w20 + (h ^ (f & (g ^ h))) + ((f >>> 6 | f << 26) ^ (f >>> 11 | f << 21) ^ (f >>> 25 | f << 7))) | 0;
    e = (e + t) | 0;
    a = (t + ((b >>> 2 | b << 30) ^ (b >>> 13 | b << 19) ^ (b >>> 22 | b << 10)) + ((b & c) | (d & (b | c)))) | 0;
    t = (h + kw21 + (g ^ (e & (f ^ g))) + ((e >>> 6 | e << 26) ^ (e >>> 11 | e << 21) ^ (e >>> 25 | e << 7))) | 0;
    d = (d + t) | 0;
    h = (t + ((a >>> 2 | a << 30) ^ (a >>> 13 | a << 19) ^ (a >>> 22 | a << 10)) + ((a & b) | (c & (a | b)))) | 0;
    const w22 = (k22 + ((w20 >>> 17 | w20 << 15) ^ (w20 >>> 19 | w20 << 13) ^ (w20 >>> 10))) | 0;
    t = (g + 0x5cb0a9dc + w22 + (f ^ (d & (e ^ f))) + ((d >>> 6 | d << 26) ^ (d >>> 11 | d << 21) ^ (d >>> 25 | d << 7))) | 0;
    c = (c + t) | 0;
    g = (t + ((h >>> 2 | h << 30) ^ (h >>> 13 | h << 19) ^ (h >>> 22 | h << 10)) + ((h & a) | (b & (h | a)))) | 0;
    t = (f + kw23 + (e ^ (c & (d ^ e))) + ((c >>> 6 | c << 26) ^ (c >>> 11 | c << 21) ^ (c >>> 25 | c << 7))) | 0;
    b = (b + t) | 0;
    f = (t + ((g >>> 2 | g << 30) ^ (g >>> 13 | g << 19) ^ (g >>> 22 | g << 10)) + ((g & h) | (a & (g | h)))) | 0;
    const w24 = (k24 + ((w22 >>> 17 | w22 << 15) ^ (w22 >>> 19 | w22 << 13) ^ (w22 >>> 10))) | 0;
    t = (e + 0x983e5152 + w24 + (d ^ (b & (c ^ d))) + ((b >>> 6 | b << 26) ^ (b >>> 11 | b << 21) ^ (b >>> 25 | b << 7))) | 0;
    a = (a + t) | 0;
    e = (t + ((f >>> 2 | f << 30) ^ (f >>> 13 | f << 19) ^ (f >>> 22 | f << 10)) + ((f & g) | (h & (f | g)))) | 0;
    t = (d + kw25 + (c ^ (a & (b ^ c))) + ((a >>> 6 | a << 26) ^ (a >>> 11 | a << 21) ^ (a >>> 25 | a << 7))) | 0;
    h = (h + t) | 0;
    d = (t + ((e >>> 2 | e << 30) ^ (e >>> 13 | e << 19) ^ (e >>> 22 | e << 10)) + ((e & f) | (g & (e | f)))) | 0;
    const w26 = (k26 + ((w24 >>> 17 | w24 << 15) ^ (w24 >>> 19 | w24 << 13) ^ (w24 >>> 10))) | 0;
    t = (c + 0xb00327c8 + w26 + (b ^ (h & (a ^ b))) + ((h >>> 6 | h << 26) ^ (h >>> 11 | h << 21) ^ (h >>> 25 | h << 7))) | 0;
    g = (g + t) | 0;
    c = (t + ((d >>> 2 | d << 30) ^ (d >>> 13 | d << 19) ^ (d >>> 22 | d << 10)) + ((d & e) | (f & (d | e)))) | 0;
    const w27 = (k27 + w20) | 0;
    t = (b + 0xbf597fc7 + w27 + (a ^ (g & (h ^ a))) + ((g >>> 6 | g << 26) ^ (g >>> 11 | g << 21) ^ (g >>> 25 | g << 7))) | 0;
    f = (f + t) | 0;
    b = (t + ((c >>> 2 | c << 30) ^ (c >>> 13 | c << 19) ^ (c >>> 22 | c << 10)) + ((c & d) | (e & (c | d)))) | 0;
    const w28 = (k28 + ((w26 >>> 17 | w26 << 15) ^ (w26 >>> 19 | w26 << 13) ^ (w26 >>> 10)) + ((w13 >>> 7 | w13 << 25) ^ (w13 >>> 18 | w13 << 14) ^ (w13 >>> 3))) | 0;
    t = (a + 0xc6e00bf3 + w28 + (h ^ (f & (g ^ h))) + ((f >>> 6 | f << 26) ^ (f >>> 11 | f << 21) ^ (f >>> 25 | f << 7))) | 0;
    e = (e + t) | 0;
    a = (t + ((b >>> 2 | b << 30) ^ (b >>> 13 | b << 19) ^ (b >>> 22 | b << 10)) + ((b & c) | (d & (b | c)))) | 0;
    const w29 = (k29 + ((w27 >>> 17 | w27 << 15) ^ (w27 >>> 19 | w27 << 13) ^ (w27 >>> 10)) + w22 + w13) | 0;
    t = (h + 0xd5a79147 + w29 + (g ^ (e & (f ^ g))) + ((e >>> 6 | e << 26) ^ (e >>> 11 | e << 21) ^ (e >>> 25 | e << 7))) | 0;
    d = (d + t) | 0;
    h = (t + ((a >>> 2 | a << 30) ^ (a >>> 13 | a << 19) ^ (a >>> 22 | a << 10)) + ((a & b) | (c & (a | b)))) | 0;
    const w30 = (k30 + ((w28 >>> 17 | w28 << 15) ^ (w28 >>> 19 | w28 << 13) ^ (w28 >>> 10))) | 0;
    t = (g + 0x06ca6351 + w30 + (f ^ (d & (e ^ f))) + ((d >>> 6 | d << 26) ^ (d >>> 11 | d << 21) ^ (d >>> 25 | d << 7))) | 0;
    c = (c + t) | 0;
    g = (t + ((h >>> 2 | h << 30) ^ (h >>> 13 | h << 19) ^ (h >>> 22 | h << 10)) + ((h & a) | (b & (h | a)))) | 0;
    const w31 = (k31 + ((w29 >>> 17 | w29 << 15) ^ (w29 >>> 19 | w29 << 13) ^ (w29 >>> 10)) + w24) | 0;
    t = (f + 0x14292967 + w31 + (e ^ (c & (d ^ e))) + ((c >>> 6 | c << 26) ^ (c >>> 11 | c << 21) ^ (c >>> 25 | c << 7))) | 0;
    b = (b + t) | 0;
    f = (t + ((g >>> 2 | g << 30) ^ (g >>> 13 | g << 19) ^ (g >>> 22 | g << 10)) + ((g & h) | (a & (g | h)))) | 0;
    const w32 = (k32 + ((w30 >>> 17 | w30 << 15) ^ (w30 >>> 19 | w30 << 13) ^ (w30 >>> 10))) | 0;
    t = (e + 0x27b70a85 + w32 + (d ^ (b & (c ^ d))) + ((b >>> 6 | b << 26) ^ (b >>> 11 | b << 21) ^ (b >>> 25 | b << 7))) | 0;
    a = (a + t) | 0;
    e = (t + ((f >>> 2 | f << 30) ^ (f >>> 13 | f << 19) ^ (f >>> 22 | f << 10)) + ((f & g) | (h & (f | g)))) | 0;
    const w33 = (k33 + ((w31 >>> 17 | w31 << 15) ^ (w31 >>> 19 | w31 << 13) ^ (w31 >>> 10)) + w26) | 0;
    t = (d + 0x2e1b2138 + w33 + (c ^ (a & (b ^ c))) + ((a >>> 6 | a << 26) ^ (a >>> 11 | a << 21) ^ (a >>> 25 | a << 7))) | 0;
    h = (h + t) | 0;
    d = (t + ((e >>> 2 | e << 30) ^ (e >>> 13 | e << 19) ^ (e >>> 22 | e << 10)) + ((e & f) | (g & (e | f)))) | 0;
    const w34 = (k34 + ((w32 >>> 17 | w32 << 15) ^ (w32 >>> 19 | w32 << 13) ^ (w32 >>> 10)) + w27) | 0;
    t = (c + 0x4d2c6dfc + w34 + (b ^ (h & (a ^ b))) + ((h >>> 6 | h << 26) ^ (h >>> 11 | h << 21) ^ (h >>> 25 | h << 7))) | 0;
    g = (g + t) | 0;
    c = (t + ((d >>> 2 | d << 30) ^ (d >>> 13 | d << 19) ^ (d >>> 22 | d << 10)) + ((d & e) | (f & (d | e)))) | 0;
    const w35 = (k35 + ((w33 >>> 17 | w33 << 15) ^ (w33 >>> 19 | w33 << 13) ^ (w33 >>> 10)) + w28 + ((w20 >>> 7 | w20 << 25) ^ (w20 >>> 18 | w20 << 14) ^ (w20 >>> 3))) | 0;
    t = (b + 0x53380d13 + w35 + (a ^ (g & (h ^ a))) + ((g >>> 6 | g << 26) ^ (g >>> 11 | g << 21) ^ (g >>> 25 | g << 7))) | 0;
    f = (f + t) | 0;
    b = (t + ((c >>> 2 | c << 30) ^ (c >>> 13 | c << 19) ^ (c >>> 22 | c << 10)) + ((c & d) | (e & (c | d)))) | 0;
    const w36 = (k36 + ((w34 >>> 17 | w34 << 15) ^ (w34 >>> 19 | w34 << 13) ^ (w34 >>> 10)) + w29 + w20) | 0;
    t = (a + 0x650a7354 + w36 + (h ^ (f & (g ^ h))) + ((f >>> 6 | f << 26) ^ (f >>> 11 | f << 21) ^ (f >>> 25 | f << 7))) | 0;
    e = (e + t) | 0;
    a = (t + ((b >>> 2 | b << 30) ^ (b >>> 13 | b << 19) ^ (b >>> 22 | b << 10)) + ((b & c) | (d & (b | c)))) | 0;
    const w37 = (k37 + ((w35 >>> 17 | w35 << 15) ^ (w35 >>> 19 | w35 << 13) ^ (w35 >>> 10)) + w30 + ((w22 >>> 7 | w22 << 25) ^ (w22 >>> 18 | w22 << 14) ^ (w22 >>> 3))) | 0;
    t = (h + 0x766a0abb + w37 + (g ^ (e & (f ^ g))) + ((e >>> 6 | e << 26) ^ (e >>> 11 | e << 21) ^ (e >>> 25 | e << 7))) | 0;
    d = (d + t) | 0;
    h = (t + ((a >>> 2 | a << 30) ^ (a >>> 13 | a << 19) ^ (a >>> 22 | a << 10)) + ((a & b) | (c & (a | b)))) | 0;
    const w38 = (k38 + ((w36 >>> 17 | w36 << 15) ^ (w36 >>> 19 | w36 << 13) ^ (w36 >>> 10)) + w31 + w22) | 0;
    t = (g + 0x81c2c92e + w38 + (f ^ (d & (e ^ f))) + ((d >>> 6 | d << 26) ^ (d >>> 11 | d << 21) ^ (d >>> 25 | d << 7))) | 0;
    c = (c + t) | 0;
    g = (t + ((h >>> 2 | h << 30) ^ (h >>> 13 | h << 19) ^ (h >>> 22 | h << 10)) + ((h & a) | (b & (h | a)))) | 0;
    const w39 = (k39 + ((w37 >>> 17 | w37 << 15) ^ (w37 >>> 19 | w37 << 13) ^ (w37 >>> 10)) + w32 + ((w24 >>> 7 | w24 << 25) ^ (w24 >>> 18 | w24 << 14) ^ (w24 >>> 3))) | 0;
    t = (f + 0x92722c85 + w39 + (e ^ (c & (d ^ e))) + ((c >>> 6 | c << 26) ^ (c >>> 11 | c << 21) ^ (c >>> 25 | c << 7))) | 0;
    b = (b + t) | 0;
    f = (t + ((g >>> 2 | g << 30) ^ (g >>> 13 | g << 19) ^ (g >>> 22 | g << 10)) + ((g & h) | (a & (g | h)))) | 0;
    const w40 = (k40 + ((w38 >>> 17 | w38 << 15) ^ (w38 >>> 19 | w38 << 13) ^ (w38 >>> 10)) + w33 + w24) | 0;
    t = (e + 0xa2bfe8a1 + w40 + (d ^ (b & (c ^ d))) + ((b >>> 6 | b << 26) ^ (b >>> 11 | b << 21) ^ (b >>> 25 | b << 7))) | 0;
    a = (a + t) | 0;
    e = (t + ((f >>> 2 | f << 30) ^ (f >>> 13 | f << 19) ^ (f >>> 22 | f << 10)) + ((f & g) | (h & (f | g)))) | 0;
    const w41 = (k41 + ((w39 >>> 17 | w39 << 15) ^ (w39 >>> 19 | w39 << 13) ^ (w39 >>> 10)) + w34 + ((w26 >>> 7 | w26 << 25) ^ (w26 >>> 18 | w26 << 14) ^ (w26 >>> 3))) | 0;
    t = (d + 0xa81a664b + w41 + (c ^ (a & (b ^ c))) + ((a >>> 6 | a << 26) ^ (a >>> 11 | a << 21) ^ (a >>> 25 | a << 7))) | 0;
    h = (h + t) | 0;
    d = (t + ((e >>> 2 | e << 30) ^ (e >>> 13 | e << 19) ^ (e >>> 22 | e << 10)) + ((e & f) | (g & (e | f)))) | 0;
    const w42 = (((w40 >>> 17 | w40 << 15) ^ (w40 >>> 19 | w40 << 13) ^ (w40 >>> 10)) + w35 + ((w27 >>> 7 | w27 << 25) ^ (w27 >>> 18 | w27 << 14) ^ (w27 >>> 3)) + w26) | 0;
    t = (c + 0xc24b8b70 + w42 + (b ^ (h & (a ^ b))) + ((h >>> 6 | h << 26) ^ (h >>> 11 | h << 21) ^ (h >>> 25 | h << 7))) | 0;
    g = (g + t) | 0;
    c = (t + ((d >>> 2 | d << 30) ^ (d >>> 13 | d << 19) ^ (d >>> 22 | d << 10)) + ((d & e) | (f & (d | e)))) | 0;
    const w43 = (((w41 >>> 17 | w41 << 15) ^ (w41 >>> 19 | w41 << 13) ^ (w41 >>> 10)) + w36 + ((w28 >>> 7 | w28 << 25) ^ (w28 >>> 18 | w28 << 14) ^ (w28 >>> 3)) + w27) | 0;
    t = (b + 0xc76c51a3 + w43 + (a ^ (g & (h ^ a))) + ((g >>> 6 | g << 26) ^ (g >>> 11 | g << 21) ^ (g >>> 25 | g << 7))) | 0;
    f = (f + t) | 0;
    b = (t + ((c >>> 2 | c << 30) ^ (c >>> 13 | c << 19) ^ (c >>> 22 | c << 10)) + ((c & d) | (e & (c | d)))) | 0;
    const w44 = (((w42 >>> 17 | w42 << 15) ^ (w42 >>> 19 | w42 << 13) ^ (w42 >>> 10)) + w37 + ((w29 >>> 7 | w29 << 25) ^ (w29 >>> 18 | w29 << 14) ^ (w29 >>> 3)) + w28) | 0;
    t = (a + 0xd192e819 + w44 + (h ^ (f & (g ^ h))) + ((f >>> 6 | f << 26) ^ (f >>> 11 | f << 21) ^ (f >>> 25 | f << 7))) | 0;
    e = (e + t) | 0;
    a = (t + ((b >>> 2 | b << 30) ^ (b >>> 13 | b << 19) ^ (b >>> 22 | b << 10)) + ((b & c) | (d & (b | c)))) | 0;
    const w45 = (((w43 >>> 17 | w43 << 15) ^ (w43 >>> 19 | w43 << 13) ^ (w43 >>> 10)) + w38 + ((w30 >>> 7 | w30 << 25) ^ (w30 >>> 18 | w30 << 14) ^ (w30 >>> 3)) + w29) | 0;
    t = (h + 0xd6990624 + w45 + (g ^ (e & (f ^ g))) + ((e >>> 6 | e << 26) ^ (e >>> 11 | e << 21) ^ (e >>> 25 | e << 7))) | 0;
    d = (d + t) | 0;
    h = (t + ((a >>> 2 | a << 30) ^ (a >>> 13 | a << 19) ^ (a >>> 22 | a << 10)) + ((a & b) | (c & (a | b)))) | 0;
    const w46 = (((w44 >>> 17 | w44 << 15) ^ (w44 >>> 19 | w44 << 13) ^ (w44 >>> 10)) + w39 + ((w31 >>> 7 | w31 << 25) ^ (w31 >>> 18 | w31 << 14) ^ (w31 >>> 3)) + w30) | 0;
    t = (g + 0xf40e3585 + w46 + (f ^ (d & (e ^ f))) + ((d >>> 6 | d << 26) ^ (d >>> 11 | d << 21) ^ (d >>> 25 | d << 7))) | 0;
    c = (c + t) | 0;
    g = (t + ((h >>> 2 | h << 30) ^ (h >>> 13 | h << 19) ^ (h >>> 22 | h << 10)) + ((h & a) | (b & (h | a)))) | 0;
    const w47 = (((w45 >>> 17 | w45 << 15) ^ (w45 >>> 19 | w45 << 13) ^ (w45 >>> 10)) + w40 + ((w32 >>> 7 | w32 << 25) ^ (w32 >>> 18 | w32 << 14) ^ (w32 >>> 3)) + w31) | 0;
    t = (f + 0x106aa070 + w47 + (e ^ (c & (d ^ e))) + ((c >>> 6 | c << 26) ^ (c >>> 11 | c << 21) ^ (c >>> 25 | c << 7))) | 0;
    b = (b + t) | 0;
    f = (t + ((g >>> 2 | g << 30) ^ (g >>> 13 | g << 19) ^ (g >>> 22 | g << 10)) + ((g & h) | (a & (g | h)))) | 0;
    const w48 = (((w46 >>> 17 | w46 << 15) ^ (w46 >>> 19 | w46 << 13) ^ (w46 >>> 10)) + w41 + ((w33 >>> 7 | w33 << 25) ^ (w33 >>> 18 | w33 << 14) ^ (w33 >>> 3)) + w32) | 0;
    t = (e + 0x19a4c116 + w48 + (d ^ (b & (c ^ d))) + ((b >>> 6 | b << 26) ^ (b >>> 11 | b << 21) ^ (b >>> 25 | b << 7))) | 0;
    a = (a + t) | 0;
    e = (t + ((f >>> 2 | f << 30) ^ (f >>> 13 | f << 19) ^ (f >>> 22 | f << 10)) + ((f & g) | (h & (f | g)))) | 0;
    const w49 = (((w47 >>> 17 | w47 << 15) ^ (w47 >>> 19 | w47 << 13) ^ (w47 >>> 10)) + w42 + ((w34 >>> 7 | w34 << 25) ^ (w34 >>> 18 | w34 << 14) ^ (w34 >>> 3)) + w33) | 0;
    t = (d + 0x1e376c08 + w49 + (c ^ (a & (b ^ c))) + ((a >>> 6 | a << 26) ^ (a >>> 11 | a << 21) ^ (a >>> 25 | a << 7))) | 0;
    h = (h + t) | 0;
    d = (t + ((e >>> 2 | e << 30) ^ (e >>> 13 | e << 19) ^ (e >>> 22 | e << 10)) + ((e & f) | (g & (e | f)))) | 0;
    const w50 = (((w48 >>> 17 | w48 << 15) ^ (w48 >>> 19 | w48 << 13) ^ (w48 >>> 10)) + w43 + ((w35 >>> 7 | w35 << 25) ^ (w35 >>> 18 | w35 << 14) ^ (w35 >>> 3)) + w34) | 0;
    t = (c + 0x2748774c + w50 + (b ^ (h & (a ^ b))) + ((h >>> 6 | h << 26) ^ (h >>> 11 | h << 21) ^ (h >>> 25 | h << 7))) | 0;
    g = (g + t) | 0;
    c = (t + ((d >>> 2 | d << 30) ^ (d >>> 13 | d << 19) ^ (d >>> 22 | d << 10)) + ((d & e) | (f & (d | e)))) | 0;
    const w51 = (((w49 >>> 17 | w49 << 15) ^ (w49 >>> 19 | w49 << 13) ^ (w49 >>> 10)) + w44 + ((w36 >>> 7 | w36 << 25) ^ (w36 >>> 18 | w36 << 14) ^ (w36 >>> 3)) + w35) | 0;
    t = (b + 0x34b0bcb5 + w51 + (a ^ (g & (h ^ a))) + ((g >>> 6 | g << 26) ^ (g >>> 11 | g << 21) ^ (g >>> 25 | g << 7))) | 0;
    f = (f + t) | 0;
    b = (t + ((c >>> 2 | c << 30) ^ (c >>> 13 | c << 19) ^ (c >>> 22 | c << 10)) + ((c & d) | (e & (c | d)))) | 0;
    const w52 = (((w50 >>> 17 | w50 << 15) ^ (w50 >>> 19 | w50 << 13) ^ (w50 >>> 10)) + w45 + ((w37 >>> 7 | w37 << 25) ^ (w37 >>> 18 | w37 << 14) ^ (w37 >>> 3)) + w36) | 0;
    t = (a + 0x391c0cb3 + w52 + (h ^ (f & (g ^ h))) + ((f >>> 6 | f << 26) ^ (f >>> 11 | f << 21) ^ (f >>> 25 | f << 7))) | 0;
    e = (e + t) | 0;
    a = (t + ((b >>> 2 | b << 30) ^ (b >>> 13 | b << 19) ^ (b >>> 22 | b << 10)) + ((b & c) | (d & (b | c)))) | 0;
    const w53 = (((w51 >>> 17 | w51 << 15) ^ (w51 >>> 19 | w51 << 13) ^ (w51 >>> 10)) + w46 + ((w38 >>> 7 | w38 << 25) ^ (w38 >>> 18 | w38 << 14) ^ (w38 >>> 3)) + w37) | 0;
    t = (h + 0x4ed8aa4a + w53 + (g ^ (e & (f ^ g))) + ((e >>> 6 | e << 26) ^ (e >>> 11 | e << 21) ^ (e >>> 25 | e << 7))) | 0;
    d = (d + t) | 0;
    h = (t + ((a >>> 2 | a << 30) ^ (a >>> 13 | a << 19) ^ (a >>> 22 | a << 10)) + ((a & b) | (c & (a | b)))) | 0;
    const w54 = (((w52 >>> 17 | w52 << 15) ^ (w52 >>> 19 | w52 << 13) ^ (w52 >>> 10)) + w47 + ((w39 >>> 7 | w39 << 25) ^ (w39 >>> 18 | w39 << 14) ^ (w39 >>> 3)) + w38) | 0;
    t = (g + 0x5b9cca4f + w54 + (f ^ (d & (e ^ f))) + ((d >>> 6 | d << 26) ^ (d >>> 11 | d << 21) ^ (d >>> 25 | d << 7))) | 0;
    c = (c + t) | 0;
    g = (t + ((h >>> 2 | h << 30) ^ (h >>> 13 | h << 19) ^ (h >>> 22 | h << 10)) + ((h & a) | (b & (h | a)))) | 0;
    const w55 = (((w53 >>> 17 | w53 << 15) ^ (w53 >>> 19 | w53 << 13) ^ (w53 >>> 10)) + w48 + ((w40 >>> 7 | w40 << 25) ^ (w40 >>> 18 | w40 << 14) ^ (w40 >>> 3)) + w39) | 0;
    t = (f + 0x682e6ff3 + w55 + (e ^ (c & (d ^ e))) + ((c >>> 6 | c << 26) ^ (c >>> 11 | c << 21) ^ (c >>> 25 | c << 7))) | 0;
    b = (b + t) | 0;
    f = (t + ((g >>> 2 | g << 30) ^ (g >>> 13 | g << 19) ^ (g >>> 22 | g << 10)) + ((g & h) | (a & (g | h)))) | 0;
    const w56 = (((w54 >>> 17 | w54 << 15) ^ (w54 >>> 19 | w54 << 13) ^ (w54 >>> 10)) + w49 + ((w41 >>> 7 | w41 << 25) ^ (w41 >>> 18 | w41 << 14) ^ (w41 >>> 3)) + w40) | 0;
    t = (e + 0x748f82ee + w56 + (d ^ (b & (c ^ d))) + ((b >>> 6 | b << 26) ^ (b >>> 11 | b << 21) ^ (b >>> 25 | b << 7))) | 0;
    a = (a + t) | 0;
    e = (t + ((f >>> 2 | f << 30) ^ (f >>> 13 | f << 19) ^ (f >>> 22 | f << 10)) + ((f & g) | (h & (f | g)))) | 0;
    const w57 = (((w55 >>> 17 | w55 << 15) ^ (w55 >>> 19 | w55 << 13) ^ (w55 >>> 10)) + w50 + ((w42 >>> 7 | w42 << 25) ^ (w42 >>> 18 | w42 << 14) ^ (w42 >>> 3)) + w41) | 0;
    t = (d + 0x78a5636f + w57 + (c ^ (a & (b ^ c))) + ((a >>> 6 | a << 26) ^ (a >>> 11 | a << 21) ^ (a >>> 25 | a << 7))) | 0;
    h = (h + t) | 0;
    const w58 = (((w56 >>> 17 | w56 << 15) ^ (w56 >>> 19 | w56 << 13) ^ (w56 >>> 10)) + w51 + ((w43 >>> 7 | w43 << 25) ^ (w43 >>> 18 | w43 << 14) ^ (w43 >>> 3)) + w42) | 0;
    t = (c + 0x84c87814 + w58 + (b ^ (h & (a ^ b))) + ((h >>> 6 | h << 26) ^ (h >>> 11 | h << 21) ^ (h >>> 25 | h << 7))) | 0;
    g = (g + t) | 0;
    const w59 = (((w57 >>> 17 | w57 << 15) ^ (w57 >>> 19 | w57 << 13) ^ (w57 >>> 10)) + w52 + ((w44 >>> 7 | w44 << 25) ^ (w44 >>> 18 | w44 << 14) ^ (w44 >>> 3)) + w43) | 0;
    t = (b + 0x8cc70208 + w59 + (a ^ (g & (h ^ a))) + ((g >>> 6 | g << 26) ^ (g >>> 11 | g << 21) ^ (g >>> 25 | g << 7))) | 0;
    f = (f + t) | 0;
    const w60 = (((w58 >>> 17 | w58 << 15) ^ (w58 >>> 19 | w58 << 13) ^ (w58 >>> 10)) + w53 + ((w45 >>> 7 | w45 << 25) ^ (w45 >>> 18 | w45 << 14) ^ (w45 >>> 3)) + w44) | 0;
    t = (a + 0x90befffa + w60 + (h ^ (f & (g ^ h))) + ((f >>> 6 | f << 26) ^ (f >>> 11 | f << 21) ^ (f >>> 25 | f << 7))) | 0;
    e = (e + t) | 0;
    if (((m7 + e) & mask) === 0) return n - start;
    n++;
  } while (n < end);
  return -1;
}

/** Whether this thread has run {@link warmUp}. */
let warm = false;

/**
 * A few hundred tiny scans (512 candidates, milliseconds) so that V8 compiles scan() as a
 * function called often, not as one long-running loop (see the module comment). Run on the
 * first real scan rather than at load: every worker creates this kernel, few use it.
 */
function warmUp(): void {
  warm = true;
  const job = prepareJob('tlslp js kernel warm-up', 64);
  for (let i = 0; i < 128; i++) scan(job, 0, i * 4, 4);
}

/** Create the plain-TypeScript kernel (`js`, `scalar`). */
export function createJsKernel(): Kernel {
  return {
    name: 'js',
    detail: 'scalar',
    scan(job, hi, lo, count) {
      if (!warm) warmUp();
      return scan(job, hi, lo, count);
    },
  };
}
