/**
 * Kernel selection: `auto` picks the fastest kernel that loads here (native, then wasm,
 * then js); an explicitly requested kernel that does not load is a configuration error.
 * `native:<variant>` forces one variant of the native kernel (by its detail, its family or a
 * prefix, e.g. `native:avx512 x48`, `native:avx512`, `native:sha-ni`); plain `native` takes
 * the variant measured fastest.
 *
 * The native and wasm kernels live in modules that may fail to load (no compiler at
 * install time, no WebAssembly SIMD, …), so they are imported once, lazily, by
 * {@link loadKernels}; {@link selectKernel} is synchronous after that.
 * @module
 */
import { ConfigError, SolverError } from '../../errors/index.js';
import type { Kernel, KernelName } from '../types.js';
import { createJsKernel } from './js.js';

/** What a kernel loader returns: the kernel, or why it is not available here. */
export type KernelLoadResult = { kernel: Kernel } | { kernel: null; reason: string };

/** Whether one kernel is available in this process, and if not, why. */
export type KernelAvailability =
  | {
      /** The kernel. */
      name: KernelName;
      /** It loads (and passed its self-test). */
      available: true;
      /** The loaded kernel. */
      kernel: Kernel;
      /** What it runs on, e.g. `sha-ni x6`, `simd128`, `scalar`. */
      detail: string;
    }
  | {
      /** The kernel. */
      name: KernelName;
      /** It does not load here. */
      available: false;
      /** Why, e.g. `native addon not loaded (…)` or `disabled by TLSLP_DISABLE_KERNELS`. */
      reason: string;
    };

/** The kernel chosen by {@link selectKernel}. */
export interface KernelSelection {
  /** The kernel to scan with. */
  kernel: Kernel;
  /**
   * Why `auto` did not get the fastest kernel, e.g. `native kernel unavailable (…); using
   * wasm`. Set on the first `auto` selection in this thread that falls back, so a caller
   * that logs it logs it once.
   */
  fallbackReason?: string;
}

/**
 * What a caller may ask for: a kernel, `auto`, or one native variant by (a prefix of) its
 * detail, e.g. `native:avx512`, `native:sha-ni x6`.
 */
export type KernelChoice = KernelName | 'auto' | `native:${string}`;

const NATIVE_PREFIX = 'native:';

/** Every kernel name, fastest first. */
export const KERNEL_NAMES: readonly KernelName[] = ['native', 'wasm', 'js'];

/** True when `value` names a kernel. */
export function isKernelName(value: unknown): value is KernelName {
  return typeof value === 'string' && (KERNEL_NAMES as readonly string[]).includes(value);
}

/**
 * True when `value` is a {@link KernelChoice}. Whether the variant runs on this CPU is only
 * known once the kernels are loaded ({@link selectKernel} says).
 */
export function isKernelChoice(value: unknown): value is KernelChoice {
  if (value === 'auto' || isKernelName(value)) return true;
  // A variant is its detail or a prefix of it: no blank at either end.
  return typeof value === 'string' && /^native:\S(.*\S)?$/.test(value);
}

/**
 * Check a kernel option's value (the library option `kernel`, the CLIs' `--kernel`).
 * @throws ConfigError (`TLSLP_ERR_BAD_KERNEL`, option `kernel`) naming the accepted values.
 */
export function parseKernelChoice(value: unknown): KernelChoice {
  if (isKernelChoice(value)) return value;
  throw new ConfigError(
    'TLSLP_ERR_BAD_KERNEL',
    { name: `'${String(value)}'` },
    { option: 'kernel' },
  );
}

/**
 * The choice that gives `kernel` back in another thread: `native:<detail>` for the native
 * kernel (so a worker runs the very variant the caller chose), else its name. Pass this, not
 * `kernel.name`, to worker threads.
 */
export function kernelChoiceOf(kernel: Kernel): KernelChoice {
  return kernel.name === 'native' ? `${NATIVE_PREFIX}${kernel.detail}` : kernel.name;
}

/** The native module's way to force one variant (absent when the module did not import). */
type ForceVariant = (wanted: string) => KernelLoadResult;

type Loaded = Record<KernelName, KernelLoadResult> & {
  forceNative: ForceVariant | null;
  /** The native module's way to measure its variants again (absent when it did not import). */
  remeasure: (() => Kernel | null) | null;
};

let loaded: Loaded | null = null;
let loading: Promise<Loaded> | null = null;
let fallbackReported = false;

/** Why loading `file` failed, as a short string. */
function reasonOf(err: unknown, file: string): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    // The kernel module itself is missing (not built yet): say so without the long paths.
    if (code === 'ERR_MODULE_NOT_FOUND' && err.message.includes(`kernels/${file}'`)) {
      return `${file} not found`;
    }
    return err.message;
  }
  return String(err);
}

function isKernel(value: unknown): value is Kernel {
  if (typeof value !== 'object' || value === null) return false;
  const k = value as Partial<Kernel>;
  return isKernelName(k.name) && typeof k.detail === 'string' && typeof k.scan === 'function';
}

/**
 * Kernels switched off with `TLSLP_DISABLE_KERNELS=native,wasm` (comma-separated): a way
 * around a misbehaving kernel on one machine, and how the tests reach the fallbacks.
 */
function disabledKernels(): string[] {
  return (process.env.TLSLP_DISABLE_KERNELS ?? '').split(',').map((s) => s.trim());
}

/**
 * Call an optional kernel's loader. Any failure (module missing or failing to import, loader
 * throwing, a malformed answer) becomes "unavailable" with a reason.
 */
async function loadFrom(
  file: string,
  expected: KernelName,
  load: () => Promise<unknown>,
): Promise<KernelLoadResult> {
  if (disabledKernels().includes(expected)) {
    return { kernel: null, reason: 'disabled by TLSLP_DISABLE_KERNELS' };
  }
  try {
    const result = (await load()) as Partial<KernelLoadResult> | null | undefined;
    if (result && isKernel(result.kernel) && result.kernel.name === expected) {
      return { kernel: result.kernel };
    }
    const reason =
      result && result.kernel === null && typeof result.reason === 'string'
        ? result.reason
        : `${file} returned no usable kernel`;
    return { kernel: null, reason };
  } catch (err) {
    return { kernel: null, reason: reasonOf(err, file) };
  }
}

/**
 * Load the optional kernels (once per thread; later calls return at once). Must be awaited
 * before {@link selectKernel} is asked for anything but `js`.
 */
export async function loadKernels(): Promise<void> {
  if (loaded) return;
  loading ??= (async () => {
    // Imported on first use: loading an addon or compiling WebAssembly is not free, and
    // either may fail on this machine without making the solver unusable.
    let forceNative: ForceVariant | null = null;
    let remeasure: (() => Kernel | null) | null = null;
    const [native, wasm] = await Promise.all([
      loadFrom('native.js', 'native', async () => {
        const module = await import('./native.js');
        forceNative = module.nativeKernelVariant;
        remeasure = module.remeasureNativeKernel;
        return module.loadNativeKernel();
      }),
      loadFrom('wasm.js', 'wasm', async () => (await import('./wasm.js')).loadWasmKernel()),
    ]);
    return { native, wasm, js: { kernel: createJsKernel() }, forceNative, remeasure };
  })();
  loaded = await loading;
  measuredAt = performance.now();
}

let measuredAt = 0;

/**
 * Measure the native variants again when the last measurement is older than `maxAgeMs`,
 * and let `auto` take the one that wins now (a long-running client meets changing load on
 * a shared host). A no-op for a forced variant or without the native kernel. The solver
 * calls it before a solve long enough (2^26 expected hashes and up) that 10 ms of timing
 * is noise.
 * @returns true when it measured
 */
export function refreshNativeChoice(maxAgeMs: number): boolean {
  const all = loaded;
  if (!all?.native.kernel || !all.remeasure) return false;
  if (performance.now() - measuredAt < maxAgeMs) return false;
  measuredAt = performance.now();
  const kernel = all.remeasure();
  if (kernel) all.native = { kernel };
  return kernel !== null;
}

function requireLoaded(): Loaded {
  if (!loaded) {
    throw new SolverError('TLSLP_ERR_KERNELS_NOT_LOADED');
  }
  return loaded;
}

/** One native variant, forced; throws when the native kernel or that variant is not here. */
function selectNativeVariant(all: Loaded, wanted: string): KernelSelection {
  const native = all.native;
  if (!native.kernel || !all.forceNative) {
    const reason = native.kernel ? 'native.js did not load' : native.reason;
    throw new ConfigError(
      'TLSLP_ERR_KERNEL_UNAVAILABLE',
      { name: 'native', reason },
      { option: 'kernel' },
    );
  }
  const result = all.forceNative(wanted);
  if (result.kernel) return { kernel: result.kernel };
  throw new ConfigError(
    'TLSLP_ERR_KERNEL_UNAVAILABLE',
    { name: `native:${wanted}`, reason: result.reason },
    { option: 'kernel' },
  );
}

/**
 * Pick a kernel. `auto` takes native, else wasm, else js, and explains a fallback once
 * (see {@link KernelSelection.fallbackReason}). A named kernel that is not available throws;
 * so does a `native:<variant>` this CPU cannot run (the message lists the ones it can).
 * @throws ConfigError (`TLSLP_ERR_KERNEL_UNAVAILABLE`, `TLSLP_ERR_BAD_KERNEL`) for an
 *   unavailable or unknown kernel.
 */
export function selectKernel(name: KernelChoice): KernelSelection {
  if (name === 'js') return { kernel: loaded?.js.kernel ?? createJsKernel() };
  parseKernelChoice(name);
  const all = requireLoaded();
  if (name.startsWith(NATIVE_PREFIX)) {
    return selectNativeVariant(all, name.slice(NATIVE_PREFIX.length));
  }
  if (name !== 'auto') {
    const result = all[name as KernelName];
    if (result.kernel) return { kernel: result.kernel };
    throw new ConfigError(
      'TLSLP_ERR_KERNEL_UNAVAILABLE',
      { name, reason: result.reason },
      { option: 'kernel' },
    );
  }
  const skipped: string[] = [];
  for (const candidate of KERNEL_NAMES) {
    const result = all[candidate];
    if (!result.kernel) {
      skipped.push(`${candidate} kernel unavailable (${result.reason})`);
      continue;
    }
    if (skipped.length === 0 || fallbackReported) return { kernel: result.kernel };
    fallbackReported = true;
    return { kernel: result.kernel, fallbackReason: `${skipped.join('; ')}; using ${candidate}` };
  }
  // Unreachable: the js kernel always loads.
  throw new SolverError('TLSLP_ERR_NO_KERNEL');
}

/** Every kernel and whether it loads here (for the benchmark and diagnostics). */
export async function availableKernels(): Promise<KernelAvailability[]> {
  await loadKernels();
  const all = requireLoaded();
  return KERNEL_NAMES.map((name): KernelAvailability => {
    const result = all[name];
    return result.kernel
      ? { name, available: true, kernel: result.kernel, detail: result.kernel.detail }
      : { name, available: false, reason: result.reason };
  });
}
