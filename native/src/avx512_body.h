/*
 * Body of the AVX-512 kernel, included by kernel_avx512.c once per number of interleaved
 * 16-lane groups with G (1..4) and AX_NAME (function name) defined. No include guard: it is
 * meant to be included several times.
 */
#if G < 1 || G > 4
#error "G must be 1..4 (the hit mask has 64 bits)"
#endif

int32_t AX_NAME(const tlslp_ctx *c, uint32_t count, uint32_t mask) {
  const uint32_t *w = c->w;
  const uint32_t *s = c->s13;
  const uint32_t *wc = c->wc;
  const uint32_t v0 = c->v0, end = c->v0 + count;
  const v16 maskv = bc(mask);
  /* Rounds 14..16 see a constant h and d; mid7 joins the last round's constant so that the
   * new e of round 60 is H7 itself. */
  const v16 hkw14 = bc(s[7] + tlslp_K[14] + w[14]);
  const v16 hkw15 = bc(s[6] + tlslp_K[15] + w[15]);
  const v16 hkw16 = bc(s[5] + tlslp_K[16] + w[16]);
  const v16 kK60 = bc(tlslp_K[60] + c->mid7);
  /* For each of the four 16-aligned blocks of a 64-candidate run: the last nonce character
   * (byte 1 of W13) and the 0x80 pad byte of each lane, so that one load and one OR give W13. */
  uint32_t low_w13[4][16] __attribute__((aligned(64)));
  uint32_t base, g;

  for (base = 0; base < 64; base++) {
    low_w13[base >> 4][base & 15] = ((uint32_t)tlslp_alphabet[base] << 8) | 0x80u;
  }

  /* Groups start on 16-aligned candidates, so inside a group only the last nonce character
   * changes; lanes outside [v0, end) are hashed but never reported. */
  for (base = v0 & ~15u; base < end; base += 16 * G) {
    v16 st[G][8], W13[G], hk[G];
    uint64_t hits = 0;
    DECLW(20) DECLW(22) DECLW(24) DECLW(26) DECLW(27) DECLW(28) DECLW(29) DECLW(30)
    DECLW(31) DECLW(32) DECLW(33) DECLW(34) DECLW(35) DECLW(36) DECLW(37) DECLW(38)
    DECLW(39) DECLW(40) DECLW(41) DECLW(42) DECLW(43) DECLW(44) DECLW(45) DECLW(46)
    DECLW(47) DECLW(48) DECLW(49) DECLW(50) DECLW(51) DECLW(52) DECLW(53) DECLW(54)
    DECLW(55) DECLW(56) DECLW(57) DECLW(58) DECLW(59)
    v16 W60[G];

    EACH {
      const uint32_t v = base + 16 * g;
      const uint32_t high = ((uint32_t)tlslp_alphabet[(v >> 12) & 63] << 24) |
                            ((uint32_t)tlslp_alphabet[(v >> 6) & 63] << 16);
      W13[g] = _mm512_or_si512(_mm512_load_si512(low_w13[(v >> 4) & 3]), bc(high));
      /* State after round 13: only a and e depend on W13. */
      S(14, 0) = add(W13[g], bc(s[0]));
      S(14, 1) = bc(s[1]);
      S(14, 2) = bc(s[2]);
      S(14, 3) = bc(s[3]);
      S(14, 4) = add(W13[g], bc(s[4]));
      S(14, 5) = bc(s[5]);
      S(14, 6) = bc(s[6]);
      S(14, 7) = bc(s[7]);
    }
    ROUND_H(14, hkw14)
    ROUND_H(15, hkw15)
    /* Each schedule word is computed a round early: round i adds it to its g, the next
     * round's h, so that g is dead when Ch overwrites it (no register copy). The words
     * that depend on W13 have their constant parts (wc) hoisted per call. */
    ROUND_HN(16, hkw16, KC(17))
    ROUND_N(17, KC(18))
    ROUND_N(18, KC(19))
    EACH W20[g] = add(W13[g], bc(wc[20]));
    ROUND_N(19, KV(20))
    ROUND_N(20, KC(21))
    EACH W22[g] = add(ssig1(W20[g]), bc(wc[22]));
    ROUND_N(21, KV(22))
    ROUND_N(22, KC(23))
    EACH W24[g] = add(ssig1(W22[g]), bc(wc[24]));
    ROUND_N(23, KV(24))
    ROUND_N(24, KC(25))
    EACH W26[g] = add(ssig1(W24[g]), bc(wc[26]));
    ROUND_N(25, KV(26))
    EACH W27[g] = add(W20[g], bc(wc[27]));
    ROUND_N(26, KV(27))
    EACH W28[g] = add(add(ssig1(W26[g]), ssig0(W13[g])), bc(wc[28]));
    ROUND_N(27, KV(28))
    EACH W29[g] = add(add(ssig1(W27[g]), W22[g]), add(W13[g], bc(wc[29])));
    ROUND_N(28, KV(29))
    EACH W30[g] = add(ssig1(W28[g]), bc(wc[30]));
    ROUND_N(29, KV(30))
    EACH W31[g] = add(add(ssig1(W29[g]), W24[g]), bc(wc[31]));
    ROUND_N(30, KV(31))
    EACH W32[g] = add(ssig1(W30[g]), bc(wc[32]));
    ROUND_N(31, KV(32))
    EACH W33[g] = add(add(ssig1(W31[g]), W26[g]), bc(wc[33]));
    ROUND_N(32, KV(33))
    EACH W34[g] = add(add(ssig1(W32[g]), W27[g]), bc(wc[34]));
    ROUND_N(33, KV(34))
    EACH W35[g] = add(add(ssig1(W33[g]), W28[g]), add(ssig0(W20[g]), bc(wc[35])));
    ROUND_N(34, KV(35))
    EACH W36[g] = add(add(ssig1(W34[g]), W29[g]), add(W20[g], bc(wc[36])));
    ROUND_N(35, KV(36))
    EACH W37[g] = add(add(ssig1(W35[g]), W30[g]), add(ssig0(W22[g]), bc(wc[37])));
    ROUND_N(36, KV(37))
    EACH W38[g] = add(add(ssig1(W36[g]), W31[g]), add(W22[g], bc(wc[38])));
    ROUND_N(37, KV(38))
    EACH W39[g] = add(add(ssig1(W37[g]), W32[g]), add(ssig0(W24[g]), bc(wc[39])));
    ROUND_N(38, KV(39))
    EACH W40[g] = add(add(ssig1(W38[g]), W33[g]), add(W24[g], bc(wc[40])));
    ROUND_N(39, KV(40))
    EACH W41[g] = add(add(ssig1(W39[g]), W34[g]), add(ssig0(W26[g]), bc(wc[41])));
    ROUND_N(40, KV(41))
    EACH W42[g] = add(add(ssig1(W40[g]), W35[g]), add(ssig0(W27[g]), W26[g]));
    ROUND_N(41, KV(42))
    EACH W43[g] = add(add(ssig1(W41[g]), W36[g]), add(ssig0(W28[g]), W27[g]));
    ROUND_N(42, KV(43))
    EACH W44[g] = add(add(ssig1(W42[g]), W37[g]), add(ssig0(W29[g]), W28[g]));
    ROUND_N(43, KV(44))
    EACH W45[g] = add(add(ssig1(W43[g]), W38[g]), add(ssig0(W30[g]), W29[g]));
    ROUND_N(44, KV(45))
    EACH W46[g] = add(add(ssig1(W44[g]), W39[g]), add(ssig0(W31[g]), W30[g]));
    ROUND_N(45, KV(46))
    EACH W47[g] = add(add(ssig1(W45[g]), W40[g]), add(ssig0(W32[g]), W31[g]));
    ROUND_N(46, KV(47))
    EACH W48[g] = add(add(ssig1(W46[g]), W41[g]), add(ssig0(W33[g]), W32[g]));
    ROUND_N(47, KV(48))
    EACH W49[g] = add(add(ssig1(W47[g]), W42[g]), add(ssig0(W34[g]), W33[g]));
    ROUND_N(48, KV(49))
    EACH W50[g] = add(add(ssig1(W48[g]), W43[g]), add(ssig0(W35[g]), W34[g]));
    ROUND_N(49, KV(50))
    EACH W51[g] = add(add(ssig1(W49[g]), W44[g]), add(ssig0(W36[g]), W35[g]));
    ROUND_N(50, KV(51))
    EACH W52[g] = add(add(ssig1(W50[g]), W45[g]), add(ssig0(W37[g]), W36[g]));
    ROUND_N(51, KV(52))
    EACH W53[g] = add(add(ssig1(W51[g]), W46[g]), add(ssig0(W38[g]), W37[g]));
    ROUND_N(52, KV(53))
    EACH W54[g] = add(add(ssig1(W52[g]), W47[g]), add(ssig0(W39[g]), W38[g]));
    ROUND_N(53, KV(54))
    EACH W55[g] = add(add(ssig1(W53[g]), W48[g]), add(ssig0(W40[g]), W39[g]));
    ROUND_N(54, KV(55))
    EACH W56[g] = add(add(ssig1(W54[g]), W49[g]), add(ssig0(W41[g]), W40[g]));
    ROUND_N(55, KV(56))
    EACH W57[g] = add(add(ssig1(W55[g]), W50[g]), add(ssig0(W42[g]), W41[g]));
    ROUND_N(56, KV(57))
    EACH W58[g] = add(add(ssig1(W56[g]), W51[g]), add(ssig0(W43[g]), W42[g]));
    ROUND_EN(57, KV(58))
    EACH W59[g] = add(add(ssig1(W57[g]), W52[g]), add(ssig0(W44[g]), W43[g]));
    ROUND_EN(58, KV(59))
    EACH W60[g] = add(add(ssig1(W58[g]), W53[g]), add(ssig0(W45[g]), W44[g]));
    ROUND_EN(59, KV(60))
    ROUND_LAST(60)

    /* The new e of round 60 plus mid7 (folded into kK60) is H7. */
    EACH hits |= (uint64_t)_mm512_testn_epi32_mask(S(61, 4), maskv) << (16 * g);
    if (hits != 0) {
      /* Keep only lanes inside [v0, end); the lowest one left is the first hit in order. */
      const uint32_t lo = base < v0 ? v0 - base : 0;
      const uint32_t hi = end - base < 16 * G ? end - base : 16 * G;
      const uint64_t valid = (hi - lo >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << (hi - lo)) - 1) << lo;
      hits &= valid;
      if (hits != 0) return (int32_t)(base + (uint32_t)__builtin_ctzll(hits) - v0);
    }
  }
  return -1;
}
