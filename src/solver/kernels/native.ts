/**
 * The native kernel: a Node-API addon (native/src) with several variants (x86 SHA extensions,
 * AVX-512, AVX2, portable C; whichever this CPU runs). The package ships it prebuilt in
 * prebuilds/<platform>-<arch>/; elsewhere the install script builds it from source
 * (scripts/build-native.mjs). See {@link findNativeAddon}.
 *
 * Which variant is fastest depends on the CPU generation (SHA-NI wins on Zen 1, AVX-512 on
 * Zen 5), so the first load in a process times each variant on a short real scan and keeps the
 * fastest. Worker threads inherit that choice (see {@link NATIVE_CHOICE_KEY}) instead of
 * measuring again.
 * @module
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getEnvironmentData, setEnvironmentData } from 'node:worker_threads';
import { hitMask, prepareJob, SCAN_WINDOW, suffixFor, type PreparedJob } from '../layout.js';
import type { Kernel } from '../types.js';

/** The addon's scan: see native/src/addon.c. */
type AddonScan = (
  midstate: Uint32Array,
  tail: Uint8Array,
  messageLength: number,
  nBits: number,
  hi: number,
  lo: number,
  count: number,
) => number;

interface Addon {
  scan: AddonScan;
  /** The addon's own static pick, e.g. `sha-ni x6` (not used: we measure instead). */
  detail: string;
  /** Every variant this CPU can run, by detail. */
  variants: Record<string, AddonScan>;
}

/** Result of {@link loadNativeKernel} and {@link nativeKernelVariant}. */
export type NativeLoadResult = { kernel: Kernel } | { kernel: null; reason: string };

/**
 * Key of the worker_threads environment data under which the thread that measured the
 * variants publishes its choice (`{ detail, rates }`). Every Worker started afterwards gets a
 * copy automatically, so pool workers reuse it without measuring; child processes do not.
 */
export const NATIVE_CHOICE_KEY = 'tlslp:native-variant';

/** The variant chosen for this process, and the rates it was chosen by. */
interface NativeChoice {
  detail: string;
  rates: Record<string, number>;
}

// Same relative path from src/solver/kernels/ and dist/solver/kernels/.
const PACKAGE_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

const requireCjs = createRequire(import.meta.url);

let loaded: { addon: Addon } | { addon: null; reason: string } | undefined;
let measured: NativeChoice | undefined;
/** Self-tested kernels by detail (a failed self-test is remembered as null). */
const checked = new Map<string, Kernel | null>();

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n', 1)[0] ?? message;
}

function isAddon(value: unknown): value is Addon {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<Record<keyof Addon, unknown>>;
  return (
    typeof v.scan === 'function' &&
    typeof v.detail === 'string' &&
    typeof v.variants === 'object' &&
    v.variants !== null
  );
}

/** node-gyp-build's path finder: `dir`/build/Release first, then `dir`/prebuilds/. */
type FindAddon = (dir: string) => string;

/**
 * Where the addon file is, or why there is none: a local source build
 * (native/build/Release, made by the install script when no prebuild loaded, or by a developer
 * after changing the C sources), else the prebuild shipped for this platform
 * (prebuilds/<platform>-<arch>/ at the package root). node-gyp-build matches the platform,
 * arch and libc tags. `root` is the package root (a test passes another).
 */
export function findNativeAddon(
  root: string = PACKAGE_ROOT,
): { path: string } | { reason: string } {
  let find: FindAddon;
  try {
    find = (requireCjs('node-gyp-build') as { path: FindAddon }).path;
  } catch (error) {
    return { reason: `native addon not loaded (node-gyp-build: ${firstLine(error)})` };
  }
  try {
    return { path: find(join(root, 'native')) };
  } catch {
    // No local build: the prebuild (the usual case for an installed package).
  }
  try {
    return { path: find(root) };
  } catch (error) {
    return {
      reason: `native addon not found: neither native/build/Release nor a prebuild (${firstLine(error)})`,
    };
  }
}

function loadAddon(): { addon: Addon } | { addon: null; reason: string } {
  if (loaded) return loaded;
  const found = findNativeAddon();
  if ('reason' in found) {
    loaded = { addon: null, reason: found.reason };
    return loaded;
  }
  try {
    const required: unknown = requireCjs(found.path);
    loaded = isAddon(required)
      ? { addon: required }
      : { addon: null, reason: 'native addon has an unexpected shape' };
  } catch (error) {
    loaded = { addon: null, reason: `native addon not loaded (${firstLine(error)})` };
  }
  return loaded;
}

/** The job's arrays as the typed arrays the addon wants (jobs may arrive as cloned data). */
interface JobArrays {
  midstate: Uint32Array;
  tail: Uint8Array;
}
const jobArrays = new WeakMap<PreparedJob, JobArrays>();

function arraysOf(job: PreparedJob): JobArrays {
  let arrays = jobArrays.get(job);
  if (!arrays) {
    const { midstate, tail } = job;
    arrays = {
      midstate: midstate instanceof Uint32Array ? midstate : Uint32Array.from(midstate),
      tail: tail instanceof Uint8Array ? tail : Uint8Array.from(tail),
    };
    jobArrays.set(job, arrays);
  }
  return arrays;
}

function makeKernel(detail: string, scanFn: AddonScan, rates?: Record<string, number>): Kernel {
  return {
    name: 'native',
    detail,
    ...(rates ? { rates } : {}),
    scan(job: PreparedJob, hi: number, lo: number, count: number): number {
      const { midstate, tail } = arraysOf(job);
      // Only min(nBits, 32) matters to the hot loop (hitMask); callers re-check the rest.
      const nBits = job.nBits > 32 ? 32 : job.nBits;
      return scanFn(midstate, tail, job.messageLength, nBits, hi, lo, count);
    },
  };
}

/**
 * Check a kernel against node:crypto on a few candidates, so a miscompiled addon is never
 * trusted: scan until the first 4-bit hit and verify it and every miss before it.
 */
function selfTest(kernel: Kernel): boolean {
  const job = prepareJob('tlslp native self-test', 4);
  const mask = hitMask(job.nBits);
  const hi = 0x12345678;
  const lo = (5 << 18) + 4000;
  const found = kernel.scan(job, hi, lo, 256);
  if (found < 0) return false;
  for (let i = 0; i <= found; i++) {
    const digest = createHash('sha256')
      .update(job.token + suffixFor(job, hi, lo + i))
      .digest();
    const hit = (digest.readUInt32BE(28) & mask) === 0;
    if (hit !== (i === found)) return false;
  }
  return true;
}

/** Whether the variant `detail` passes its self-test (checked once per process). */
function passes(detail: string, scanFn: AddonScan): boolean {
  let kernel = checked.get(detail);
  if (kernel === undefined) {
    const candidate = makeKernel(detail, scanFn);
    kernel = selfTest(candidate) ? candidate : null;
    checked.set(detail, kernel);
  }
  return kernel !== null;
}

/**
 * How the variants are timed: each scans slices of about `sliceMs` (sized by a first short
 * scan that also warms it up), `rounds` times in turn so that a burst of load elsewhere on
 * the machine does not land on one variant only, and the best slice counts (interference only
 * ever slows a slice down). After the first round only the variants within `contenders` of the
 * leader go on (the others cannot win); all of it stops after `budgetMs` once every variant has
 * one slice. About 10 ms of CPU with the six variants of an AVX-512 and SHA-NI CPU (most of it
 * the first round; the self-tests take 3 more), once per process.
 */
const TIMING = {
  firstCount: 2048,
  minFirstMs: 0.25,
  sliceMs: 0.5,
  rounds: 3,
  contenders: 0.8,
  budgetMs: 20,
};

/** A realistic job: a 64-character token, as servers send; n_bits 32 so scans run to the end. */
const TIMING_TOKEN = 'tlslpNativeVariantTiming0123456789abcdefghijklmnopqrstuvwxyzABCD';

/** Run one timed scan of `count` nonces; returns [hashes, milliseconds]. */
function timeScan(
  scanFn: AddonScan,
  job: PreparedJob,
  arrays: JobArrays,
  hi: number,
  count: number,
): [number, number] {
  const t0 = performance.now();
  // lo = 0: the slice lies in one aligned window (count ≤ SCAN_WINDOW).
  const found = scanFn(arrays.midstate, arrays.tail, job.messageLength, 32, hi, 0, count);
  const ms = performance.now() - t0;
  // A 32-bit hit (one in 2^32) ends the scan early: count what was hashed.
  return [found < 0 ? count : found + 1, ms];
}

/**
 * Time every variant on a real scan and return its rate in M hashes/s on this thread, rounded
 * to 0.1.
 */
function measureRates(
  variants: ReadonlyArray<readonly [string, AddonScan]>,
): Record<string, number> {
  const job = prepareJob(TIMING_TOKEN, 32);
  const arrays = arraysOf(job);
  const started = performance.now();
  const best = new Map<string, number>();
  const record = (detail: string, [hashes, ms]: [number, number]): void => {
    const rate = ms > 0 ? hashes / ms / 1000 : 0;
    if (rate > (best.get(detail) ?? -1)) best.set(detail, rate);
  };
  // Size each variant's slice from a first scan long enough to time (this also warms it up).
  const slices = variants.map(([detail, scanFn]) => {
    let count = TIMING.firstCount;
    let timed = timeScan(scanFn, job, arrays, 1, count);
    while (timed[1] < TIMING.minFirstMs && count < SCAN_WINDOW) {
      count = Math.min(SCAN_WINDOW, count * 4);
      timed = timeScan(scanFn, job, arrays, 1, count);
    }
    record(detail, timed);
    const perMs = timed[0] / Math.max(timed[1], 1e-3);
    const slice = Math.round(
      Math.min(SCAN_WINDOW, Math.max(TIMING.firstCount, perMs * TIMING.sliceMs)),
    );
    return [detail, scanFn, slice] as const;
  });
  let running = slices;
  for (let round = 0; round < TIMING.rounds; round++) {
    if (round > 0) {
      if (performance.now() - started > TIMING.budgetMs) break;
      const leader = Math.max(...best.values());
      running = running.filter(([detail]) => (best.get(detail) ?? 0) >= leader * TIMING.contenders);
    }
    for (const [detail, scanFn, slice] of running) {
      record(detail, timeScan(scanFn, job, arrays, 2 + round, slice));
    }
  }
  return Object.fromEntries(
    variants.map(([detail]) => [detail, Math.round((best.get(detail) ?? 0) * 10) / 10]),
  );
}

/** The fastest variant by `rates` (the first listed on a tie). */
function fastest(rates: Readonly<Record<string, number>>): string | undefined {
  let winner: string | undefined;
  for (const [detail, rate] of Object.entries(rates)) {
    if (winner === undefined || rate > (rates[winner] ?? 0)) winner = detail;
  }
  return winner;
}

function isChoice(value: unknown, addon: Addon): value is NativeChoice {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<Record<keyof NativeChoice, unknown>>;
  return (
    typeof v.detail === 'string' &&
    Object.hasOwn(addon.variants, v.detail) &&
    typeof v.rates === 'object' &&
    v.rates !== null
  );
}

/**
 * The variant this process uses: the one a parent thread chose (environment data), else
 * measured here once and published for the workers this thread starts later.
 */
function chooseVariant(addon: Addon): NativeChoice | null {
  if (measured) return measured;
  const inherited: unknown = getEnvironmentData(NATIVE_CHOICE_KEY);
  if (isChoice(inherited, addon)) {
    measured = inherited;
    return measured;
  }
  return measureChoice(addon);
}

/** Time every variant that passes its self-test, keep the fastest and publish it to workers. */
function measureChoice(addon: Addon): NativeChoice | null {
  const healthy = Object.entries(addon.variants).filter(([detail, fn]) => passes(detail, fn));
  if (healthy.length === 0) return null;
  const rates = measureRates(healthy);
  const detail = fastest(rates) as string;
  measured = { detail, rates };
  setEnvironmentData(NATIVE_CHOICE_KEY, measured);
  return measured;
}

/** The variant the environment forces (`TLSLP_NATIVE_VARIANT`, `TLSLP_NATIVE_SCALAR=1`), if any. */
function forcedByEnvironment(addon: Addon): string | undefined {
  const wanted =
    process.env.TLSLP_NATIVE_SCALAR === '1' ? 'portable' : process.env.TLSLP_NATIVE_VARIANT;
  return wanted ? matchVariant(addon, wanted) : undefined;
}

/**
 * Measure the variants again and choose anew: the fastest one can change while a process
 * runs (on a shared host, a busy neighbour on the same core slows the larger AVX-512 loop
 * to half speed and the smaller one much less). Null when the kernel is forced by the
 * environment or not loaded; else the kernel of the variant that wins now, with its rates.
 * About 10 ms on this thread; worker threads get the choice through each task.
 */
export function remeasureNativeKernel(): Kernel | null {
  const { addon } = loadAddon();
  if (!addon || forcedByEnvironment(addon) !== undefined) return null;
  const choice = measureChoice(addon);
  return choice ? kernelFor(addon, choice.detail, choice.rates).kernel : null;
}

/**
 * The variant whose detail is `wanted`, else one of the family it names (`avx512` → `avx512 x32`
 * or `avx512 x48`, not `avx512-vec x16`), else one it is a prefix of (`avx` → any of the AVX
 * ones); the fastest measured one when several match. Undefined when none does.
 */
function matchVariant(addon: Addon, wanted: string): string | undefined {
  if (Object.hasOwn(addon.variants, wanted)) return wanted;
  const details = Object.keys(addon.variants);
  const family = details.filter((detail) => detail.split(' ', 1)[0] === wanted.trimEnd());
  const matches = family.length > 0 ? family : details.filter((d) => d.startsWith(wanted));
  if (matches.length <= 1) return matches[0];
  const rates = measured?.rates;
  return rates ? fastest(Object.fromEntries(matches.map((d) => [d, rates[d] ?? 0]))) : matches[0];
}

/** The self-tested kernel for `detail` (with `rates` when it is the measured choice). */
function kernelFor(addon: Addon, detail: string, rates?: Record<string, number>): NativeLoadResult {
  const scanFn = addon.variants[detail] as AddonScan;
  if (!passes(detail, scanFn)) {
    return { kernel: null, reason: `native kernel (${detail}) failed its self-test` };
  }
  return { kernel: rates ? makeKernel(detail, scanFn, rates) : (checked.get(detail) as Kernel) };
}

/**
 * Every variant of the native kernel this CPU can run (e.g. `sha-ni x6`, `avx512 x32`,
 * `avx512 x48`, `avx512-vec x16`, `avx2 x8`, `portable x4`), for tests and benchmarks; empty when
 * the addon is not available.
 */
export function nativeKernelVariants(): Kernel[] {
  const result = loadAddon();
  if (!result.addon) return [];
  return Object.entries(result.addon.variants).map(([detail, fn]) => makeKernel(detail, fn));
}

/**
 * One variant, forced: `wanted` is its detail, its family (`avx512`: the faster of `avx512 x32`
 * and `avx512 x48`) or a prefix of it (`sha-ni`, `portable`). Its `rates` are absent (nothing was chosen by them). When no variant matches,
 * the reason names the ones this CPU runs.
 */
export function nativeKernelVariant(wanted: string): NativeLoadResult {
  try {
    const result = loadAddon();
    if (!result.addon) return { kernel: null, reason: result.reason };
    const detail = matchVariant(result.addon, wanted);
    if (detail === undefined) {
      const available = Object.keys(result.addon.variants).join(', ');
      return {
        kernel: null,
        reason: `no native variant '${wanted}' on this CPU (available: ${available})`,
      };
    }
    return kernelFor(result.addon, detail);
  } catch (error) {
    return { kernel: null, reason: `native kernel unusable (${firstLine(error)})` };
  }
}

/**
 * Load the native kernel. Never throws: when the addon is missing, fails its self-test or
 * `TLSLP_NO_NATIVE=1` is set, returns `kernel: null` and why. The variant is the fastest one
 * measured at first load (its `rates` list every variant's); `TLSLP_NATIVE_VARIANT=<prefix>`
 * (e.g. `avx512`, `sha-ni`, `avx2`, `portable`) forces one this CPU can run (an unknown one is
 * ignored), and `TLSLP_NATIVE_SCALAR=1` means `portable`.
 */
export function loadNativeKernel(): NativeLoadResult {
  try {
    if (process.env.TLSLP_NO_NATIVE === '1') {
      return { kernel: null, reason: 'disabled by TLSLP_NO_NATIVE=1' };
    }
    const result = loadAddon();
    if (!result.addon) return { kernel: null, reason: result.reason };
    const { addon } = result;
    const forced = forcedByEnvironment(addon);
    if (forced !== undefined) return kernelFor(addon, forced);
    const choice = chooseVariant(addon);
    if (!choice)
      return { kernel: null, reason: 'native kernel failed its self-test (every variant)' };
    return kernelFor(addon, choice.detail, choice.rates);
  } catch (error) {
    return { kernel: null, reason: `native kernel unusable (${firstLine(error)})` };
  }
}
