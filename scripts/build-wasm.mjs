#!/usr/bin/env node
// @ts-check
// Build the wasm kernel (assembly/) into wasm/build/tlslp-simd.wasm and
// wasm/build/tlslp-scalar.wasm with the pinned assemblyscript compiler.
//
// The output is reproducible: no source maps or debug names (which would embed paths), no
// timestamps, and the sources are passed by paths relative to the package root.
// Usage: node scripts/build-wasm.mjs [--out-dir DIR]   (default wasm/build)
import asc from 'assemblyscript/asc';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outIndex = process.argv.indexOf('--out-dir');
const outDir = outIndex >= 0 ? resolve(process.argv[outIndex + 1] ?? '') : join(root, 'wasm/build');

const common = ['-O3', '--runtime', 'stub', '--noAssert', '--noColors', '--baseDir', root];
const builds = [
  { entry: 'assembly/simd.ts', out: 'tlslp-simd.wasm', features: ['--enable', 'simd'] },
  {
    entry: 'assembly/scalar.ts',
    out: 'tlslp-scalar.wasm',
    // Plain WebAssembly 1.0, for the oldest runtimes this build exists for.
    features: ['--disable', 'mutable-globals,sign-extension,nontrapping-f2i,bulk-memory'],
  },
];

mkdirSync(outDir, { recursive: true });
for (const build of builds) {
  const outFile = join(outDir, build.out);
  const { error, stderr } = await asc.main(
    [build.entry, '--outFile', outFile, ...common, ...build.features],
    { stdout: process.stdout, stderr: process.stderr },
  );
  if (error) {
    console.error(`build-wasm: ${build.entry} failed: ${error.message}`);
    console.error(stderr.toString());
    process.exit(1);
  }
  console.log(`build-wasm: ${outFile}`);
}
