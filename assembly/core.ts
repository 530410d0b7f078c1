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

/**
 * Scan nonces (hi, lo) .. (hi, lo + count - 1), all inside one aligned 2^18 window, and
 * return the offset of the first whose H7 satisfies `(H7 & mask) == 0`, or -1.
 */
export function scanLanes<T>(hi: u32, lo: u32, count: u32, mask: u32): i32 {
  if (count == 0) return -1;
  const base = lo & ~((1 << WINDOW_BITS) - 1);
  const start = lo - base;
  // At most 2^18: no overflow, unlike lo + count.
  const end = start + count;

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
  const k60m = splat<T>(0x90befffa + h);
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
  const cA = splat<T>(r13 + S0<u32>(a) + maj(a, b, c));
  const cE = splat<T>(d + r13);
  // State after round 13 besides a and e: b..d = a..c, f..h = e..g (all constant).
  const sB = splat<T>(a);
  const sC = splat<T>(b);
  const sD = splat<T>(c);
  const sF = splat<T>(e);
  const sG = splat<T>(f);
  const m0 = splat<T>(a ^ b); // b ^ c before round 14, for the Maj identity below
  // h + K + W of rounds 14..16, where h is still constant.
  const hk14 = splat<T>(g + 0x9bdc06a7 + w(14));
  const hk15 = splat<T>(f + 0xc19bf174 + w(15));
  const hk16 = splat<T>(e + 0xe49b69c1 + w(16));
  // K + W of the other constant schedule words.
  const kw17 = splat<T>(0xefbe4786 + w(17));
  const kw18 = splat<T>(0x0fc19dc6 + w(18));
  const kw19 = splat<T>(0x240ca1cc + w(19));
  const kw21 = splat<T>(0x4a7484aa + w(21));
  const kw23 = splat<T>(0x76f988da + w(23));
  const kw25 = splat<T>(0xa831c66d + w(25));
  // The W13-independent parts of schedule words 20 and 22..41 (W13 = 0 in WS).
  const c20 = splat<T>(schedule(20));
  const c22 = splat<T>(w(15) + s0<u32>(w(7)) + w(6));
  const c24 = splat<T>(w(17) + s0<u32>(w(9)) + w(8));
  const c26 = splat<T>(w(19) + s0<u32>(w(11)) + w(10));
  const c27 = splat<T>(s1<u32>(w(25)) + s0<u32>(w(12)) + w(11));
  const c28 = splat<T>(w(21) + w(12));
  const c29 = splat<T>(s0<u32>(w(14)));
  const c30 = splat<T>(w(23) + s0<u32>(w(15)) + w(14));
  const c31 = splat<T>(s0<u32>(w(16)) + w(15));
  const c32 = splat<T>(w(25) + s0<u32>(w(17)) + w(16));
  const c33 = splat<T>(s0<u32>(w(18)) + w(17));
  const c34 = splat<T>(s0<u32>(w(19)) + w(18));
  const c35 = splat<T>(w(19));
  const c36 = splat<T>(s0<u32>(w(21)));
  const c37 = splat<T>(w(21));
  const c38 = splat<T>(s0<u32>(w(23)));
  const c39 = splat<T>(w(23));
  const c40 = splat<T>(s0<u32>(w(25)));
  const c41 = splat<T>(w(25));
  const maskT = splat<T>(mask);

  const lanes: u32 = isVector<T>() ? 4 : 1;
  let off = start & ~(lanes - 1);
  // A do-while, not a for loop: in the prototype V8 kept the values above hoisted only
  // this way (7.0 -> 9.7 M/s).
  do {
    // W13: characters 8 and 9 (bits 12..17, 6..11 of off), character 10 (bits 0..5) and
    // the 0x80 pad; the SIMD lanes are four consecutive nonces.
    const w13hi =
      ((<u32>load<u8>(CHARS + ((off >> 12) & 63))) << 24) |
      ((<u32>load<u8>(CHARS + ((off >> 6) & 63))) << 16);
    let x: T;
    if (isVector<T>()) x = v128.or(i32x4.splat(w13hi), v128.load(LAST + ((off & 63) << 2)));
    else x = w13hi | load<u32>(LAST + ((off & 63) << 2));
    {
      // Round 13 finished with W13, then rounds 14..60 unrolled with rotating names.
      // Maj(a, b, c) is computed as b ^ ((a ^ b) & (b ^ c)), where b ^ c is the previous
      // round's a ^ b (m).
      let a = add(cA, x);
      let b = sB;
      let c = sC;
      let d = sD;
      let e = add(cE, x);
      let f = sF;
      let g = sG;
      let h: T;
      let t: T;
      let u: T;
      let m = m0;
      // round 14
      t = add(hk14, add(S1(e), ch(e, f, g)));
      d = add(d, t);
      u = xor(a, b);
      h = add(t, add(S0(a), xor(b, and(u, m))));
      m = u;
      // round 15
      t = add(hk15, add(S1(d), ch(d, e, f)));
      c = add(c, t);
      u = xor(h, a);
      g = add(t, add(S0(h), xor(a, and(u, m))));
      m = u;
      // round 16
      t = add(hk16, add(S1(c), ch(c, d, e)));
      b = add(b, t);
      u = xor(g, h);
      f = add(t, add(S0(g), xor(h, and(u, m))));
      m = u;
      // round 17
      t = add(add(e, kw17), add(S1(b), ch(b, c, d)));
      a = add(a, t);
      u = xor(f, g);
      e = add(t, add(S0(f), xor(g, and(u, m))));
      m = u;
      // round 18
      t = add(add(d, kw18), add(S1(a), ch(a, b, c)));
      h = add(h, t);
      u = xor(e, f);
      d = add(t, add(S0(e), xor(f, and(u, m))));
      m = u;
      // round 19
      t = add(add(c, kw19), add(S1(h), ch(h, a, b)));
      g = add(g, t);
      u = xor(d, e);
      c = add(t, add(S0(d), xor(e, and(u, m))));
      m = u;
      // round 20
      const w20 = add(c20, x);
      t = add(add(b, add(w20, splat<T>(0x2de92c6f))), add(S1(g), ch(g, h, a)));
      f = add(f, t);
      u = xor(c, d);
      b = add(t, add(S0(c), xor(d, and(u, m))));
      m = u;
      // round 21
      t = add(add(a, kw21), add(S1(f), ch(f, g, h)));
      e = add(e, t);
      u = xor(b, c);
      a = add(t, add(S0(b), xor(c, and(u, m))));
      m = u;
      // round 22
      const w22 = add(c22, s1(w20));
      t = add(add(h, add(w22, splat<T>(0x5cb0a9dc))), add(S1(e), ch(e, f, g)));
      d = add(d, t);
      u = xor(a, b);
      h = add(t, add(S0(a), xor(b, and(u, m))));
      m = u;
      // round 23
      t = add(add(g, kw23), add(S1(d), ch(d, e, f)));
      c = add(c, t);
      u = xor(h, a);
      g = add(t, add(S0(h), xor(a, and(u, m))));
      m = u;
      // round 24
      const w24 = add(c24, s1(w22));
      t = add(add(f, add(w24, splat<T>(0x983e5152))), add(S1(c), ch(c, d, e)));
      b = add(b, t);
      u = xor(g, h);
      f = add(t, add(S0(g), xor(h, and(u, m))));
      m = u;
      // round 25
      t = add(add(e, kw25), add(S1(b), ch(b, c, d)));
      a = add(a, t);
      u = xor(f, g);
      e = add(t, add(S0(f), xor(g, and(u, m))));
      m = u;
      // round 26
      const w26 = add(c26, s1(w24));
      t = add(add(d, add(w26, splat<T>(0xb00327c8))), add(S1(a), ch(a, b, c)));
      h = add(h, t);
      u = xor(e, f);
      d = add(t, add(S0(e), xor(f, and(u, m))));
      m = u;
      // round 27
      const w27 = add(c27, w20);
      t = add(add(c, add(w27, splat<T>(0xbf597fc7))), add(S1(h), ch(h, a, b)));
      g = add(g, t);
      u = xor(d, e);
      c = add(t, add(S0(d), xor(e, and(u, m))));
      m = u;
      // round 28
      const w28 = add(add(c28, s1(w26)), s0(x));
      t = add(add(b, add(w28, splat<T>(0xc6e00bf3))), add(S1(g), ch(g, h, a)));
      f = add(f, t);
      u = xor(c, d);
      b = add(t, add(S0(c), xor(d, and(u, m))));
      m = u;
      // round 29
      const w29 = add(add(c29, s1(w27)), add(w22, x));
      t = add(add(a, add(w29, splat<T>(0xd5a79147))), add(S1(f), ch(f, g, h)));
      e = add(e, t);
      u = xor(b, c);
      a = add(t, add(S0(b), xor(c, and(u, m))));
      m = u;
      // round 30
      const w30 = add(c30, s1(w28));
      t = add(add(h, add(w30, splat<T>(0x06ca6351))), add(S1(e), ch(e, f, g)));
      d = add(d, t);
      u = xor(a, b);
      h = add(t, add(S0(a), xor(b, and(u, m))));
      m = u;
      // round 31
      const w31 = add(add(c31, s1(w29)), w24);
      t = add(add(g, add(w31, splat<T>(0x14292967))), add(S1(d), ch(d, e, f)));
      c = add(c, t);
      u = xor(h, a);
      g = add(t, add(S0(h), xor(a, and(u, m))));
      m = u;
      // round 32
      const w32 = add(c32, s1(w30));
      t = add(add(f, add(w32, splat<T>(0x27b70a85))), add(S1(c), ch(c, d, e)));
      b = add(b, t);
      u = xor(g, h);
      f = add(t, add(S0(g), xor(h, and(u, m))));
      m = u;
      // round 33
      const w33 = add(add(c33, s1(w31)), w26);
      t = add(add(e, add(w33, splat<T>(0x2e1b2138))), add(S1(b), ch(b, c, d)));
      a = add(a, t);
      u = xor(f, g);
      e = add(t, add(S0(f), xor(g, and(u, m))));
      m = u;
      // round 34
      const w34 = add(add(c34, s1(w32)), w27);
      t = add(add(d, add(w34, splat<T>(0x4d2c6dfc))), add(S1(a), ch(a, b, c)));
      h = add(h, t);
      u = xor(e, f);
      d = add(t, add(S0(e), xor(f, and(u, m))));
      m = u;
      // round 35
      const w35 = add(add(c35, s1(w33)), add(w28, s0(w20)));
      t = add(add(c, add(w35, splat<T>(0x53380d13))), add(S1(h), ch(h, a, b)));
      g = add(g, t);
      u = xor(d, e);
      c = add(t, add(S0(d), xor(e, and(u, m))));
      m = u;
      // round 36
      const w36 = add(add(c36, s1(w34)), add(w29, w20));
      t = add(add(b, add(w36, splat<T>(0x650a7354))), add(S1(g), ch(g, h, a)));
      f = add(f, t);
      u = xor(c, d);
      b = add(t, add(S0(c), xor(d, and(u, m))));
      m = u;
      // round 37
      const w37 = add(add(c37, s1(w35)), add(w30, s0(w22)));
      t = add(add(a, add(w37, splat<T>(0x766a0abb))), add(S1(f), ch(f, g, h)));
      e = add(e, t);
      u = xor(b, c);
      a = add(t, add(S0(b), xor(c, and(u, m))));
      m = u;
      // round 38
      const w38 = add(add(c38, s1(w36)), add(w31, w22));
      t = add(add(h, add(w38, splat<T>(0x81c2c92e))), add(S1(e), ch(e, f, g)));
      d = add(d, t);
      u = xor(a, b);
      h = add(t, add(S0(a), xor(b, and(u, m))));
      m = u;
      // round 39
      const w39 = add(add(c39, s1(w37)), add(w32, s0(w24)));
      t = add(add(g, add(w39, splat<T>(0x92722c85))), add(S1(d), ch(d, e, f)));
      c = add(c, t);
      u = xor(h, a);
      g = add(t, add(S0(h), xor(a, and(u, m))));
      m = u;
      // round 40
      const w40 = add(add(c40, s1(w38)), add(w33, w24));
      t = add(add(f, add(w40, splat<T>(0xa2bfe8a1))), add(S1(c), ch(c, d, e)));
      b = add(b, t);
      u = xor(g, h);
      f = add(t, add(S0(g), xor(h, and(u, m))));
      m = u;
      // round 41
      const w41 = add(add(c41, s1(w39)), add(w34, s0(w26)));
      t = add(add(e, add(w41, splat<T>(0xa81a664b))), add(S1(b), ch(b, c, d)));
      a = add(a, t);
      u = xor(f, g);
      e = add(t, add(S0(f), xor(g, and(u, m))));
      m = u;
      // round 42
      const w42 = add(add(s1(w40), w35), add(s0(w27), w26));
      t = add(add(d, add(w42, splat<T>(0xc24b8b70))), add(S1(a), ch(a, b, c)));
      h = add(h, t);
      u = xor(e, f);
      d = add(t, add(S0(e), xor(f, and(u, m))));
      m = u;
      // round 43
      const w43 = add(add(s1(w41), w36), add(s0(w28), w27));
      t = add(add(c, add(w43, splat<T>(0xc76c51a3))), add(S1(h), ch(h, a, b)));
      g = add(g, t);
      u = xor(d, e);
      c = add(t, add(S0(d), xor(e, and(u, m))));
      m = u;
      // round 44
      const w44 = add(add(s1(w42), w37), add(s0(w29), w28));
      t = add(add(b, add(w44, splat<T>(0xd192e819))), add(S1(g), ch(g, h, a)));
      f = add(f, t);
      u = xor(c, d);
      b = add(t, add(S0(c), xor(d, and(u, m))));
      m = u;
      // round 45
      const w45 = add(add(s1(w43), w38), add(s0(w30), w29));
      t = add(add(a, add(w45, splat<T>(0xd6990624))), add(S1(f), ch(f, g, h)));
      e = add(e, t);
      u = xor(b, c);
      a = add(t, add(S0(b), xor(c, and(u, m))));
      m = u;
      // round 46
      const w46 = add(add(s1(w44), w39), add(s0(w31), w30));
      t = add(add(h, add(w46, splat<T>(0xf40e3585))), add(S1(e), ch(e, f, g)));
      d = add(d, t);
      u = xor(a, b);
      h = add(t, add(S0(a), xor(b, and(u, m))));
      m = u;
      // round 47
      const w47 = add(add(s1(w45), w40), add(s0(w32), w31));
      t = add(add(g, add(w47, splat<T>(0x106aa070))), add(S1(d), ch(d, e, f)));
      c = add(c, t);
      u = xor(h, a);
      g = add(t, add(S0(h), xor(a, and(u, m))));
      m = u;
      // round 48
      const w48 = add(add(s1(w46), w41), add(s0(w33), w32));
      t = add(add(f, add(w48, splat<T>(0x19a4c116))), add(S1(c), ch(c, d, e)));
      b = add(b, t);
      u = xor(g, h);
      f = add(t, add(S0(g), xor(h, and(u, m))));
      m = u;
      // round 49
      const w49 = add(add(s1(w47), w42), add(s0(w34), w33));
      t = add(add(e, add(w49, splat<T>(0x1e376c08))), add(S1(b), ch(b, c, d)));
      a = add(a, t);
      u = xor(f, g);
      e = add(t, add(S0(f), xor(g, and(u, m))));
      m = u;
      // round 50
      const w50 = add(add(s1(w48), w43), add(s0(w35), w34));
      t = add(add(d, add(w50, splat<T>(0x2748774c))), add(S1(a), ch(a, b, c)));
      h = add(h, t);
      u = xor(e, f);
      d = add(t, add(S0(e), xor(f, and(u, m))));
      m = u;
      // round 51
      const w51 = add(add(s1(w49), w44), add(s0(w36), w35));
      t = add(add(c, add(w51, splat<T>(0x34b0bcb5))), add(S1(h), ch(h, a, b)));
      g = add(g, t);
      u = xor(d, e);
      c = add(t, add(S0(d), xor(e, and(u, m))));
      m = u;
      // round 52
      const w52 = add(add(s1(w50), w45), add(s0(w37), w36));
      t = add(add(b, add(w52, splat<T>(0x391c0cb3))), add(S1(g), ch(g, h, a)));
      f = add(f, t);
      u = xor(c, d);
      b = add(t, add(S0(c), xor(d, and(u, m))));
      m = u;
      // round 53
      const w53 = add(add(s1(w51), w46), add(s0(w38), w37));
      t = add(add(a, add(w53, splat<T>(0x4ed8aa4a))), add(S1(f), ch(f, g, h)));
      e = add(e, t);
      u = xor(b, c);
      a = add(t, add(S0(b), xor(c, and(u, m))));
      m = u;
      // round 54
      const w54 = add(add(s1(w52), w47), add(s0(w39), w38));
      t = add(add(h, add(w54, splat<T>(0x5b9cca4f))), add(S1(e), ch(e, f, g)));
      d = add(d, t);
      u = xor(a, b);
      h = add(t, add(S0(a), xor(b, and(u, m))));
      m = u;
      // round 55
      const w55 = add(add(s1(w53), w48), add(s0(w40), w39));
      t = add(add(g, add(w55, splat<T>(0x682e6ff3))), add(S1(d), ch(d, e, f)));
      c = add(c, t);
      u = xor(h, a);
      g = add(t, add(S0(h), xor(a, and(u, m))));
      m = u;
      // round 56
      const w56 = add(add(s1(w54), w49), add(s0(w41), w40));
      t = add(add(f, add(w56, splat<T>(0x748f82ee))), add(S1(c), ch(c, d, e)));
      b = add(b, t);
      u = xor(g, h);
      f = add(t, add(S0(g), xor(h, and(u, m))));
      m = u;
      // round 57
      const w57 = add(add(s1(w55), w50), add(s0(w42), w41));
      t = add(add(e, add(w57, splat<T>(0x78a5636f))), add(S1(b), ch(b, c, d)));
      a = add(a, t);
      // round 58
      const w58 = add(add(s1(w56), w51), add(s0(w43), w42));
      t = add(add(d, add(w58, splat<T>(0x84c87814))), add(S1(a), ch(a, b, c)));
      h = add(h, t);
      // round 59
      const w59 = add(add(s1(w57), w52), add(s0(w44), w43));
      t = add(add(c, add(w59, splat<T>(0x8cc70208))), add(S1(h), ch(h, a, b)));
      g = add(g, t);
      // round 60
      const w60 = add(add(s1(w58), w53), add(s0(w45), w44));
      t = add(add(b, add(w60, k60m)), add(S1(g), ch(g, h, a)));
      const e60 = add(f, t);
      // e60 is H7 (midstate[7] was folded into k60m).
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
    }
    off += lanes;
  } while (off < end);
  return -1;
}
