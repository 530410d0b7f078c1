/*
 * Lane-parallel kernels in portable C. With GCC or Clang the lanes are a vector type, so
 * the compiler emits SIMD (SSE2 on x86-64, NEON on arm64) or, failing that, independent
 * interleaved scalar streams; other compilers get one candidate at a time. On x86 the same
 * body is also compiled for AVX2 and AVX-512, chosen at run time.
 */
#include <string.h>

#include "kernel.h"

#if defined(__GNUC__)
typedef uint32_t tlslp_vec_portable __attribute__((vector_size(4 * TLSLP_PORTABLE_LANES)));
#define PV_VEC tlslp_vec_portable
#else
#define PV_VEC uint32_t
#endif
#define PV_LANES TLSLP_PORTABLE_LANES
#define PV_NAME tlslp_scan_portable
#define PV_ATTR
#include "portable_body.h"
#undef PV_VEC
#undef PV_LANES
#undef PV_NAME
#undef PV_ATTR

#if TLSLP_X86_VECTOR
typedef uint32_t tlslp_vec_avx2 __attribute__((vector_size(4 * TLSLP_AVX2_LANES)));
#define PV_VEC tlslp_vec_avx2
#define PV_LANES TLSLP_AVX2_LANES
#define PV_NAME tlslp_scan_avx2
#define PV_ATTR __attribute__((target("avx2")))
#include "portable_body.h"
#undef PV_VEC
#undef PV_LANES
#undef PV_NAME
#undef PV_ATTR

/* AVX-512 adds 32-bit rotates and three-input logic, and doubles the width. */
typedef uint32_t tlslp_vec_avx512 __attribute__((vector_size(4 * TLSLP_AVX512_LANES)));
#define PV_VEC tlslp_vec_avx512
#define PV_LANES TLSLP_AVX512_LANES
#define PV_NAME tlslp_scan_avx512vec
#define PV_ATTR __attribute__((target("avx512f,avx512vl")))
#include "portable_body.h"
#undef PV_VEC
#undef PV_LANES
#undef PV_NAME
#undef PV_ATTR
#endif
