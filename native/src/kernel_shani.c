/*
 * SHA-NI kernel (x86 SHA extensions). Several independent candidates ("streams") are
 * hashed in lockstep so that the long latency of sha256rnds2 is hidden. Per candidate only
 * rounds 14..61 run (24 sha256rnds2): rounds 0..13 are folded into per-call constants, and
 * the digest word checked (H7) is e after round 60, which the (60, 61) step already yields.
 * Only this file's functions use SHA instructions (per-function target attribute), so the
 * rest of the addon builds and runs on any x86.
 */
#include "kernel.h"

#if TLSLP_X86
#include <immintrin.h>

#define NS TLSLP_SHANI_STREAMS

#if defined(__GNUC__)
#define SHA_TARGET __attribute__((target("sha,sse4.1,ssse3")))
#define EACH _Pragma("GCC unroll 8") for (s = 0; s < NS; s++)
#else /* MSVC: intrinsics need no target attribute */
#define SHA_TARGET
#define EACH for (s = 0; s < NS; s++)
#endif
#define KV(k) _mm_loadu_si128((const __m128i *)(tlslp_K + 4 * (k)))
/* Rounds 4k..4k+3 with schedule group g = W[4k..4k+3]; ABEF is in q before and after. */
#define QUAD(g, k)                                                     \
  EACH {                                                               \
    __m128i wk_ = _mm_add_epi32(g[s], KV(k));                          \
    p[s] = _mm_sha256rnds2_epu32(p[s], q[s], wk_);                     \
    q[s] = _mm_sha256rnds2_epu32(q[s], p[s], _mm_shuffle_epi32(wk_, 0x0E)); \
  }
/* Schedule group gk = W[4k..4k+3] from the previous four groups. */
#define MSG(gk, g4, g3, g2, g1)                                                            \
  EACH gk[s] = _mm_sha256msg2_epu32(                                                      \
      _mm_add_epi32(_mm_sha256msg1_epu32(g4[s], g3[s]), _mm_alignr_epi8(g1[s], g2[s], 4)), g1[s]);

SHA_TARGET int32_t tlslp_scan_shani(const tlslp_ctx *c, uint32_t count, uint32_t mask) {
  const uint32_t *w = c->w;
  const uint32_t *sv = c->s13;
  /* Schedule groups with W[4k] in lane 0; g3 has 0 in place of W13. */
  const __m128i g1 = _mm_set_epi32((int)w[7], (int)w[6], (int)w[5], (int)w[4]);
  const __m128i g2 = _mm_set_epi32((int)w[11], (int)w[10], (int)w[9], (int)w[8]);
  const __m128i g3 = _mm_set_epi32((int)w[15], (int)w[14], 0, (int)w[12]);
  const __m128i g4 = _mm_set_epi32((int)w[19], (int)w[18], (int)w[17], (int)w[16]);
  /* State after round 13 in the SHA-NI layout (ABEF, CDGH; A in the top lane), without W13. */
  const __m128i abef = _mm_set_epi32((int)sv[0], (int)sv[1], (int)sv[4], (int)sv[5]);
  const __m128i cdgh = _mm_set_epi32((int)sv[2], (int)sv[3], (int)sv[6], (int)sv[7]);
  /* Rounds 14..19 use constant words. */
  const __m128i wk14 = _mm_set_epi32(0, 0, (int)(w[15] + tlslp_K[15]), (int)(w[14] + tlslp_K[14]));
  const __m128i wk16 = _mm_add_epi32(g4, KV(4));
  const __m128i wk18 = _mm_shuffle_epi32(wk16, 0x0E);
  /* Group 5 input before adding W13 to lane 0; msg1(g2, g3) reads only W12 of g3. */
  const __m128i c5 = _mm_add_epi32(_mm_sha256msg1_epu32(g1, g2), _mm_alignr_epi8(g4, g3, 4));
  const __m128i m6 = _mm_sha256msg1_epu32(g2, g3);
  const uint32_t last = count - 1;
  uint32_t i, s;

  for (i = 0; i < count; i += NS) {
    __m128i p[NS], q[NS], x3[NS], x5[NS], x6[NS], x7[NS], x8[NS], x9[NS], x10[NS], x11[NS],
        x12[NS], x13[NS], x14[NS], x15[NS];
    EACH {
      /* Streams past the end repeat the last candidate; their results are ignored. */
      const uint32_t v = c->v0 + (i + s <= last ? i + s : last);
      const __m128i x = _mm_cvtsi32_si128((int)tlslp_w13(v));
      p[s] = _mm_add_epi32(abef, _mm_shuffle_epi32(x, _MM_SHUFFLE(0, 1, 0, 1))); /* a, e += W13 */
      q[s] = cdgh;
      x3[s] = _mm_add_epi32(g3, _mm_slli_si128(x, 4));
      x5[s] = _mm_sha256msg2_epu32(_mm_add_epi32(c5, x), g4);
    }
    EACH {
      q[s] = _mm_sha256rnds2_epu32(q[s], p[s], wk14);
      p[s] = _mm_sha256rnds2_epu32(p[s], q[s], wk16);
      q[s] = _mm_sha256rnds2_epu32(q[s], p[s], wk18);
    }
    QUAD(x5, 5)
    EACH x6[s] = _mm_sha256msg2_epu32(_mm_add_epi32(m6, _mm_alignr_epi8(x5[s], g4, 4)), x5[s]);
    QUAD(x6, 6)
    EACH x7[s] = _mm_sha256msg2_epu32(
        _mm_add_epi32(_mm_sha256msg1_epu32(x3[s], g4), _mm_alignr_epi8(x6[s], x5[s], 4)), x6[s]);
    QUAD(x7, 7)
    EACH x8[s] = _mm_sha256msg2_epu32(
        _mm_add_epi32(_mm_sha256msg1_epu32(g4, x5[s]), _mm_alignr_epi8(x7[s], x6[s], 4)), x7[s]);
    QUAD(x8, 8)
    MSG(x9, x5, x6, x7, x8)
    QUAD(x9, 9)
    MSG(x10, x6, x7, x8, x9)
    QUAD(x10, 10)
    MSG(x11, x7, x8, x9, x10)
    QUAD(x11, 11)
    MSG(x12, x8, x9, x10, x11)
    QUAD(x12, 12)
    MSG(x13, x9, x10, x11, x12)
    QUAD(x13, 13)
    MSG(x14, x10, x11, x12, x13)
    QUAD(x14, 14)
    MSG(x15, x11, x12, x13, x14)
    /* Rounds 60, 61: the new ABEF's F lane is e after round 60, i.e. h after round 63. */
    EACH p[s] = _mm_sha256rnds2_epu32(p[s], q[s], _mm_add_epi32(x15[s], KV(15)));
    EACH {
      if ((((uint32_t)_mm_cvtsi128_si32(p[s]) + c->mid7) & mask) == 0 && i + s < count) {
        return (int32_t)(i + s);
      }
    }
  }
  return -1;
}
#endif
