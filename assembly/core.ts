/**
 * The proof-of-work scan shared by both builds, written once over a lane type T:
 * `v128` (four candidates per instruction, i32x4 lanes) for the SIMD128 build and `u32`
 * for the scalar build. The `isVector<T>()` branches are resolved at compile time, so the
 * scalar build contains no SIMD instructions.
 *
 * Message layout (see src/solver/layout.ts): one final 64-byte block after a midstate.
 * Bytes 0..43 are the job's tail, 44..54 the 11 nonce characters, 55 the 0x80 pad and
 * 56..63 the big-endian bit length. A scan call stays inside one aligned 2^18 window of
 * nonces, so only the last three characters (bytes 52..54, message word W13) change:
 * rounds 0..12 and every schedule term that does not depend on W13 are computed once per
 * call. Only the last digest word H7 is tested, and H7 = midstate[7] + e60 (the `e` value
 * of round 60), so rounds 61..63 are skipped entirely and rounds 57..59 only update `e`.
 *
 * Each round adds S1(e) last (`t = S1(e) + (h + K + W + Ch)`): S1 is the deepest term of the
 * e chain, so this shortens the dependency chain by one add per round (+10% on V8, Node 20).
 * One lane group per iteration: two v128 groups (8 nonces) per iteration measured 0.5x
 * (0.7x with the second group forced after the first), because V8 then spills about as many
 * xmm values as it computes and the loop body (about 50 KB of x64 code) overflows the
 * instruction cache. Other variants measured no faster: Ch as v128.bitselect, the extra add
 * that takes e off the t chain, S0(a) added last.
 */

/** log2 of the scan window (the last three nonce characters). */
const WINDOW_BITS: u32 = 18;

/**
 * Job input, written by the host when the job changes:
 *   0..32   midstate (8 words, host byte order)
 *   32..76  bytes 0..43 of the final block (the job's tail)
 *   76..80  message length in bytes
 */
const INPUT: usize = memory.data(80, 16);
/** Nonce digit -> character byte. */
const CHARS: usize = memory.data(64, 16);
/**
 * Nonce digit d -> low half of W13 for last character d: `char(d) << 8 | 0x80`. Four
 * consecutive digits starting at a multiple of 4 form one aligned v128.
 */
const LAST: usize = memory.data(64 * 4, 16);
/** Message schedule of the constant words (per call). */
const WS: usize = memory.data(64 * 4, 16);
/** Scratch for reading the lanes of a SIMD hit. */
const LANES: usize = memory.data(16, 16);
/** Round constants of rounds 0..12 (the rest are inlined where they are used). */
const K0: usize = memory.data<u32>([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74,
]);

/** Address of the job input area (see INPUT). */
export function input(): usize {
  return INPUT;
}

// ---- lane-generic word operations -------------------------------------------------
// Small enough that binaryen (-O3) inlines them all into scanLanes.

function splat<T>(v: u32): T {
  if (isVector<T>()) return i32x4.splat(v);
  else return v;
}
function add<T>(a: T, b: T): T {
  if (isVector<T>()) return i32x4.add(a, b);
  else return a + b;
}
function xor<T>(a: T, b: T): T {
  if (isVector<T>()) return v128.xor(a, b);
  else return a ^ b;
}
function and<T>(a: T, b: T): T {
  if (isVector<T>()) return v128.and(a, b);
  else return a & b;
}
function shr<T>(a: T, n: i32): T {
  if (isVector<T>()) return i32x4.shr_u(a, n);
  else return a >>> n;
}
/** Rotate right; SIMD128 has no rotate, so two shifts and an or. */
function ror<T>(a: T, n: i32): T {
  if (isVector<T>()) return v128.or(i32x4.shr_u(a, n), i32x4.shl(a, 32 - n));
  else return rotr<u32>(a, n);
}
function S0<T>(a: T): T {
  return xor(xor(ror(a, 2), ror(a, 13)), ror(a, 22));
}
function S1<T>(e: T): T {
  return xor(xor(ror(e, 6), ror(e, 11)), ror(e, 25));
}
function s0<T>(w: T): T {
  return xor(xor(ror(w, 7), ror(w, 18)), shr(w, 3));
}
function s1<T>(w: T): T {
  return xor(xor(ror(w, 17), ror(w, 19)), shr(w, 10));
}
function ch<T>(e: T, f: T, g: T): T {
  return xor(g, and(e, xor(f, g)));
}
function maj(a: u32, b: u32, c: u32): u32 {
  return (a & b) ^ (a & c) ^ (b & c);
}

// ---- per-call setup (plain u32) ---------------------------------------------------

/** Nonce digit (0..63) -> its character in `A-Za-z0-9-_`. */
function digitChar(d: u32): u32 {
  if (d < 26) return 65 + d; // A-Z
  if (d < 52) return 71 + d; // a-z
  if (d < 62) return d - 4; // 0-9
  return d == 62 ? 45 : 95; // '-', '_'
}

function w(i: u32): u32 {
  return load<u32>(WS + (i << 2));
}
function setW(i: u32, v: u32): void {
  store<u32>(WS + (i << 2), v);
}
/** Schedule word i from its four predecessors. */
function schedule(i: u32): u32 {
  return s1<u32>(w(i - 2)) + w(i - 7) + s0<u32>(w(i - 15)) + w(i - 16);
}

/** Slots of the per-call constant table (CONSTS), one lane vector each. */
enum C {
  cA,
  cE,
  sB,
  sC,
  sD,
  sF,
  sG,
  m0,
  hk14,
  hk15,
  hk16,
  kw17,
  kw18,
  kw19,
  kw21,
  kw23,
  kw25,
  c20,
  c22,
  c24,
  c26,
  c27,
  c28,
  c29,
  c30,
  c31,
  c32,
  c33,
  c34,
  c35,
  c36,
  c37,
  c38,
  c39,
  c40,
  c41,
  k60m,
  count,
}
/** Per-call constants of the hot loop, splatted to every lane (16 bytes per slot). */
const CONSTS: usize = memory.data(C.count * 16, 16);

/** Store a per-call constant, splatted, in its slot. */
function put<T>(slot: C, v: u32): void {
  if (isVector<T>()) v128.store(CONSTS + ((<usize>slot) << 4), i32x4.splat(v));
  else store<u32>(CONSTS + ((<usize>slot) << 4), v);
}
/**
 * Read a per-call constant at its use. V8 cannot keep 37 loop invariants in 16 xmm
 * registers, so as locals they were spill slots read the same way; as a table they let the
 * setup live in its own function.
 */
function cst<T>(slot: C): T {
  if (isVector<T>()) return v128.load(CONSTS + ((<usize>slot) << 4));
  else return load<u32>(CONSTS + ((<usize>slot) << 4));
}

/**
 * Per-call setup for the window of nonces (hi, base ..): rounds 0..12, the constant half of
 * round 13 and every W13-independent schedule term, stored in CONSTS.
 */
function prepare<T>(hi: u32, base: u32): void {
  // Character tables, rebuilt per call (64 entries against up to 2^18 hashes).
  for (let d: u32 = 0; d < 64; d++) {
    const c = digitChar(d);
    store<u8>(CHARS + d, <u8>c);
    store<u32>(LAST + (d << 2), (c << 8) | 0x80);
  }

  // Message words: W0..W10 from the tail, W11 and W12 from nonce characters 0..7 (the
  // window's high bits), W13 varies, W14..W15 the bit length.
  for (let i: u32 = 0; i < 11; i++) setW(i, bswap<u32>(load<u32>(INPUT + 32 + (i << 2))));
  const nonce = ((<u64>hi) << 32) | (<u64>base);
  let w11: u32 = 0;
  let w12: u32 = 0;
  for (let i: u32 = 0; i < 4; i++) {
    w11 = (w11 << 8) | (<u32>load<u8>(CHARS + <usize>((nonce >> (6 * (10 - i))) & 63)));
    w12 = (w12 << 8) | (<u32>load<u8>(CHARS + <usize>((nonce >> (6 * (6 - i))) & 63)));
  }
  setW(11, w11);
  setW(12, w12);
  setW(13, 0); // varies; only used below through the terms that exclude it
  const length = load<u32>(INPUT + 76);
  setW(14, length >>> 29);
  setW(15, length << 3);
  // Fully constant schedule words.
  for (let i: u32 = 16; i < 20; i++) setW(i, schedule(i));
  setW(21, schedule(21));
  setW(23, schedule(23));
  setW(25, schedule(25));

  // Rounds 0..12 from the midstate.
  let a = load<u32>(INPUT);
  let b = load<u32>(INPUT + 4);
  let c = load<u32>(INPUT + 8);
  let d = load<u32>(INPUT + 12);
  let e = load<u32>(INPUT + 16);
  let f = load<u32>(INPUT + 20);
  let g = load<u32>(INPUT + 24);
  let h = load<u32>(INPUT + 28);
  // K60 + midstate[7]: with the final addition folded into round 60, its e is H7 itself.
  put<T>(C.k60m, 0x90befffa + h);
  for (let i: u32 = 0; i < 13; i++) {
    const t1 = h + S1<u32>(e) + ch<u32>(e, f, g) + load<u32>(K0 + (i << 2)) + w(i);
    const t2 = S0<u32>(a) + maj(a, b, c);
    h = g;
    g = f;
    f = e;
    e = d + t1;
    d = c;
    c = b;
    b = a;
    a = t1 + t2;
  }
  // Round 13 up to its W13 term: new a = cA + W13, new e = cE + W13.
  const r13 = h + S1<u32>(e) + ch<u32>(e, f, g) + 0x80deb1fe;
  put<T>(C.cA, r13 + S0<u32>(a) + maj(a, b, c));
  put<T>(C.cE, d + r13);
  // State after round 13 besides a and e: b..d = a..c, f..h = e..g (all constant).
  put<T>(C.sB, a);
  put<T>(C.sC, b);
  put<T>(C.sD, c);
  put<T>(C.sF, e);
  put<T>(C.sG, f);
  // b ^ c before round 14, for the Maj identity in h7.
  put<T>(C.m0, a ^ b);
  // h + K + W of rounds 14..16, where h is still constant.
  put<T>(C.hk14, g + 0x9bdc06a7 + w(14));
  put<T>(C.hk15, f + 0xc19bf174 + w(15));
  put<T>(C.hk16, e + 0xe49b69c1 + w(16));
  // K + W of the other constant schedule words.
  put<T>(C.kw17, 0xefbe4786 + w(17));
  put<T>(C.kw18, 0x0fc19dc6 + w(18));
  put<T>(C.kw19, 0x240ca1cc + w(19));
  put<T>(C.kw21, 0x4a7484aa + w(21));
  put<T>(C.kw23, 0x76f988da + w(23));
  put<T>(C.kw25, 0xa831c66d + w(25));
  // The W13-independent parts of schedule words 20 and 22..41 (W13 = 0 in WS).
  put<T>(C.c20, schedule(20));
  put<T>(C.c22, w(15) + s0<u32>(w(7)) + w(6));
  put<T>(C.c24, w(17) + s0<u32>(w(9)) + w(8));
  put<T>(C.c26, w(19) + s0<u32>(w(11)) + w(10));
  put<T>(C.c27, s1<u32>(w(25)) + s0<u32>(w(12)) + w(11));
  put<T>(C.c28, w(21) + w(12));
  put<T>(C.c29, s0<u32>(w(14)));
  put<T>(C.c30, w(23) + s0<u32>(w(15)) + w(14));
  put<T>(C.c31, s0<u32>(w(16)) + w(15));
  put<T>(C.c32, w(25) + s0<u32>(w(17)) + w(16));
  put<T>(C.c33, s0<u32>(w(18)) + w(17));
  put<T>(C.c34, s0<u32>(w(19)) + w(18));
  put<T>(C.c35, w(19));
  put<T>(C.c36, s0<u32>(w(21)));
  put<T>(C.c37, w(21));
  put<T>(C.c38, s0<u32>(w(23)));
  put<T>(C.c39, w(23));
  put<T>(C.c40, s0<u32>(w(25)));
  put<T>(C.c41, w(25));
}

/** High half of W13 for window offset off: nonce characters 8 and 9. */
function w13hi(off: u32): u32 {
  return (
    ((<u32>load<u8>(CHARS + ((off >> 12) & 63))) << 24) |
    ((<u32>load<u8>(CHARS + ((off >> 6) & 63))) << 16)
  );
}

/** W13 of the lane group starting at window offset off (consecutive nonces per lane). */
function w13<T>(off: u32): T {
  if (isVector<T>()) return v128.or(i32x4.splat(w13hi(off)), v128.load(LAST + ((off & 63) << 2)));
  else return w13hi(off) | load<u32>(LAST + ((off & 63) << 2));
}

/**
 * Scan nonces (hi, lo) .. (hi, lo + count - 1), all inside one aligned 2^18 window, and
 * return the offset of the first whose H7 satisfies `(H7 & mask) == 0`, or -1. One lane
 * group (four nonces for v128, one for u32) per iteration.
 */
export function scanLanes<T>(hi: u32, lo: u32, count: u32, mask: u32): i32 {
  if (count == 0) return -1;
  const base = lo & ~((1 << WINDOW_BITS) - 1);
  const start = lo - base;
  // At most 2^18: no overflow, unlike lo + count.
  const end = start + count;
  prepare<T>(hi, base);
  const maskT = splat<T>(mask);
  const lanes: u32 = isVector<T>() ? 4 : 1;
  let off = start & ~(lanes - 1);
  // A do-while, not a for loop: in the prototype V8 kept the values above hoisted only
  // this way (7.0 -> 9.7 M/s).
  do {
    const x = w13<T>(off);
    // Round 13 finished with W13, then rounds 14..60 unrolled with rotating names.
    // Maj(a, b, c) is computed as b ^ ((a ^ b) & (b ^ c)), where b ^ c is the previous
    // round's a ^ b (m).
    let a = add(cst<T>(C.cA), x);
    let b = cst<T>(C.sB);
    let c = cst<T>(C.sC);
    let d = cst<T>(C.sD);
    let e = add(cst<T>(C.cE), x);
    let f = cst<T>(C.sF);
    let g = cst<T>(C.sG);
    let h: T;
    let t: T;
    let u: T;
    let m = cst<T>(C.m0);
    // round 14
    t = add(S1(e), add(cst<T>(C.hk14), ch(e, f, g)));
    d = add(d, t);
    u = xor(a, b);
    h = add(t, add(S0(a), xor(b, and(u, m))));
    m = u;
    // round 15
    t = add(S1(d), add(cst<T>(C.hk15), ch(d, e, f)));
    c = add(c, t);
    u = xor(h, a);
    g = add(t, add(S0(h), xor(a, and(u, m))));
    m = u;
    // round 16
    t = add(S1(c), add(cst<T>(C.hk16), ch(c, d, e)));
    b = add(b, t);
    u = xor(g, h);
    f = add(t, add(S0(g), xor(h, and(u, m))));
    m = u;
    // round 17
    t = add(S1(b), add(add(e, cst<T>(C.kw17)), ch(b, c, d)));
    a = add(a, t);
    u = xor(f, g);
    e = add(t, add(S0(f), xor(g, and(u, m))));
    m = u;
    // round 18
    t = add(S1(a), add(add(d, cst<T>(C.kw18)), ch(a, b, c)));
    h = add(h, t);
    u = xor(e, f);
    d = add(t, add(S0(e), xor(f, and(u, m))));
    m = u;
    // round 19
    t = add(S1(h), add(add(c, cst<T>(C.kw19)), ch(h, a, b)));
    g = add(g, t);
    u = xor(d, e);
    c = add(t, add(S0(d), xor(e, and(u, m))));
    m = u;
    // round 20
    const w20 = add(cst<T>(C.c20), x);
    t = add(S1(g), add(add(b, add(w20, splat<T>(0x2de92c6f))), ch(g, h, a)));
    f = add(f, t);
    u = xor(c, d);
    b = add(t, add(S0(c), xor(d, and(u, m))));
    m = u;
    // round 21
    t = add(S1(f), add(add(a, cst<T>(C.kw21)), ch(f, g, h)));
    e = add(e, t);
    u = xor(b, c);
    a = add(t, add(S0(b), xor(c, and(u, m))));
    m = u;
    // round 22
    const w22 = add(cst<T>(C.c22), s1(w20));
    t = add(S1(e), add(add(h, add(w22, splat<T>(0x5cb0a9dc))), ch(e, f, g)));
    d = add(d, t);
    u = xor(a, b);
    h = add(t, add(S0(a), xor(b, and(u, m))));
    m = u;
    // round 23
    t = add(S1(d), add(add(g, cst<T>(C.kw23)), ch(d, e, f)));
    c = add(c, t);
    u = xor(h, a);
    g = add(t, add(S0(h), xor(a, and(u, m))));
    m = u;
    // round 24
    const w24 = add(cst<T>(C.c24), s1(w22));
    t = add(S1(c), add(add(f, add(w24, splat<T>(0x983e5152))), ch(c, d, e)));
    b = add(b, t);
    u = xor(g, h);
    f = add(t, add(S0(g), xor(h, and(u, m))));
    m = u;
    // round 25
    t = add(S1(b), add(add(e, cst<T>(C.kw25)), ch(b, c, d)));
    a = add(a, t);
    u = xor(f, g);
    e = add(t, add(S0(f), xor(g, and(u, m))));
    m = u;
    // round 26
    const w26 = add(cst<T>(C.c26), s1(w24));
    t = add(S1(a), add(add(d, add(w26, splat<T>(0xb00327c8))), ch(a, b, c)));
    h = add(h, t);
    u = xor(e, f);
    d = add(t, add(S0(e), xor(f, and(u, m))));
    m = u;
    // round 27
    const w27 = add(cst<T>(C.c27), w20);
    t = add(S1(h), add(add(c, add(w27, splat<T>(0xbf597fc7))), ch(h, a, b)));
    g = add(g, t);
    u = xor(d, e);
    c = add(t, add(S0(d), xor(e, and(u, m))));
    m = u;
    // round 28
    const w28 = add(add(cst<T>(C.c28), s1(w26)), s0(x));
    t = add(S1(g), add(add(b, add(w28, splat<T>(0xc6e00bf3))), ch(g, h, a)));
    f = add(f, t);
    u = xor(c, d);
    b = add(t, add(S0(c), xor(d, and(u, m))));
    m = u;
    // round 29
    const w29 = add(add(cst<T>(C.c29), s1(w27)), add(w22, x));
    t = add(S1(f), add(add(a, add(w29, splat<T>(0xd5a79147))), ch(f, g, h)));
    e = add(e, t);
    u = xor(b, c);
    a = add(t, add(S0(b), xor(c, and(u, m))));
    m = u;
    // round 30
    const w30 = add(cst<T>(C.c30), s1(w28));
    t = add(S1(e), add(add(h, add(w30, splat<T>(0x06ca6351))), ch(e, f, g)));
    d = add(d, t);
    u = xor(a, b);
    h = add(t, add(S0(a), xor(b, and(u, m))));
    m = u;
    // round 31
    const w31 = add(add(cst<T>(C.c31), s1(w29)), w24);
    t = add(S1(d), add(add(g, add(w31, splat<T>(0x14292967))), ch(d, e, f)));
    c = add(c, t);
    u = xor(h, a);
    g = add(t, add(S0(h), xor(a, and(u, m))));
    m = u;
    // round 32
    const w32 = add(cst<T>(C.c32), s1(w30));
    t = add(S1(c), add(add(f, add(w32, splat<T>(0x27b70a85))), ch(c, d, e)));
    b = add(b, t);
    u = xor(g, h);
    f = add(t, add(S0(g), xor(h, and(u, m))));
    m = u;
    // round 33
    const w33 = add(add(cst<T>(C.c33), s1(w31)), w26);
    t = add(S1(b), add(add(e, add(w33, splat<T>(0x2e1b2138))), ch(b, c, d)));
    a = add(a, t);
    u = xor(f, g);
    e = add(t, add(S0(f), xor(g, and(u, m))));
    m = u;
    // round 34
    const w34 = add(add(cst<T>(C.c34), s1(w32)), w27);
    t = add(S1(a), add(add(d, add(w34, splat<T>(0x4d2c6dfc))), ch(a, b, c)));
    h = add(h, t);
    u = xor(e, f);
    d = add(t, add(S0(e), xor(f, and(u, m))));
    m = u;
    // round 35
    const w35 = add(add(cst<T>(C.c35), s1(w33)), add(w28, s0(w20)));
    t = add(S1(h), add(add(c, add(w35, splat<T>(0x53380d13))), ch(h, a, b)));
    g = add(g, t);
    u = xor(d, e);
    c = add(t, add(S0(d), xor(e, and(u, m))));
    m = u;
    // round 36
    const w36 = add(add(cst<T>(C.c36), s1(w34)), add(w29, w20));
    t = add(S1(g), add(add(b, add(w36, splat<T>(0x650a7354))), ch(g, h, a)));
    f = add(f, t);
    u = xor(c, d);
    b = add(t, add(S0(c), xor(d, and(u, m))));
    m = u;
    // round 37
    const w37 = add(add(cst<T>(C.c37), s1(w35)), add(w30, s0(w22)));
    t = add(S1(f), add(add(a, add(w37, splat<T>(0x766a0abb))), ch(f, g, h)));
    e = add(e, t);
    u = xor(b, c);
    a = add(t, add(S0(b), xor(c, and(u, m))));
    m = u;
    // round 38
    const w38 = add(add(cst<T>(C.c38), s1(w36)), add(w31, w22));
    t = add(S1(e), add(add(h, add(w38, splat<T>(0x81c2c92e))), ch(e, f, g)));
    d = add(d, t);
    u = xor(a, b);
    h = add(t, add(S0(a), xor(b, and(u, m))));
    m = u;
    // round 39
    const w39 = add(add(cst<T>(C.c39), s1(w37)), add(w32, s0(w24)));
    t = add(S1(d), add(add(g, add(w39, splat<T>(0x92722c85))), ch(d, e, f)));
    c = add(c, t);
    u = xor(h, a);
    g = add(t, add(S0(h), xor(a, and(u, m))));
    m = u;
    // round 40
    const w40 = add(add(cst<T>(C.c40), s1(w38)), add(w33, w24));
    t = add(S1(c), add(add(f, add(w40, splat<T>(0xa2bfe8a1))), ch(c, d, e)));
    b = add(b, t);
    u = xor(g, h);
    f = add(t, add(S0(g), xor(h, and(u, m))));
    m = u;
    // round 41
    const w41 = add(add(cst<T>(C.c41), s1(w39)), add(w34, s0(w26)));
    t = add(S1(b), add(add(e, add(w41, splat<T>(0xa81a664b))), ch(b, c, d)));
    a = add(a, t);
    u = xor(f, g);
    e = add(t, add(S0(f), xor(g, and(u, m))));
    m = u;
    // round 42
    const w42 = add(add(s1(w40), w35), add(s0(w27), w26));
    t = add(S1(a), add(add(d, add(w42, splat<T>(0xc24b8b70))), ch(a, b, c)));
    h = add(h, t);
    u = xor(e, f);
    d = add(t, add(S0(e), xor(f, and(u, m))));
    m = u;
    // round 43
    const w43 = add(add(s1(w41), w36), add(s0(w28), w27));
    t = add(S1(h), add(add(c, add(w43, splat<T>(0xc76c51a3))), ch(h, a, b)));
    g = add(g, t);
    u = xor(d, e);
    c = add(t, add(S0(d), xor(e, and(u, m))));
    m = u;
    // round 44
    const w44 = add(add(s1(w42), w37), add(s0(w29), w28));
    t = add(S1(g), add(add(b, add(w44, splat<T>(0xd192e819))), ch(g, h, a)));
    f = add(f, t);
    u = xor(c, d);
    b = add(t, add(S0(c), xor(d, and(u, m))));
    m = u;
    // round 45
    const w45 = add(add(s1(w43), w38), add(s0(w30), w29));
    t = add(S1(f), add(add(a, add(w45, splat<T>(0xd6990624))), ch(f, g, h)));
    e = add(e, t);
    u = xor(b, c);
    a = add(t, add(S0(b), xor(c, and(u, m))));
    m = u;
    // round 46
    const w46 = add(add(s1(w44), w39), add(s0(w31), w30));
    t = add(S1(e), add(add(h, add(w46, splat<T>(0xf40e3585))), ch(e, f, g)));
    d = add(d, t);
    u = xor(a, b);
    h = add(t, add(S0(a), xor(b, and(u, m))));
    m = u;
    // round 47
    const w47 = add(add(s1(w45), w40), add(s0(w32), w31));
    t = add(S1(d), add(add(g, add(w47, splat<T>(0x106aa070))), ch(d, e, f)));
    c = add(c, t);
    u = xor(h, a);
    g = add(t, add(S0(h), xor(a, and(u, m))));
    m = u;
    // round 48
    const w48 = add(add(s1(w46), w41), add(s0(w33), w32));
    t = add(S1(c), add(add(f, add(w48, splat<T>(0x19a4c116))), ch(c, d, e)));
    b = add(b, t);
    u = xor(g, h);
    f = add(t, add(S0(g), xor(h, and(u, m))));
    m = u;
    // round 49
    const w49 = add(add(s1(w47), w42), add(s0(w34), w33));
    t = add(S1(b), add(add(e, add(w49, splat<T>(0x1e376c08))), ch(b, c, d)));
    a = add(a, t);
    u = xor(f, g);
    e = add(t, add(S0(f), xor(g, and(u, m))));
    m = u;
    // round 50
    const w50 = add(add(s1(w48), w43), add(s0(w35), w34));
    t = add(S1(a), add(add(d, add(w50, splat<T>(0x2748774c))), ch(a, b, c)));
    h = add(h, t);
    u = xor(e, f);
    d = add(t, add(S0(e), xor(f, and(u, m))));
    m = u;
    // round 51
    const w51 = add(add(s1(w49), w44), add(s0(w36), w35));
    t = add(S1(h), add(add(c, add(w51, splat<T>(0x34b0bcb5))), ch(h, a, b)));
    g = add(g, t);
    u = xor(d, e);
    c = add(t, add(S0(d), xor(e, and(u, m))));
    m = u;
    // round 52
    const w52 = add(add(s1(w50), w45), add(s0(w37), w36));
    t = add(S1(g), add(add(b, add(w52, splat<T>(0x391c0cb3))), ch(g, h, a)));
    f = add(f, t);
    u = xor(c, d);
    b = add(t, add(S0(c), xor(d, and(u, m))));
    m = u;
    // round 53
    const w53 = add(add(s1(w51), w46), add(s0(w38), w37));
    t = add(S1(f), add(add(a, add(w53, splat<T>(0x4ed8aa4a))), ch(f, g, h)));
    e = add(e, t);
    u = xor(b, c);
    a = add(t, add(S0(b), xor(c, and(u, m))));
    m = u;
    // round 54
    const w54 = add(add(s1(w52), w47), add(s0(w39), w38));
    t = add(S1(e), add(add(h, add(w54, splat<T>(0x5b9cca4f))), ch(e, f, g)));
    d = add(d, t);
    u = xor(a, b);
    h = add(t, add(S0(a), xor(b, and(u, m))));
    m = u;
    // round 55
    const w55 = add(add(s1(w53), w48), add(s0(w40), w39));
    t = add(S1(d), add(add(g, add(w55, splat<T>(0x682e6ff3))), ch(d, e, f)));
    c = add(c, t);
    u = xor(h, a);
    g = add(t, add(S0(h), xor(a, and(u, m))));
    m = u;
    // round 56
    const w56 = add(add(s1(w54), w49), add(s0(w41), w40));
    t = add(S1(c), add(add(f, add(w56, splat<T>(0x748f82ee))), ch(c, d, e)));
    b = add(b, t);
    u = xor(g, h);
    f = add(t, add(S0(g), xor(h, and(u, m))));
    m = u;
    // round 57
    const w57 = add(add(s1(w55), w50), add(s0(w42), w41));
    t = add(S1(b), add(add(e, add(w57, splat<T>(0x78a5636f))), ch(b, c, d)));
    a = add(a, t);
    // round 58
    const w58 = add(add(s1(w56), w51), add(s0(w43), w42));
    t = add(S1(a), add(add(d, add(w58, splat<T>(0x84c87814))), ch(a, b, c)));
    h = add(h, t);
    // round 59
    const w59 = add(add(s1(w57), w52), add(s0(w44), w43));
    t = add(S1(h), add(add(c, add(w59, splat<T>(0x8cc70208))), ch(h, a, b)));
    g = add(g, t);
    // round 60
    const w60 = add(add(s1(w58), w53), add(s0(w45), w44));
    t = add(S1(g), add(add(b, add(w60, cst<T>(C.k60m))), ch(g, h, a)));
    // e60 is H7 (midstate[7] was folded into k60m).
    const e60 = add(f, t);
    const z = and(e60, maskT);
    if (isVector<T>()) {
      if (!i32x4.all_true(z)) {
        // Some lane hit: take the first one in nonce order that lies inside the range.
        v128.store(LANES, z);
        for (let i: u32 = 0; i < 4; i++) {
          const n = off + i;
          if (load<u32>(LANES + (i << 2)) == 0 && n >= start && n < end) return <i32>(n - start);
        }
      }
    } else if (z == 0) {
      return <i32>(off - start);
    }
    off += lanes;
  } while (off < end);
  return -1;
}
