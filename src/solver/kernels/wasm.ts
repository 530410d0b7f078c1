/**
 * The WebAssembly kernel: an AssemblyScript SHA-256 scan (assembly/), shipped prebuilt as
 * wasm/build/tlslp-simd.wasm (SIMD128, four nonces per instruction) and
 * wasm/build/tlslp-scalar.wasm (for runtimes without SIMD). Loaded synchronously so that it
 * also works at the top of a worker thread.
 * @module
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hitMask, prepareJob, SCAN_WINDOW, suffixFor, type PreparedJob } from '../layout.js';
import type { Kernel } from '../types.js';
import { SolverError } from '../../errors/index.js';

/** The part of the WebAssembly JS API used here (the project's TypeScript libs lack it). */
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}

/** Exports of both builds (see assembly/core.ts). */
interface ScanExports {
  memory: { buffer: ArrayBuffer };
  /** Address of the 80-byte job input area. */
  input(): number;
  scan(hi: number, lo: number, count: number, mask: number): number;
}

/** Where the job input area keeps each field (assembly/core.ts, INPUT). */
const INPUT_MIDSTATE = 0;
const INPUT_TAIL = 32;
const INPUT_LENGTH = 76;
const TAIL_LENGTH = 44;

/** `(func (result v128) i32.const 0 i8x16.splat i8x16.popcnt)`: validates only with SIMD128. */
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15,
  253, 98, 11,
]);

const wasmApi = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;

/** Compiled modules, shared by every kernel of this thread. */
const modules = new Map<string, object>();

function buildUrl(detail: 'simd128' | 'scalar'): URL {
  const file = detail === 'simd128' ? 'tlslp-simd.wasm' : 'tlslp-scalar.wasm';
  // src/solver/kernels and dist/solver/kernels are both three levels below the package.
  return new URL(`../../../wasm/build/${file}`, import.meta.url);
}

function instantiate(api: WasmApi, detail: 'simd128' | 'scalar'): ScanExports {
  let module = modules.get(detail);
  if (module === undefined) {
    module = new api.Module(readFileSync(buildUrl(detail)));
    modules.set(detail, module);
  }
  const { exports } = new api.Instance(module, {});
  if (
    typeof exports.scan !== 'function' ||
    typeof exports.input !== 'function' ||
    !(typeof exports.memory === 'object' && exports.memory !== null && 'buffer' in exports.memory)
  ) {
    throw new SolverError('TLSLP_ERR_KERNEL_LOAD', {
      kernel: 'wasm',
    });
  }
  return exports as unknown as ScanExports;
}

class WasmKernel implements Kernel {
  readonly name = 'wasm' as const;
  private lastJob: PreparedJob | null = null;

  constructor(
    readonly detail: 'simd128' | 'scalar',
    private readonly wasm: ScanExports,
  ) {}

  scan(job: PreparedJob, hi: number, lo: number, count: number): number {
    if (job !== this.lastJob) this.load(job);
    const mask = hitMask(job.nBits);
    // The contract keeps a call inside one window; split anyway so a wider range stays correct.
    let done = 0;
    let h = hi >>> 0;
    let l = lo >>> 0;
    while (done < count) {
      const chunk = Math.min(count - done, SCAN_WINDOW - (l % SCAN_WINDOW));
      const found = this.wasm.scan(h, l, chunk, mask);
      if (found >= 0) return done + found;
      done += chunk;
      l += chunk;
      if (l >= 2 ** 32) {
        l -= 2 ** 32;
        h = (h + 1) >>> 0;
      }
    }
    return -1;
  }

  /** Copy the job into wasm memory; only done when the job object changes. */
  private load(job: PreparedJob): void {
    if (job.midstate.length !== 8 || job.tail.length !== TAIL_LENGTH) {
      throw new SolverError('TLSLP_ERR_BAD_JOB');
    }
    const { buffer } = this.wasm.memory;
    const at = this.wasm.input();
    new Uint32Array(buffer, at + INPUT_MIDSTATE, 8).set(job.midstate);
    new Uint8Array(buffer, at + INPUT_TAIL, TAIL_LENGTH).set(job.tail);
    new Uint32Array(buffer, at + INPUT_LENGTH, 1)[0] = job.messageLength;
    this.lastJob = job;
  }
}

/**
 * Check a fresh kernel against node:crypto on a small job (8 bits, unaligned start), so a
 * stale or broken build is refused rather than used.
 */
function selfTest(kernel: Kernel): boolean {
  const job = prepareJob('tlslp wasm kernel self-test', 8);
  const mask = hitMask(job.nBits);
  const hi = 0x01234567;
  const lo = 5;
  let expected = -1;
  for (let i = 0; i < 4096 && expected < 0; i++) {
    const digest = createHash('sha256')
      .update(job.token + suffixFor(job, hi, lo + i), 'latin1')
      .digest();
    if ((digest.readUInt32BE(28) & mask) === 0) expected = i;
  }
  return expected >= 0 && kernel.scan(job, hi, lo, 4096) === expected;
}

/** Whether this runtime validates WebAssembly SIMD128. */
export function wasmSimdSupported(): boolean {
  try {
    return wasmApi !== undefined && wasmApi.validate(SIMD_PROBE);
  } catch {
    return false;
  }
}

/**
 * Load the wasm kernel. `simd`: undefined picks SIMD128 when the runtime supports it,
 * true requires it, false uses the scalar build. Never throws: on failure the result says why.
 */
export function loadWasmKernel(
  options: { simd?: boolean } = {},
): { kernel: Kernel } | { kernel: null; reason: string } {
  if (wasmApi === undefined) return { kernel: null, reason: 'WebAssembly is not available' };
  const simd = options.simd ?? wasmSimdSupported();
  if (simd && options.simd === true && !wasmSimdSupported()) {
    return { kernel: null, reason: 'WebAssembly SIMD128 is not supported by this runtime' };
  }
  const detail = simd ? 'simd128' : 'scalar';
  try {
    const kernel = new WasmKernel(detail, instantiate(wasmApi, detail));
    if (!selfTest(kernel))
      return { kernel: null, reason: `wasm ${detail} build failed its self-test` };
    return { kernel };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return { kernel: null, reason: `cannot load the wasm ${detail} build: ${message}` };
  }
}
