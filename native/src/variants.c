/* The variant list of variants.h. */
#include "variants.h"

#define STR_(x) #x
#define STR(x) STR_(x)

const tlslp_variant tlslp_portable_variant = {"portable x" STR(TLSLP_PORTABLE_LANES),
                                              tlslp_scan_portable};
#if TLSLP_X86_VECTOR
static const tlslp_variant avx2_variant = {"avx2 x" STR(TLSLP_AVX2_LANES), tlslp_scan_avx2};
static const tlslp_variant avx512x2_variant = {"avx512 x32", tlslp_scan_avx512x2};
static const tlslp_variant avx512x3_variant = {"avx512 x48", tlslp_scan_avx512x3};
static const tlslp_variant avx512vec_variant = {"avx512-vec x" STR(TLSLP_AVX512_LANES),
                                                tlslp_scan_avx512vec};
#endif
#if TLSLP_X86
static const tlslp_variant shani_variant = {"sha-ni x" STR(TLSLP_SHANI_STREAMS), tlslp_scan_shani};
#endif

int tlslp_variants(const tlslp_cpu *cpu, const tlslp_variant *out[TLSLP_MAX_VARIANTS]) {
  int n = 0;
#if TLSLP_X86
  if (cpu->sha) out[n++] = &shani_variant;
#endif
#if TLSLP_X86_VECTOR
  if (cpu->avx512) {
    out[n++] = &avx512x2_variant;
    out[n++] = &avx512x3_variant;
    out[n++] = &avx512vec_variant;
  }
  if (cpu->avx2) out[n++] = &avx2_variant;
#endif
  (void)cpu;
  out[n++] = &tlslp_portable_variant;
  return n;
}
