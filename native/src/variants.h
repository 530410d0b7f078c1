/*
 * The kernel variants this CPU can run, named as the addon and the solver program report them
 * ("sha-ni x6", "avx512 x32", ..., "portable x4"; the number is how many candidates one
 * iteration hashes). Shared by addon.c and solve_main.c so both list the same variants.
 */
#ifndef TLSLP_VARIANTS_H
#define TLSLP_VARIANTS_H

#include "kernel.h"

#define TLSLP_MAX_VARIANTS 8

typedef struct tlslp_variant {
  const char *name;
  tlslp_scan_fn fn;
} tlslp_variant;

/* Fill out[] with the variants `cpu` supports, in listing order (SHA-NI, AVX-512, AVX2,
 * portable; the order is only a listing: callers choose by measurement). Returns how many. */
int tlslp_variants(const tlslp_cpu *cpu, const tlslp_variant *out[TLSLP_MAX_VARIANTS]);

/* The portable variant (always present; TLSLP_NATIVE_SCALAR=1 forces it in the addon). */
extern const tlslp_variant tlslp_portable_variant;

#endif
