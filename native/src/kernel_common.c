/* Per-call precomputation and CPU detection shared by the kernels. */
#include <string.h>

#include "kernel.h"

#if TLSLP_X86 && defined(_MSC_VER)
#include <immintrin.h>
#include <intrin.h>
#elif TLSLP_X86
#include <cpuid.h>
#endif

const uint32_t tlslp_K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

/* ALPHABET of src/solver/layout.ts: nonce digit d is the character tlslp_alphabet[d]. */
const uint8_t tlslp_alphabet[64] = {
    'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', 'P',
    'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'a', 'b', 'c', 'd', 'e', 'f',
    'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', 'p', 'q', 'r', 's', 't', 'u', 'v',
    'w', 'x', 'y', 'z', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '-', '_',
};

static uint32_t be32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

void tlslp_prepare(tlslp_ctx *ctx, const uint32_t midstate[8], const uint8_t tail[TLSLP_TAIL_BYTES],
                   uint64_t message_length, uint32_t hi, uint32_t lo) {
  uint32_t *w = ctx->w;
  const uint64_t nonce = ((uint64_t)hi << 32) | lo;
  uint8_t chars[8];
  uint64_t bits = message_length * 8u;
  uint32_t a, b, c, d, e, f, g, h, t1, t2;
  int i;

  for (i = 0; i < 11; i++) w[i] = be32(tail + 4 * i);
  /* Nonce characters 0..7 (character i holds nonce bits 6*(10-i) .. +5). */
  for (i = 0; i < 8; i++) chars[i] = tlslp_alphabet[(nonce >> (6 * (10 - i))) & 63];
  w[11] = be32(chars);
  w[12] = be32(chars + 4);
  w[13] = 0;
  w[14] = (uint32_t)(bits >> 32);
  w[15] = (uint32_t)bits;
  /* Schedule words that do not depend on W13. */
  w[16] = TLSLP_SSIG1(w[14]) + w[9] + TLSLP_SSIG0(w[1]) + w[0];
  w[17] = TLSLP_SSIG1(w[15]) + w[10] + TLSLP_SSIG0(w[2]) + w[1];
  w[18] = TLSLP_SSIG1(w[16]) + w[11] + TLSLP_SSIG0(w[3]) + w[2];
  w[19] = TLSLP_SSIG1(w[17]) + w[12] + TLSLP_SSIG0(w[4]) + w[3];
  w[20] = 0;
  w[21] = TLSLP_SSIG1(w[19]) + w[14] + TLSLP_SSIG0(w[6]) + w[5];
  w[22] = 0;
  w[23] = TLSLP_SSIG1(w[21]) + w[16] + TLSLP_SSIG0(w[8]) + w[7];
  w[24] = 0;
  w[25] = TLSLP_SSIG1(w[23]) + w[18] + TLSLP_SSIG0(w[10]) + w[9];
  /* Constant parts of the words that depend on W13, W20..W41 (the rest are whole terms). */
  memset(ctx->wc, 0, sizeof ctx->wc);
  ctx->wc[20] = TLSLP_SSIG1(w[18]) + TLSLP_SSIG0(w[5]) + w[4];
  ctx->wc[22] = w[15] + TLSLP_SSIG0(w[7]) + w[6];
  ctx->wc[24] = w[17] + TLSLP_SSIG0(w[9]) + w[8];
  ctx->wc[26] = w[19] + TLSLP_SSIG0(w[11]) + w[10];
  ctx->wc[27] = TLSLP_SSIG1(w[25]) + TLSLP_SSIG0(w[12]) + w[11];
  ctx->wc[28] = w[21] + w[12];
  ctx->wc[29] = TLSLP_SSIG0(w[14]);
  ctx->wc[30] = w[23] + TLSLP_SSIG0(w[15]) + w[14];
  ctx->wc[31] = TLSLP_SSIG0(w[16]) + w[15];
  ctx->wc[32] = w[25] + TLSLP_SSIG0(w[17]) + w[16];
  ctx->wc[33] = TLSLP_SSIG0(w[18]) + w[17];
  ctx->wc[34] = TLSLP_SSIG0(w[19]) + w[18];
  ctx->wc[35] = w[19];
  ctx->wc[36] = TLSLP_SSIG0(w[21]);
  ctx->wc[37] = w[21];
  ctx->wc[38] = TLSLP_SSIG0(w[23]);
  ctx->wc[39] = w[23];
  ctx->wc[40] = TLSLP_SSIG0(w[25]);
  ctx->wc[41] = w[25];

  /* Rounds 0..12 are the same for every candidate of the call. */
  a = midstate[0];
  b = midstate[1];
  c = midstate[2];
  d = midstate[3];
  e = midstate[4];
  f = midstate[5];
  g = midstate[6];
  h = midstate[7];
  for (i = 0; i < 13; i++) {
    t1 = h + TLSLP_BSIG1(e) + TLSLP_CH(e, f, g) + tlslp_K[i] + w[i];
    t2 = TLSLP_BSIG0(a) + TLSLP_MAJ(a, b, c);
    h = g;
    g = f;
    f = e;
    e = d + t1;
    d = c;
    c = b;
    b = a;
    a = t1 + t2;
  }
  /* Round 13 without W13: W13 enters t1 additively, so it only adds to the new a and e. */
  t1 = h + TLSLP_BSIG1(e) + TLSLP_CH(e, f, g) + tlslp_K[13];
  t2 = TLSLP_BSIG0(a) + TLSLP_MAJ(a, b, c);
  ctx->s13[0] = t1 + t2;
  ctx->s13[1] = a;
  ctx->s13[2] = b;
  ctx->s13[3] = c;
  ctx->s13[4] = d + t1;
  ctx->s13[5] = e;
  ctx->s13[6] = f;
  ctx->s13[7] = g;
  ctx->mid7 = midstate[7];
  ctx->v0 = lo & (TLSLP_WINDOW - 1);
}

#if TLSLP_X86
/* cpuid leaf `leaf`, subleaf 0, into r[0..3] = eax, ebx, ecx, edx; 0 if the leaf is absent. */
static int cpuid(unsigned leaf, unsigned r[4]) {
#if defined(_MSC_VER)
  int info[4];
  __cpuid(info, 0);
  if ((unsigned)info[0] < leaf) return 0;
  __cpuidex(info, (int)leaf, 0);
  r[0] = (unsigned)info[0];
  r[1] = (unsigned)info[1];
  r[2] = (unsigned)info[2];
  r[3] = (unsigned)info[3];
#else
  if (__get_cpuid_max(0, 0) < leaf) return 0;
  __cpuid_count(leaf, 0, r[0], r[1], r[2], r[3]);
#endif
  return 1;
}

/* XCR0, the register state the OS saves; call only when OSXSAVE is set. */
static uint32_t xcr0(void) {
#if defined(_MSC_VER)
  return (uint32_t)_xgetbv(0);
#else
  uint32_t eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  (void)edx;
  return eax;
#endif
}
#endif

void tlslp_detect_cpu(tlslp_cpu *cpu) {
  cpu->sha = 0;
  cpu->avx2 = 0;
  cpu->avx512 = 0;
#if TLSLP_X86
  {
    unsigned l1[4], l7[4];
    uint32_t xcr;
    if (!cpuid(1, l1) || !cpuid(7, l7)) return;
    /* Leaf 1 ECX: bit 9 SSSE3, bit 19 SSE4.1, bit 27 OSXSAVE, bit 28 AVX. Leaf 7 EBX: bit 5
     * AVX2, bit 16 AVX512F, bit 29 SHA, bit 31 AVX512VL. */
    cpu->sha = (l7[1] >> 29 & 1) && (l1[2] >> 9 & 1) && (l1[2] >> 19 & 1);
    if (!(l1[2] >> 27 & 1) || !(l1[2] >> 28 & 1)) return;
    xcr = xcr0();
    /* XCR0 bits 1, 2: XMM, YMM state; bits 5..7: opmask, ZMM0-15 upper halves, ZMM16-31. */
    cpu->avx2 = (l7[1] >> 5 & 1) && (xcr & 0x06u) == 0x06u;
    cpu->avx512 = cpu->avx2 && (l7[1] >> 16 & 1) && (l7[1] >> 31 & 1) && (xcr & 0xe6u) == 0xe6u;
  }
#endif
}
