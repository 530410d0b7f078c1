// Which native variant runs: measured at load (auto / plain `native`), or forced with
// `native:<variant>` (library option and --kernel), and inherited by worker threads.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { ConfigError } from '../src/errors/index.js';
import {
  isKernelChoice,
  kernelChoiceOf,
  loadKernels,
  parseKernelChoice,
  refreshNativeChoice,
  selectKernel,
} from '../src/solver/kernels/index.js';
import { NATIVE_CHOICE_KEY, nativeKernelVariants } from '../src/solver/kernels/native.js';
import { verifyWork } from '../src/protocol/hash.js';
import { closeSolverPool, solveWork } from '../src/solver/index.js';
import type { Kernel } from '../src/solver/types.js';

const WORK_BIN = fileURLToPath(new URL('../dist/cli/work.js', import.meta.url));
const DIST_NATIVE = new URL('../dist/solver/kernels/native.js', import.meta.url).href;

await loadKernels();
const variants = nativeKernelVariants().map((k) => k.detail);
// Skip only where the addon is genuinely absent (no prebuild, no local build).
const hasNative = variants.length > 0;

afterAll(async () => {
  await closeSolverPool();
});

/** A variant's family, the first word of its detail (`avx512-vec x16` → `avx512-vec`). */
function family(detail: string): string {
  return detail.split(' ')[0] as string;
}

describe('kernel choice values', () => {
  it('accepts the kernel names, auto and native:<variant>', () => {
    for (const value of ['auto', 'native', 'wasm', 'js', 'native:avx512', 'native:sha-ni x6'])
      expect(parseKernelChoice(value)).toBe(value);
  });

  it('rejects anything else with a ConfigError naming the accepted values', () => {
    for (const value of ['gpu', 'Native', 'native:', 'native: avx2', 'wasm:simd128', '', 3]) {
      expect(isKernelChoice(value)).toBe(false);
      expect(() => parseKernelChoice(value)).toThrow(
        /use auto, native, native:<variant>, wasm or js/,
      );
    }
    expect(() => selectKernel('native:')).toThrow(ConfigError);
  });
});

describe.skipIf(!hasNative)('native variant measured at load', () => {
  const kernel = selectKernel('native').kernel;
  const rates = kernel.rates ?? {};

  it('measured every variant this CPU runs, each at a positive rate', () => {
    expect(Object.keys(rates).sort()).toEqual([...variants].sort());
    for (const rate of Object.values(rates)) expect(rate).toBeGreaterThan(0);
  });

  it('auto and plain native use the variant with the highest measured rate', () => {
    expect(rates[kernel.detail]).toBe(Math.max(...Object.values(rates)));
    const auto = selectKernel('auto').kernel;
    expect(auto.name).toBe('native');
    expect(auto.detail).toBe(kernel.detail);
  });

  it('worker threads inherit the choice instead of measuring again', async () => {
    // A worker loads the built module afresh; identical rates mean it measured nothing.
    const code =
      `const { parentPort, getEnvironmentData } = require('node:worker_threads');` +
      `import(${JSON.stringify(DIST_NATIVE)}).then((m) => {` +
      `  const r = m.loadNativeKernel();` +
      `  parentPort.postMessage({ inherited: getEnvironmentData(${JSON.stringify(NATIVE_CHOICE_KEY)}) !== undefined,` +
      `    detail: r.kernel && r.kernel.detail, rates: r.kernel && r.kernel.rates });` +
      `});`;
    const worker = new Worker(code, { eval: true });
    const reply = await new Promise<unknown>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    await worker.terminate();
    expect(reply).toEqual({ inherited: true, detail: kernel.detail, rates });
  });
});

describe.skipIf(!hasNative)('native variant measured again', () => {
  it('refreshNativeChoice measures only past the age given; auto then takes the new winner, which still solves', async () => {
    expect(refreshNativeChoice(3_600_000)).toBe(false);
    expect(refreshNativeChoice(0)).toBe(true);
    const again = selectKernel('auto').kernel;
    const rates = again.rates ?? {};
    expect(Object.keys(rates).sort()).toEqual([...variants].sort());
    expect(rates[again.detail]).toBe(Math.max(...Object.values(rates)));
    // Pool threads get the variant through the task, whichever won.
    const r = await solveWork('remeasured', 22, { threads: 2 });
    expect(r.kernelDetail).toBe(again.detail);
    expect(verifyWork('remeasured', r.suffix, 22)).toBe(true);
  });
});

describe.skipIf(!hasNative)('native variant forced', () => {
  it.each(variants)('native:%s runs exactly that variant, without rates', (detail) => {
    const forced = selectKernel(`native:${detail}`).kernel;
    expect(forced.name).toBe('native');
    expect(forced.detail).toBe(detail);
    expect(forced.rates).toBeUndefined();
  });

  it('a family picks a variant of that family, a shorter prefix one that starts with it', () => {
    // `avx512` is the family of `avx512 x32` and `avx512 x48`, not of `avx512-vec x16`.
    for (const detail of variants) {
      const forced = selectKernel(`native:${family(detail)}`).kernel;
      expect(family(forced.detail)).toBe(family(detail));
    }
    for (const prefix of ['avx', 'sha', 'port']) {
      const matching = variants.filter((detail) => detail.startsWith(prefix));
      if (matching.length > 0)
        expect(matching).toContain(selectKernel(`native:${prefix}`).kernel.detail);
    }
  });

  it('an unknown variant is a ConfigError that lists what this CPU runs', () => {
    let error: unknown;
    try {
      selectKernel('native:no-such-variant');
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({ code: 'TLSLP_ERR_KERNEL_UNAVAILABLE', option: 'kernel' });
    const message = (error as Error).message;
    expect(message).toContain("'no-such-variant'");
    for (const detail of variants) expect(message).toContain(detail);
  });

  it('the choice handed to worker threads gives the same variant back', () => {
    for (const detail of variants) {
      const forced: Kernel = selectKernel(`native:${family(detail)}`).kernel;
      const again = selectKernel(kernelChoiceOf(forced)).kernel;
      expect(again.detail).toBe(forced.detail);
    }
    expect(kernelChoiceOf(selectKernel('js').kernel)).toBe('js');
  });

  it('solveWork runs the forced variant on the calling thread and on the pool', async () => {
    const slowest = variants.at(-1) as string;
    // 22 bits: a cold pool starts only for at least 2^22 expected hashes. This token's lowest
    // 22-bit solution is at nonce 609 131, in the first batch: a short solve on the slowest variant.
    const token = 'forcedVariant7';
    for (const [threads, bits] of [
      [1, 18],
      [2, 22],
    ] as const) {
      const r = await solveWork(token, bits, { kernel: `native:${slowest}`, threads });
      expect(r).toMatchObject({ kernel: 'native', kernelDetail: slowest, threads });
      expect(verifyWork(token, r.suffix, bits)).toBe(true);
    }
  });

  it('tlslp-work --kernel native:<variant> uses it; an unknown one exits 2 naming the choices', () => {
    const detail = variants.at(-1) as string;
    const run = (kernel: string) =>
      spawnSync(process.execPath, [WORK_BIN, '--kernel', kernel, '--verbose', 'abc', '12'], {
        encoding: 'utf8',
        env: { ...process.env, TLSLP_NATIVE_VARIANT: '', TLSLP_NATIVE_SCALAR: '' },
      });
    const ok = run(`native:${family(detail)}`);
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/^RESULT:/);
    expect(ok.stderr).toContain(`native (${family(detail)} `);
    const bad = run('native:no-such-variant');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("no native variant 'no-such-variant'");
    expect(bad.stderr).toContain(detail);
  });
});

describe('native variant forced without a native kernel', () => {
  it('is a ConfigError saying why the native kernel is unavailable', async () => {
    vi.resetModules();
    vi.stubEnv('TLSLP_DISABLE_KERNELS', 'native');
    try {
      const fresh = await import('../src/solver/kernels/index.js');
      const errors = await import('../src/errors/index.js');
      await fresh.loadKernels();
      expect(() => fresh.selectKernel('native:portable')).toThrow(errors.ConfigError);
      expect(() => fresh.selectKernel('native:portable')).toThrow(
        /^native kernel unavailable: disabled by TLSLP_DISABLE_KERNELS$/,
      );
    } finally {
      vi.unstubAllEnvs();
      vi.resetModules();
    }
  });
});
