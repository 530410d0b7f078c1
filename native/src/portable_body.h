/*
 * Body of a lane-parallel kernel, included by kernel_portable.c once per instantiation with
 * PV_NAME (function name), PV_VEC (lane vector type: a GCC/Clang vector of uint32_t, or
 * plain uint32_t), PV_LANES (lanes in PV_VEC) and PV_ATTR (function attributes) defined.
 * Each lane hashes one candidate; all lanes share the per-call constants of tlslp_ctx.
 * No include guard: it is meant to be included several times.
 */

/* Word k (0 = a .. 7 = h) of the state entering round i, in a ring of 8 registers. */
#define PV_S(i, k) st[((k) - (i)) & 7]
/* One SHA-256 round; `kw` is K[i] + W[i]. Writes the new e over d and the new a over h. */
#define PV_R(i, kw)                                                                        \
  do {                                                                                     \
    vw t1_ = PV_S(i, 7) + TLSLP_BSIG1(PV_S(i, 4)) + TLSLP_CH(PV_S(i, 4), PV_S(i, 5), PV_S(i, 6)) + \
             (kw);                                                                         \
    vw t2_ = TLSLP_BSIG0(PV_S(i, 0)) + TLSLP_MAJ(PV_S(i, 0), PV_S(i, 1), PV_S(i, 2));      \
    PV_S(i, 3) += t1_;                                                                     \
    PV_S(i, 7) = t1_ + t2_;                                                                \
  } while (0)
/* Round i with a lane-varying schedule word W<i>. */
#define PV_RV(i) PV_R(i, W##i + K[i])
/* Round i with a constant schedule word. */
#define PV_RC(i) PV_R(i, K[i] + w[i])
/* Generic schedule word i and its round. */
#define PV_WR(i, m2, m7, m15, m16)                                                         \
  vw W##i = TLSLP_SSIG1(W##m2) + W##m7 + TLSLP_SSIG0(W##m15) + W##m16;                      \
  PV_RV(i)

PV_ATTR int32_t PV_NAME(const tlslp_ctx *c, uint32_t count, uint32_t mask) {
  typedef PV_VEC vw;
  const uint32_t *w = c->w;
  const uint32_t *K = tlslp_K;
  const vw zero = {0};
  const uint32_t last = count - 1;
  uint32_t i;

  for (i = 0; i < count; i += PV_LANES) {
    uint32_t lane[PV_LANES];
    vw st[8], W13, hv;
    unsigned l;

    /* Lanes past the end repeat the last candidate; their results are ignored. */
    for (l = 0; l < PV_LANES; l++) lane[l] = tlslp_w13(c->v0 + (i + l <= last ? i + l : last));
    memcpy(&W13, lane, sizeof W13);

    /* State after round 13: only a and e depend on W13. */
    PV_S(14, 0) = W13 + c->s13[0];
    PV_S(14, 1) = zero + c->s13[1];
    PV_S(14, 2) = zero + c->s13[2];
    PV_S(14, 3) = zero + c->s13[3];
    PV_S(14, 4) = W13 + c->s13[4];
    PV_S(14, 5) = zero + c->s13[5];
    PV_S(14, 6) = zero + c->s13[6];
    PV_S(14, 7) = zero + c->s13[7];

    PV_RC(14);
    PV_RC(15);
    PV_RC(16);
    PV_RC(17);
    PV_RC(18);
    PV_RC(19);
    vw W20 = W13 + c->wc[20];
    PV_RV(20);
    PV_RC(21);
    vw W22 = TLSLP_SSIG1(W20) + c->wc[22];
    PV_RV(22);
    PV_RC(23);
    vw W24 = TLSLP_SSIG1(W22) + c->wc[24];
    PV_RV(24);
    PV_RC(25);
    vw W26 = TLSLP_SSIG1(W24) + c->wc[26];
    PV_RV(26);
    vw W27 = W20 + c->wc[27];
    PV_RV(27);
    vw W28 = TLSLP_SSIG1(W26) + TLSLP_SSIG0(W13) + c->wc[28];
    PV_RV(28);
    vw W29 = TLSLP_SSIG1(W27) + W22 + W13 + c->wc[29];
    PV_RV(29);
    vw W30 = TLSLP_SSIG1(W28) + c->wc[30];
    PV_RV(30);
    vw W31 = TLSLP_SSIG1(W29) + W24 + c->wc[31];
    PV_RV(31);
    vw W32 = TLSLP_SSIG1(W30) + c->wc[32];
    PV_RV(32);
    vw W33 = TLSLP_SSIG1(W31) + W26 + c->wc[33];
    PV_RV(33);
    vw W34 = TLSLP_SSIG1(W32) + W27 + c->wc[34];
    PV_RV(34);
    vw W35 = TLSLP_SSIG1(W33) + W28 + TLSLP_SSIG0(W20) + c->wc[35];
    PV_RV(35);
    vw W36 = TLSLP_SSIG1(W34) + W29 + W20 + c->wc[36];
    PV_RV(36);
    vw W37 = TLSLP_SSIG1(W35) + W30 + TLSLP_SSIG0(W22) + c->wc[37];
    PV_RV(37);
    vw W38 = TLSLP_SSIG1(W36) + W31 + W22 + c->wc[38];
    PV_RV(38);
    vw W39 = TLSLP_SSIG1(W37) + W32 + TLSLP_SSIG0(W24) + c->wc[39];
    PV_RV(39);
    vw W40 = TLSLP_SSIG1(W38) + W33 + W24 + c->wc[40];
    PV_RV(40);
    vw W41 = TLSLP_SSIG1(W39) + W34 + TLSLP_SSIG0(W26) + c->wc[41];
    PV_RV(41);
    PV_WR(42, 40, 35, 27, 26);
    PV_WR(43, 41, 36, 28, 27);
    PV_WR(44, 42, 37, 29, 28);
    PV_WR(45, 43, 38, 30, 29);
    PV_WR(46, 44, 39, 31, 30);
    PV_WR(47, 45, 40, 32, 31);
    PV_WR(48, 46, 41, 33, 32);
    PV_WR(49, 47, 42, 34, 33);
    PV_WR(50, 48, 43, 35, 34);
    PV_WR(51, 49, 44, 36, 35);
    PV_WR(52, 50, 45, 37, 36);
    PV_WR(53, 51, 46, 38, 37);
    PV_WR(54, 52, 47, 39, 38);
    PV_WR(55, 53, 48, 40, 39);
    PV_WR(56, 54, 49, 41, 40);
    PV_WR(57, 55, 50, 42, 41);
    PV_WR(58, 56, 51, 43, 42);
    PV_WR(59, 57, 52, 44, 43);
    /* h after round 63 is e after round 60: rounds 61..63 (and the dead parts of rounds
     * 57..60) are never computed. */
    PV_WR(60, 58, 53, 45, 44);

    hv = (PV_S(61, 4) + c->mid7) & mask;
    memcpy(lane, &hv, sizeof hv);
    for (l = 0; l < PV_LANES && i + l < count; l++) {
      if (lane[l] == 0) return (int32_t)(i + l);
    }
  }
  return -1;
}

#undef PV_S
#undef PV_R
#undef PV_RV
#undef PV_RC
#undef PV_WR
