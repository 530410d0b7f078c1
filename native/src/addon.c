/*
 * Node-API entry points of the tlslp proof-of-work kernel.
 *
 * exports.scan(midstate, tail, messageLength, nBits, hi, lo, count) -> offset | -1
 *   midstate: Uint32Array(8), tail: Uint8Array(44), messageLength: 55 + 64k,
 *   nBits: 0..256, hi/lo: uint32 halves of the first nonce, count: 0..2^18 within the
 *   aligned 2^18 window of lo. Returns the offset of the first candidate whose last digest
 *   word satisfies (H7 & mask) == 0, mask = nBits >= 32 ? 0xffffffff : 2^nBits - 1.
 * exports.detail: which kernel scan uses: "sha-ni x6", "avx512 x32", "avx512 x48", "avx512-vec x16",
 *   "avx2 x8" or "portable x4" (the number is how many candidates one iteration hashes).
 * exports.variants: { [detail]: scan } for every kernel this CPU can run (tests, benchmarks).
 *
 * exports.detail/scan is a static pick by CPU detection (the first listed below);
 * TLSLP_NATIVE_SCALAR=1 forces the portable one. The TypeScript side (src/solver/kernels/
 * native.ts) does not use it: it times every variant at load and uses the fastest.
 * Bad arguments throw TypeError / RangeError; nothing here allocates per call.
 */
#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#include <node_api.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel.h"
#include "variants.h"


/* Throw a JS error of the given kind; always returns NULL (the value a callback returns). */
static napi_value throw_error(napi_env env, int range, const char *fmt, const char *arg) {
  char message[160];
  snprintf(message, sizeof message, fmt, arg);
  if (range) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", message);
  } else {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
  }
  return NULL;
}

/* Read an integer-valued number in [min, max]; on failure throw and return 0. */
static int get_integer(napi_env env, napi_value value, const char *name, double min, double max,
                       double *out) {
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_number ||
      napi_get_value_double(env, value, out) != napi_ok) {
    throw_error(env, 0, "scan: %s must be a number", name);
    return 0;
  }
  if (!(*out >= min && *out <= max && floor(*out) == *out)) {
    throw_error(env, 1, "scan: %s is out of range or not an integer", name);
    return 0;
  }
  return 1;
}

/* Data pointer of a typed array of one of two types and a given length, or NULL after throwing. */
static const void *get_array(napi_env env, napi_value value, const char *name, napi_typedarray_type t1,
                             napi_typedarray_type t2, size_t length, const char *what) {
  bool is_typed;
  napi_typedarray_type type;
  size_t actual;
  void *data = NULL;
  if (napi_is_typedarray(env, value, &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, value, &type, &actual, &data, NULL, NULL) != napi_ok ||
      (type != t1 && type != t2) || actual != length || data == NULL) {
    throw_error(env, 0, what, name);
    return NULL;
  }
  return data;
}

static napi_value scan(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  void *data;
  const tlslp_variant *v;
  const void *mid_data, *tail_data;
  uint32_t midstate[8];
  double message_length, n_bits, hi, lo, count;
  uint32_t mask, offset_in_window;
  tlslp_ctx ctx;
  int32_t found = -1;
  napi_value result;

  if (napi_get_cb_info(env, info, &argc, argv, NULL, &data) != napi_ok) return NULL;
  v = (const tlslp_variant *)data;
  if (argc < 7) {
    return throw_error(env, 0, "scan: expected 7 arguments (%s)",
                       "midstate, tail, messageLength, nBits, hi, lo, count");
  }
  mid_data = get_array(env, argv[0], "midstate", napi_uint32_array, napi_uint32_array, 8,
                       "scan: %s must be a Uint32Array of length 8");
  if (mid_data == NULL) return NULL;
  tail_data = get_array(env, argv[1], "tail", napi_uint8_array, napi_uint8_clamped_array,
                        TLSLP_TAIL_BYTES, "scan: %s must be a Uint8Array of length 44");
  if (tail_data == NULL) return NULL;
  if (!get_integer(env, argv[2], "messageLength", 55, 9007199254740991.0, &message_length) ||
      !get_integer(env, argv[3], "nBits", 0, 256, &n_bits) ||
      !get_integer(env, argv[4], "hi", 0, 4294967295.0, &hi) ||
      !get_integer(env, argv[5], "lo", 0, 4294967295.0, &lo) ||
      !get_integer(env, argv[6], "count", 0, TLSLP_WINDOW, &count)) {
    return NULL;
  }
  /* The nonce must end exactly one final block: 44 tail bytes + 11 nonce bytes. */
  if (fmod(message_length - 55, 64) != 0) {
    return throw_error(env, 1, "scan: %s must be 55 + a multiple of 64", "messageLength");
  }
  offset_in_window = (uint32_t)lo & (TLSLP_WINDOW - 1);
  if (offset_in_window + (uint32_t)count > TLSLP_WINDOW) {
    return throw_error(env, 1, "scan: %s crosses an aligned 2^18 window", "lo + count");
  }

  if (count > 0) {
    memcpy(midstate, mid_data, sizeof midstate);
    mask = n_bits >= 32 ? 0xffffffffu : (1u << (uint32_t)n_bits) - 1u;
    tlslp_prepare(&ctx, midstate, (const uint8_t *)tail_data, (uint64_t)message_length,
                  (uint32_t)hi, (uint32_t)lo);
    found = v->fn(&ctx, (uint32_t)count, mask);
  }
  if (napi_create_int32(env, found, &result) != napi_ok) return NULL;
  return result;
}

static napi_value make_scan(napi_env env, const tlslp_variant *v) {
  napi_value fn;
  if (napi_create_function(env, "scan", NAPI_AUTO_LENGTH, scan, (void *)v, &fn) != napi_ok) {
    return NULL;
  }
  return fn;
}

NAPI_MODULE_INIT() {
  tlslp_cpu cpu;
  const tlslp_variant *list[TLSLP_MAX_VARIANTS];
  const tlslp_variant *best;
  const char *forced = getenv("TLSLP_NATIVE_SCALAR");
  napi_value variants, fn, detail;
  int n, i;

  tlslp_detect_cpu(&cpu);
  n = tlslp_variants(&cpu, list);
  if (napi_create_object(env, &variants) != napi_ok) return NULL;
  /* The first listed (SHA-NI where there is one) is the static pick; the TypeScript side
   * measures the variants at load time and uses the fastest instead. */
  for (i = 0; i < n; i++) {
    if ((fn = make_scan(env, list[i])) == NULL ||
        napi_set_named_property(env, variants, list[i]->name, fn) != napi_ok) {
      return NULL;
    }
  }
  best = forced != NULL && strcmp(forced, "1") == 0 ? &tlslp_portable_variant : list[0];

  if ((fn = make_scan(env, best)) == NULL ||
      napi_create_string_utf8(env, best->name, NAPI_AUTO_LENGTH, &detail) != napi_ok ||
      napi_set_named_property(env, exports, "scan", fn) != napi_ok ||
      napi_set_named_property(env, exports, "detail", detail) != napi_ok ||
      napi_set_named_property(env, exports, "variants", variants) != napi_ok) {
    return NULL;
  }
  return exports;
}
