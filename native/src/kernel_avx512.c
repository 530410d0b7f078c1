/*
 * AVX-512 kernel written with intrinsics: each zmm register holds one word of 16 candidates,
 * and G independent 16-lane groups are interleaved round by round so that the dependency
 * chain of one group's round hides behind the others'. Rotates are vprord,
 * Ch / Maj / three-way XOR are single vpternlogd. Per candidate only rounds 14..60 run, and
 * rounds 57..60 only as far as e after round 60 (= h after round 63, which gives H7) needs.
 * The target pragma limits AVX-512 to this file, so the rest of the addon runs on any x86-64
 * (the addon calls these functions only when tlslp_detect_cpu finds AVX-512 F and VL).
 */
#include "kernel.h"

#if TLSLP_X86_VECTOR
#include <immintrin.h>
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512vl"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl")
#endif

typedef __m512i v16;

static inline v16 add(v16 x, v16 y) { return _mm512_add_epi32(x, y); }
static inline v16 bc(uint32_t x) { return _mm512_set1_epi32((int)x); }
/* vpternlogd immediates: the truth table of f(x, y, z) with x = 0xF0, y = 0xCC, z = 0xAA. */
static inline v16 xor3(v16 x, v16 y, v16 z) { return _mm512_ternarylogic_epi32(x, y, z, 0x96); }
static inline v16 ch(v16 e, v16 f, v16 g) { return _mm512_ternarylogic_epi32(e, f, g, 0xCA); }
static inline v16 maj(v16 a, v16 b, v16 c) { return _mm512_ternarylogic_epi32(a, b, c, 0xE8); }
/* Ch(e, f, g) with g first: vpternlogd overwrites its first operand, and g is the input that
 * can die there (see T1N). */
static inline v16 chg(v16 g, v16 e, v16 f) { return _mm512_ternarylogic_epi32(g, e, f, 0xB8); }
static inline v16 bsig0(v16 x) {
  return xor3(_mm512_ror_epi32(x, 2), _mm512_ror_epi32(x, 13), _mm512_ror_epi32(x, 22));
}
static inline v16 bsig1(v16 x) {
  return xor3(_mm512_ror_epi32(x, 6), _mm512_ror_epi32(x, 11), _mm512_ror_epi32(x, 25));
}
static inline v16 ssig0(v16 x) {
  return xor3(_mm512_ror_epi32(x, 7), _mm512_ror_epi32(x, 18), _mm512_srli_epi32(x, 3));
}
static inline v16 ssig1(v16 x) {
  return xor3(_mm512_ror_epi32(x, 17), _mm512_ror_epi32(x, 19), _mm512_srli_epi32(x, 10));
}

#if defined(__GNUC__) && !defined(__clang__)
#define EACH _Pragma("GCC unroll 4") for (g = 0; g < G; g++)
#else
#define EACH _Pragma("unroll") for (g = 0; g < G; g++)
#endif
/* Word k (0 = a .. 7 = h) of group g's state entering round i, in a ring of 8 registers. */
#define S(i, k) st[g][((k) - (i)) & 7]
/* The part of round i after t1 is known: new e over d, new a over h. */
#define FINISH(i, t1)                                                      \
  S(i, 3) = add(S(i, 3), t1);                                              \
  S(i, 7) = add(t1, add(bsig0(S(i, 0)), maj(S(i, 0), S(i, 1), S(i, 2))));
/* Round i whose h is still the same for all lanes: `hkw` is h + K[i] + W[i]. */
#define ROUND_H(i, hkw)                                                      \
  EACH {                                                                     \
    v16 t1_ = add(add(hkw, ch(S(i, 4), S(i, 5), S(i, 6))), bsig1(S(i, 4))); \
    FINISH(i, t1_)                                                           \
  }
/* The start of round i from hk = h + K[i] + W[i]: first the next round's hk from g (its h)
 * and `kwn` = K[i+1] + W[i+1], then Ch computed over g, which is dead by then. */
#define T1N(i, hk_i, kwn)                                                  \
  const v16 hkn_ = add(S(i, 6), kwn);                                      \
  v16 t1_ = add(add(hk_i, chg(S(i, 6), S(i, 4), S(i, 5))), bsig1(S(i, 4))); \
  hk[g] = hkn_;
/* Round 16: its h is a per-call constant (hkw), the next one's is not. */
#define ROUND_HN(i, hkw, kwn) \
  EACH {                      \
    T1N(i, hkw, kwn)          \
    FINISH(i, t1_)            \
  }
/* Round i, which also prepares the next round's hk. */
#define ROUND_N(i, kwn) \
  EACH {                \
    T1N(i, hk[g], kwn)  \
    FINISH(i, t1_)      \
  }
/* Round i for the new e only (rounds 57..60: their new a never reaches e after round 60). */
#define ROUND_EN(i, kwn)         \
  EACH {                         \
    T1N(i, hk[g], kwn)           \
    S(i, 3) = add(S(i, 3), t1_); \
  }
/* Round 60, the last: its new e plus mid7 (folded into kK60) is H7. */
#define ROUND_LAST(i)                                                           \
  EACH {                                                                        \
    v16 t1_ = add(add(hk[g], chg(S(i, 6), S(i, 4), S(i, 5))), bsig1(S(i, 4))); \
    S(i, 3) = add(S(i, 3), t1_);                                                \
  }
#define KC(i) bc(tlslp_K[i] + w[i])
#define KV(i) add(W##i[g], kK##i)
#define DECLW(i) v16 W##i[G]; const v16 kK##i = bc(tlslp_K[i]);

/* Two and three interleaved groups are both exported, and the faster is chosen by measuring.
 * On Zen 5, 3 groups are about 9% faster than 2 (195 against 179 M hashes/s on one core; 1
 * group runs at 60% of 3, and 4 groups, at 45 KiB of code, overflow the 32 KiB L1
 * instruction cache and run at half speed). The 3-group loop is near 32 KiB itself: some
 * builds of it ran at full speed or at less than half depending on where the linker put
 * it. The 2-group loop (20 KiB) is not sensitive to that, so it is listed first. */
#define G 2
#define AX_NAME tlslp_scan_avx512x2
#include "avx512_body.h"
#undef G
#undef AX_NAME
#define G 3
#define AX_NAME tlslp_scan_avx512x3
#include "avx512_body.h"
#undef G
#undef AX_NAME

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif
