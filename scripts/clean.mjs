#!/usr/bin/env node
// @ts-check
// @ts-check
// `npm run clean`: remove what the build made, and say what went. The native kernel is among
// it, and without it the solver falls back to WebAssembly (about 4× slower), so say how to get
// it back rather than let the next solve be silently slow.
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// The package root; a test passes another folder.
const root = join(process.argv[2] ?? fileURLToPath(new URL('..', import.meta.url)), '/');
const targets = [
  ['dist', 'compiled JavaScript'],
  ['coverage', 'coverage report'],
  ['test-results', 'test report'],
  ['docs/api', 'API reference'],
  ['native/build', 'native kernel'],
  ['prebuilds', 'prebuilt native kernels'],
];
const removed = [];
for (const [path, what] of targets) {
  if (!existsSync(root + path)) continue;
  rmSync(root + path, { recursive: true, force: true });
  removed.push([path, what]);
}
if (removed.length === 0) console.log('clean: nothing to remove');
for (const [path, what] of removed) console.log(`clean: removed ${path}/ (${what})`);
if (removed.some(([path]) => path === 'dist'))
  console.log('clean: run `npm run build` before using the bins again');
if (removed.some(([path]) => path === 'native/build'))
  console.log(
    'clean: the solver now falls back to WebAssembly; rebuild the native kernel with `npm run build:native`',
  );
