/**
 * The conformance suite (kernel-conformance.ts) over every kernel: js, both wasm builds and
 * every native variant this CPU runs, in one file so that the node:crypto references (2^19
 * hashes for the whole-window cases) are computed once. A kernel or variant that cannot run
 * here shows as skipped with the reason. Each kernel's own tests stay in its file.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createJsKernel } from '../src/solver/kernels/js.js';
import { nativeKernelVariants } from '../src/solver/kernels/native.js';
import { loadWasmKernel, wasmSimdSupported } from '../src/solver/kernels/wasm.js';
import type { Kernel } from '../src/solver/types.js';
import { cpuHas, describeKernel } from './kernel-conformance.js';

describeKernel('js kernel', undefined, createJsKernel);

for (const { simd, detail } of [
  { simd: true, detail: 'simd128' },
  { simd: false, detail: 'scalar' },
] as const) {
  // SIMD128 is the one build a runtime may lack; the scalar build runs on every WebAssembly.
  const skip = simd && !wasmSimdSupported() ? 'this runtime has no WebAssembly SIMD128' : undefined;
  describeKernel(`wasm kernel (${detail})`, skip, () => {
    const result = loadWasmKernel({ simd });
    if (result.kernel === null) throw new Error(result.reason);
    return result.kernel;
  });
}

// Every native variant this CPU runs; a family it cannot run, or the whole kernel where the
// addon was not built, shows as skipped with the reason (a built but broken addon fails).
const ADDON_PATH = fileURLToPath(
  new URL('../native/build/Release/tlslp_kernel.node', import.meta.url),
);
const built = existsSync(ADDON_PATH);
const variants = nativeKernelVariants();
/** Stands for a variant in a skipped block: never called. */
const notHere = (): Kernel => {
  throw new Error('no such native variant here');
};
const FAMILIES = [
  { family: 'sha-ni', needs: ['sha_ni'] },
  { family: 'avx512', needs: ['avx512f', 'avx512vl'] },
  { family: 'avx512-vec', needs: ['avx512f', 'avx512vl'] },
  { family: 'avx2', needs: ['avx2'] },
  { family: 'portable', needs: [] },
] as const;
for (const { family, needs } of FAMILIES) {
  const ofFamily = variants.filter((v) => v.detail.split(' ')[0] === family);
  if (!built) describeKernel(`native ${family}`, `no addon at ${ADDON_PATH}`, notHere);
  else if (ofFamily.length === 0) {
    const reason = cpuHas(...needs)
      ? 'the addon offers no such variant here'
      : `this CPU lacks ${needs.join(', ')}`;
    describeKernel(`native ${family}`, reason, notHere);
  }
  for (const variant of ofFamily)
    describeKernel(`native ${variant.detail}`, undefined, () => variant);
}
