/*
 * Shared definitions of the proof-of-work scan kernels.
 *
 * The final SHA-256 block of every candidate (see src/solver/layout.ts):
 *   bytes 0..43  constant tail of token + filler   -> W0..W10
 *   bytes 44..54 the 11 nonce characters           -> W11, W12, high 3 bytes of W13
 *   byte  55     0x80                              -> low byte of W13
 *   bytes 56..63 big-endian message bit length     -> W14, W15
 * One scan call stays inside an aligned 2^18 window, so only the last three nonce
 * characters (W13) change: rounds 0..12 and every schedule word that does not depend on
 * W13 are computed once per call (tlslp_prepare), and round 13 reduces to adding W13 to
 * the a and e words.
 */
#ifndef TLSLP_KERNEL_H
#define TLSLP_KERNEL_H

#include <stdint.h>

#define TLSLP_WINDOW_BITS 18
#define TLSLP_WINDOW (1u << TLSLP_WINDOW_BITS)
#define TLSLP_TAIL_BYTES 44

/* TLSLP_X86: the SHA-NI kernel and CPU detection. TLSLP_X86_VECTOR: the AVX2 and AVX-512
 * builds of the portable kernel, which need GCC/Clang vector extensions. Elsewhere only the
 * portable kernel exists. */
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define TLSLP_X86 1
#define TLSLP_X86_VECTOR 1
#elif defined(_MSC_VER) && !defined(__clang__) && (defined(_M_X64) || defined(_M_IX86))
#define TLSLP_X86 1
#define TLSLP_X86_VECTOR 0
#else
#define TLSLP_X86 0
#define TLSLP_X86_VECTOR 0
#endif

typedef struct tlslp_ctx {
  /* Message words W0..W25; w[13] is 0 (W13 is per candidate, see tlslp_w13), and
   * w[20], w[22], w[24] (which depend on W13) are 0. The others are final. */
  uint32_t w[26];
  /* wc[i], i = 20..41: the part of schedule word Wi that does not depend on W13 (the
   * lane-parallel kernels add the W13-dependent terms; see tlslp_prepare). */
  uint32_t wc[42];
  /* State (a..h) after round 13 without the W13 term, which a and e still need. */
  uint32_t s13[8];
  /* Midstate word 7: H7 = mid7 + (h after round 63) = mid7 + (e after round 60). */
  uint32_t mid7;
  /* Window offset (low 18 nonce bits) of the first candidate. */
  uint32_t v0;
} tlslp_ctx;

/* Scan `count` candidates v0 .. v0+count-1 (count >= 1, v0 + count <= TLSLP_WINDOW);
 * return the offset of the first with (H7 & mask) == 0, or -1. */
typedef int32_t (*tlslp_scan_fn)(const tlslp_ctx *ctx, uint32_t count, uint32_t mask);

extern const uint32_t tlslp_K[64];
extern const uint8_t tlslp_alphabet[64];

#define TLSLP_ROTR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))
#define TLSLP_BSIG0(x) (TLSLP_ROTR(x, 2) ^ TLSLP_ROTR(x, 13) ^ TLSLP_ROTR(x, 22))
#define TLSLP_BSIG1(x) (TLSLP_ROTR(x, 6) ^ TLSLP_ROTR(x, 11) ^ TLSLP_ROTR(x, 25))
#define TLSLP_SSIG0(x) (TLSLP_ROTR(x, 7) ^ TLSLP_ROTR(x, 18) ^ ((x) >> 3))
#define TLSLP_SSIG1(x) (TLSLP_ROTR(x, 17) ^ TLSLP_ROTR(x, 19) ^ ((x) >> 10))
#define TLSLP_CH(e, f, g) ((g) ^ ((e) & ((f) ^ (g))))
#define TLSLP_MAJ(a, b, c) (((a) & (b)) | ((c) & ((a) | (b))))

/* W13 of window candidate v: nonce characters 8, 9, 10 and the 0x80 pad byte. */
static inline uint32_t tlslp_w13(uint32_t v) {
  return ((uint32_t)tlslp_alphabet[(v >> 12) & 63] << 24) |
         ((uint32_t)tlslp_alphabet[(v >> 6) & 63] << 16) |
         ((uint32_t)tlslp_alphabet[v & 63] << 8) | 0x80u;
}

/* Fill ctx for nonces (hi, lo ...) of the job given by midstate, tail and message length. */
void tlslp_prepare(tlslp_ctx *ctx, const uint32_t midstate[8], const uint8_t tail[TLSLP_TAIL_BYTES],
                   uint64_t message_length, uint32_t hi, uint32_t lo);

/* Kernels. */
int32_t tlslp_scan_portable(const tlslp_ctx *ctx, uint32_t count, uint32_t mask);
#if TLSLP_X86_VECTOR
int32_t tlslp_scan_avx2(const tlslp_ctx *ctx, uint32_t count, uint32_t mask);
int32_t tlslp_scan_avx512vec(const tlslp_ctx *ctx, uint32_t count, uint32_t mask);
/* The intrinsics kernel with 2 and 3 interleaved 16-lane groups (32 and 48 lanes in flight). */
int32_t tlslp_scan_avx512x2(const tlslp_ctx *ctx, uint32_t count, uint32_t mask);
int32_t tlslp_scan_avx512x3(const tlslp_ctx *ctx, uint32_t count, uint32_t mask);
#endif
#if TLSLP_X86
int32_t tlslp_scan_shani(const tlslp_ctx *ctx, uint32_t count, uint32_t mask);
#endif

/* Candidates per iteration of each kernel (overridable with -D, for measuring). */
#if !defined(__GNUC__)
#undef TLSLP_PORTABLE_LANES
#define TLSLP_PORTABLE_LANES 1 /* no vector extension: one candidate at a time */
#elif !defined(TLSLP_PORTABLE_LANES)
#define TLSLP_PORTABLE_LANES 4
#endif
#ifndef TLSLP_AVX2_LANES
#define TLSLP_AVX2_LANES 8
#endif
#ifndef TLSLP_AVX512_LANES
#define TLSLP_AVX512_LANES 16 /* the vector-extension build of the portable kernel */
#endif
#ifndef TLSLP_SHANI_STREAMS
#define TLSLP_SHANI_STREAMS 6 /* on Zen 5: 2, 3, 4 streams run at 0.91, 0.94, 0.96 of 6; 7, 8 tie with 6 */
#endif

/* CPU features the x86 kernels need (all 0 elsewhere). */
typedef struct tlslp_cpu {
  int sha;    /* SHA extensions with SSSE3 and SSE4.1 */
  int avx2;   /* AVX2 with OS support for YMM state */
  int avx512; /* AVX-512 F and VL with OS support for ZMM state */
} tlslp_cpu;

void tlslp_detect_cpu(tlslp_cpu *cpu);

#endif
