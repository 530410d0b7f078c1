/*
 * tlslp-solve <token> <n_bits>: the proof-of-work solver as a program of its own, with the
 * original solver's interface (prints `RESULT:<suffix>` and `Time: <seconds> seconds`).
 *
 * bin/tlslp runs it for `tlslp work <token> <n_bits>` and `tlslp-work <token> <n_bits>`: a
 * Node process alone takes longer to start than a 20-bit solve takes, so a small solve from
 * the command line is only as fast as the original's C++ solver without Node in the way.
 * Anything else (flags, --json, a bad argument) runs the Node CLI, which owns the messages.
 *
 * It gives the very answer the library gives (src/solver/solve.ts): the lowest nonce, with
 * the suffix layout of src/solver/layout.ts, so the two are interchangeable and tested
 * against each other. It uses the addon's kernels: each variant is self-tested against the
 * scalar SHA-256 below and timed on a short scan, and the fastest runs (never a fixed order).
 * Expected work below 2^22 hashes runs on this thread; more runs on one thread per CPU.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kernel.h"
#include "variants.h"

#define MAX_TOKEN 128
#define NONCE_CHARS 11
#define NONCE_OFFSET 44
/* As src/solver/solve.ts: from 2^22 expected hashes the solve is worth more threads. */
#define THREADED_MIN_BITS 22
#define MAX_THREADS 256
#define EXIT_USAGE 2
#define EXIT_INTERRUPTED 130

typedef struct job {
  uint32_t midstate[8];
  uint8_t tail[TLSLP_TAIL_BYTES];
  uint64_t message_length;
  size_t filler;
  int n_bits;
} job;

static const uint32_t IV[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                               0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

/* One SHA-256 compression of `block` into `st` (scalar: the reference the kernels are held to). */
static void compress(uint32_t st[8], const uint8_t block[64]) {
  uint32_t w[64], a, b, c, d, e, f, g, h, t1, t2;
  int i;
  for (i = 0; i < 16; i++) {
    w[i] = (uint32_t)block[4 * i] << 24 | (uint32_t)block[4 * i + 1] << 16 |
           (uint32_t)block[4 * i + 2] << 8 | block[4 * i + 3];
  }
  for (i = 16; i < 64; i++) {
    w[i] = TLSLP_SSIG1(w[i - 2]) + w[i - 7] + TLSLP_SSIG0(w[i - 15]) + w[i - 16];
  }
  a = st[0], b = st[1], c = st[2], d = st[3], e = st[4], f = st[5], g = st[6], h = st[7];
  for (i = 0; i < 64; i++) {
    t1 = h + TLSLP_BSIG1(e) + TLSLP_CH(e, f, g) + tlslp_K[i] + w[i];
    t2 = TLSLP_BSIG0(a) + TLSLP_MAJ(a, b, c);
    h = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
  }
  st[0] += a, st[1] += b, st[2] += c, st[3] += d;
  st[4] += e, st[5] += f, st[6] += g, st[7] += h;
}

/* layout.ts prepareJob: token + filler ends 44 bytes into a block; hash the blocks before it. */
static void prepare_job(job *j, const char *token, size_t length, int n_bits) {
  uint8_t prefix[MAX_TOKEN + 64];
  size_t total, blocks, i;
  j->filler = (size_t)((((long)NONCE_OFFSET - (long)length) % 64 + 64) % 64);
  memcpy(prefix, token, length);
  memset(prefix + length, 'x', j->filler);
  total = length + j->filler;
  blocks = (total - NONCE_OFFSET) / 64;
  memcpy(j->midstate, IV, sizeof IV);
  for (i = 0; i < blocks; i++) compress(j->midstate, prefix + 64 * i);
  memcpy(j->tail, prefix + 64 * blocks, TLSLP_TAIL_BYTES);
  j->message_length = total + NONCE_CHARS;
  j->n_bits = n_bits;
}

/* Nonce character i holds bits 6*(10-i) .. +5 of the 64-bit nonce (layout.ts writeNonce). */
static void nonce_chars(uint64_t nonce, char out[NONCE_CHARS]) {
  int i;
  for (i = 0; i < NONCE_CHARS; i++) {
    out[i] = (char)tlslp_alphabet[(nonce >> (6 * (10 - i))) & 63];
  }
}

/* Trailing zero bits of SHA-256(token + filler + nonce characters), by the scalar code. */
static int zero_bits(const job *j, uint64_t nonce) {
  uint8_t block[64];
  uint32_t st[8];
  uint64_t bits = j->message_length * 8u;
  int i, n = 0;
  memcpy(block, j->tail, TLSLP_TAIL_BYTES);
  nonce_chars(nonce, (char *)block + NONCE_OFFSET);
  block[55] = 0x80;
  for (i = 0; i < 8; i++) block[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
  memcpy(st, j->midstate, sizeof st);
  compress(st, block);
  for (i = 7; i >= 0; i--) {
    if (st[i] != 0) return n + __builtin_ctz(st[i]);
    n += 32;
  }
  return n;
}

static uint32_t mask_for(int n_bits) {
  return n_bits >= 32 ? 0xffffffffu : (1u << n_bits) - 1u;
}

/*
 * Scan `count` nonces from `nonce` (inside one aligned 2^18 window) with `fn`; the first that
 * really has n_bits zero bits (checked by the scalar code: the kernel sees only the last
 * 32 bits), or UINT64_MAX.
 */
static uint64_t scan_range(const job *j, tlslp_scan_fn fn, uint64_t nonce, uint32_t count) {
  const uint32_t mask = mask_for(j->n_bits);
  tlslp_ctx ctx;
  while (count > 0) {
    int32_t found;
    tlslp_prepare(&ctx, j->midstate, j->tail, j->message_length, (uint32_t)(nonce >> 32),
                  (uint32_t)nonce);
    found = fn(&ctx, count, mask);
    if (found < 0) return UINT64_MAX;
    if (zero_bits(j, nonce + (uint32_t)found) >= j->n_bits) return nonce + (uint32_t)found;
    nonce += (uint32_t)found + 1;
    count -= (uint32_t)found + 1;
  }
  return UINT64_MAX;
}

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* As the addon's self-test (src/solver/kernels/native.ts): up to the first 4-bit hit, every
 * candidate agrees with the scalar code. */
static int self_test(tlslp_scan_fn fn) {
  static const char token[] = "tlslp native self-test";
  const uint64_t start = ((uint64_t)0x12345678 << 32) | ((5u << 18) + 4000);
  job j;
  tlslp_ctx ctx;
  int32_t found, i;
  prepare_job(&j, token, sizeof token - 1, 4);
  tlslp_prepare(&ctx, j.midstate, j.tail, j.message_length, (uint32_t)(start >> 32),
                (uint32_t)start);
  found = fn(&ctx, 256, mask_for(4));
  if (found < 0) return 0;
  for (i = 0; i <= found; i++) {
    if ((zero_bits(&j, start + (uint32_t)i) >= 4) != (i == found)) return 0;
  }
  return 1;
}

/* Rate in hashes per millisecond of `fn` on `count` candidates of a job that finds nothing. */
static double time_scan(tlslp_scan_fn fn, const tlslp_ctx *ctx, uint32_t count) {
  double t0 = now_ms(), ms;
  (void)fn(ctx, count, 0xffffffffu);
  ms = now_ms() - t0;
  return ms > 0 ? count / ms : 0;
}

/*
 * The fastest healthy variant, timed on this job. Long solves, as native.ts does, take the
 * best of three slices of about half a millisecond each after a first one. Short ones time
 * each variant once or twice on at most 2048 candidates, and never on more than a sixteenth
 * of the solve's expected work: a wrong pick among near-equals costs less than timing longer.
 */
static const tlslp_variant *choose(const job *j, int long_solve) {
  const tlslp_variant *list[TLSLP_MAX_VARIANTS];
  const tlslp_variant *best = NULL;
  const int rounds = long_solve ? 4 : j->n_bits >= 20 ? 2 : 1;
  const uint32_t first = j->n_bits >= 15 ? 2048 : j->n_bits <= 12 ? 256 : 1u << (j->n_bits - 4);
  double best_rate = -1;
  tlslp_cpu cpu;
  tlslp_ctx ctx;
  int n, i, round;
  tlslp_detect_cpu(&cpu);
  n = tlslp_variants(&cpu, list);
  tlslp_prepare(&ctx, j->midstate, j->tail, j->message_length, 0x7fffffff, 0);
  for (i = 0; i < n; i++) {
    double rate = 0;
    uint32_t count = first;
    if (!self_test(list[i]->fn)) continue;
    for (round = 0; round < rounds; round++) {
      double r = time_scan(list[i]->fn, &ctx, count);
      if (r > rate) rate = r;
      if (long_solve && round == 0) {
        /* Size the next slices to about 0.5 ms at the rate just seen. */
        double c = rate * 0.5;
        count = c < 2048 ? 2048 : c > TLSLP_WINDOW ? TLSLP_WINDOW : (uint32_t)c;
      }
    }
    if (rate > best_rate) best_rate = rate, best = list[i];
  }
  return best;
}

/* The threaded search: windows of 2^18 nonces handed out in order; the lowest hit wins. */
typedef struct search {
  const job *j;
  tlslp_scan_fn fn;
  atomic_uint_fast64_t next_window;
  atomic_uint_fast64_t best; /* lowest solving nonce so far, or UINT64_MAX */
} search;

static volatile sig_atomic_t interrupted = 0;

static void on_signal(int sig) {
  (void)sig;
  interrupted = 1;
}

static void *worker(void *arg) {
  search *s = arg;
  for (;;) {
    uint64_t window = atomic_fetch_add(&s->next_window, 1);
    uint64_t start = window << TLSLP_WINDOW_BITS, found, best;
    /* Every window below a hit is scanned by whoever took it; above it nothing can win. */
    if (interrupted || window >> (64 - TLSLP_WINDOW_BITS) != 0 || start > atomic_load(&s->best))
      return NULL;
    found = scan_range(s->j, s->fn, start, TLSLP_WINDOW);
    if (found == UINT64_MAX) continue;
    best = atomic_load(&s->best);
    while (found < best && !atomic_compare_exchange_weak(&s->best, &best, found)) {
    }
    return NULL;
  }
}

static int cpus(void) {
  cpu_set_t set;
  long n;
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
  n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

static int usage(const char *why) {
  fprintf(stderr, "tlslp-work: %s (usage: tlslp-solve <token> <n_bits>; see tlslp work --help)\n",
          why);
  return EXIT_USAGE;
}

static int valid_token(const char *token, size_t length) {
  size_t i;
  if (length < 1 || length > MAX_TOKEN) return 0;
  for (i = 0; i < length; i++) {
    char ch = token[i];
    if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
          ch == '_' || ch == '-')) {
      return 0;
    }
  }
  return 1;
}

int main(int argc, char **argv) {
  const char *token, *bits_text;
  size_t length;
  char *end;
  long n_bits;
  job j;
  search s;
  pthread_t threads[MAX_THREADS];
  int thread_count, started = 0, i;
  double t0;
  uint64_t answer;
  char nonce[NONCE_CHARS + 1] = {0};
  struct sigaction action;

  if (argc != 3) return usage("expected a token and n_bits");
  token = argv[1];
  bits_text = argv[2];
  length = strlen(token);
  if (!valid_token(token, length)) {
    return usage("token must be 1 to 128 characters of [A-Za-z0-9_-]");
  }
  errno = 0;
  n_bits = strtol(bits_text, &end, 10);
  if (errno != 0 || end == bits_text || *end != '\0' || bits_text[0] == '-' ||
      bits_text[0] == '+' || n_bits < 0 || n_bits > 64) {
    return usage("n_bits must be between 0 and 64");
  }

  memset(&action, 0, sizeof action);
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, NULL);
  sigaction(SIGTERM, &action, NULL);

  t0 = now_ms();
  prepare_job(&j, token, length, (int)n_bits);
  s.j = &j;
  {
    const tlslp_variant *v = choose(&j, n_bits >= THREADED_MIN_BITS);
    if (v == NULL) {
      fprintf(stderr, "tlslp-work: every native kernel failed its self-test\n");
      return 1;
    }
    s.fn = v->fn;
  }
  atomic_init(&s.next_window, 0);
  atomic_init(&s.best, UINT64_MAX);
  thread_count = n_bits >= THREADED_MIN_BITS ? cpus() : 1;
  if (thread_count > MAX_THREADS) thread_count = MAX_THREADS;
  /* Worker threads block the signals, so the handler runs on this thread only. */
  for (i = 1; i < thread_count; i++) {
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    if (pthread_create(&threads[started], NULL, worker, &s) == 0) started++;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
  }
  worker(&s);
  for (i = 0; i < started; i++) pthread_join(threads[i], NULL);

  answer = atomic_load(&s.best);
  /* Interrupted, a hit may not be the lowest (a window below it may have been dropped). */
  if (interrupted) {
    fprintf(stderr, "tlslp-work: interrupted\n");
    return EXIT_INTERRUPTED;
  }
  if (answer == UINT64_MAX) {
    fprintf(stderr, "tlslp-work: no suffix among 2^64 nonces\n");
    return 1;
  }
  nonce_chars(answer, nonce);
  printf("RESULT:%.*s%s\nTime: %.6f seconds\n", (int)j.filler,
         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", nonce,
         (now_ms() - t0) / 1e3);
  return 0;
}
