/**
 * The native kernel: a Node-API addon (native/src, built by scripts/build-native.mjs on
 * install) that hashes with the x86 SHA extensions, AVX-512, AVX2 or portable C, whichever is best
 * on this CPU.
 * @module
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { hitMask, prepareJob, suffixFor, type PreparedJob } from '../layout.js';
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
  /** The variant `scan` uses, e.g. `sha-ni x3`. */
  detail: string;
  /** Every variant this CPU can run, by detail. */
  variants: Record<string, AddonScan>;
}

/** Result of {@link loadNativeKernel}. */
export type NativeLoadResult = { kernel: Kernel } | { kernel: null; reason: string };

// Same relative path from src/solver/kernels/ and dist/solver/kernels/.
const ADDON_URL = new URL('../../../native/build/Release/tlslp_kernel.node', import.meta.url);

let loaded: { addon: Addon } | { addon: null; reason: string } | undefined;

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

function loadAddon(): { addon: Addon } | { addon: null; reason: string } {
  if (loaded) return loaded;
  try {
    const required: unknown = createRequire(import.meta.url)(fileURLToPath(ADDON_URL));
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

function makeKernel(detail: string, scanFn: AddonScan): Kernel {
  return {
    name: 'native',
    detail,
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

/**
 * Every variant of the native kernel this CPU can run (e.g. `sha-ni x3`, `avx512 x16`, `avx2 x8`,
 * `portable x4`), for tests and benchmarks; empty when the addon is not available.
 */
export function nativeKernelVariants(): Kernel[] {
  const result = loadAddon();
  if (!result.addon) return [];
  return Object.entries(result.addon.variants).map(([detail, fn]) => makeKernel(detail, fn));
}

/**
 * Load the native kernel. Never throws: when the addon is missing, fails its self-test or
 * `TLSLP_NO_NATIVE=1` is set, returns `kernel: null` and why. The addon picks the variant for
 * this CPU; `TLSLP_NATIVE_VARIANT=<prefix>` (e.g. `avx512`, `sha-ni`, `avx2`, `portable`)
 * picks another one this CPU can run, and `TLSLP_NATIVE_SCALAR=1` means `portable`.
 */
export function loadNativeKernel(): NativeLoadResult {
  try {
    if (process.env.TLSLP_NO_NATIVE === '1') {
      return { kernel: null, reason: 'disabled by TLSLP_NO_NATIVE=1' };
    }
    const result = loadAddon();
    if (!result.addon) return { kernel: null, reason: result.reason };
    const { addon } = result;
    let detail = addon.detail;
    let scanFn = addon.scan;
    const wanted =
      process.env.TLSLP_NATIVE_SCALAR === '1' ? 'portable' : process.env.TLSLP_NATIVE_VARIANT;
    if (wanted) {
      const chosen = Object.entries(addon.variants).find(([name]) => name.startsWith(wanted));
      if (chosen) [detail, scanFn] = chosen;
    }
    const kernel = makeKernel(detail, scanFn);
    if (!selfTest(kernel)) {
      return { kernel: null, reason: `native kernel (${detail}) failed its self-test` };
    }
    return { kernel };
  } catch (error) {
    return { kernel: null, reason: `native kernel unusable (${firstLine(error)})` };
  }
}
