#!/usr/bin/env node
// @ts-check
// Build the native kernel into prebuilds/<platform>-<arch>/ with prebuildify, and the solver
// program (tlslp-solve) next to it, so the package needs no compiler where it is installed. Run by `prepack` (so `npm pack` / `npm publish`
// ship it) and by `npm run prebuild`.
//
// One Node-API build (NAPI_VERSION 8, see native/binding.gyp) serves every Node ≥ 20. It is
// built against this node's own headers with npm's bundled node-gyp: nothing is downloaded.
// The file is tagged with the C library (glibc), so a musl system builds from source instead.
//
//   node scripts/prebuild.mjs            this machine's platform and arch (must succeed)
//   --arch arm64                         also cross-build linux-arm64 (a cross compiler,
//                                        aarch64-linux-gnu-gcc, is needed: without one it is
//                                        skipped with a one-line note)
//   --arch-if-installed arm64            the same, but skipped silently without the cross
//                                        compiler (what `npm pack` runs: build:prebuilds)
//   TLSLP_SKIP_PREBUILD=1                skip (a package without the prebuild falls back to a
//                                        source build on install, then to WebAssembly)
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findNodeGyp, loadablePrebuild, nodeHeadersDir } from './build-native.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
const argv = process.argv.slice(2);
/** Arches to cross-build, each with whether it was asked for outright (`--arch`). */
const crossArches = argv.flatMap((a, i) =>
  (a === '--arch' || a === '--arch-if-installed') && argv[i + 1]
    ? [{ arch: argv[i + 1], asked: a === '--arch' }]
    : [],
);

/** Cross toolchains known to work from a Debian x86-64 host (apt: gcc-aarch64-linux-gnu). */
const CROSS = {
  arm64: { triple: 'aarch64-linux-gnu', nodeArch: 'arm64' },
};

function log(message) {
  console.log(`prebuild: ${message}`);
}

/** Promise wrapper around prebuildify's callback API. */
function prebuildify(options) {
  const run = require('prebuildify');
  return /** @type {Promise<void>} */ (
    new Promise((resolve, reject) => {
      run(options, (/** @type {unknown} */ error) => (error ? reject(error) : resolve()));
    })
  );
}

/** prebuildify runs node-gyp as a command, so it needs an executable file. */
function nodeGypCommand() {
  const [command, prefix] = findNodeGyp();
  return prefix[0] ?? command;
}

async function build(arch, env = {}) {
  // Never trust a stale file: prebuildify only adds to the folder.
  rmSync(join(root, 'prebuilds', `${process.platform}-${arch}`), { recursive: true, force: true });
  const headers = nodeHeadersDir();
  const saved = { ...process.env };
  // node-gyp reads npm_config_nodedir: build against this node's headers, download nothing.
  if (headers && !process.env.npm_config_nodedir) process.env.npm_config_nodedir = headers;
  // node-gyp turns npm_config_* into gyp variables: the shipped solver program is linked
  // statically (a source build links it the usual way, as not every system has a static libc).
  process.env.npm_config_tlslp_static_solver = '1';
  Object.assign(process.env, env);
  // Build in a copy of the sources, so native/build (a developer's own build) stays as it is.
  const work = mkdtempSync(join(tmpdir(), 'tlslp-prebuild-'));
  cpSync(join(root, 'native/binding.gyp'), join(work, 'binding.gyp'));
  cpSync(join(root, 'native/src'), join(work, 'src'), { recursive: true });
  try {
    await prebuildify({
      cwd: work,
      out: root,
      arch,
      name: 'tlslp_kernel',
      napi: true,
      // The build is Node-API: the version only names node-gyp's cache folder.
      targets: [process.versions.node],
      tagLibc: true,
      strip: true,
      ...(env.STRIP ? { stripBin: env.STRIP } : {}),
      nodeGyp: nodeGypCommand(),
      quiet: process.env.TLSLP_NATIVE_VERBOSE !== '1',
    });
    shipSolver(work, arch, env.STRIP);
  } finally {
    rmSync(work, { recursive: true, force: true });
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
  }
}

/**
 * Put the solver program (native/src/solve_main.c: bin/tlslp runs it for `tlslp work <token>
 * <n_bits>`) next to the addon, stripped. prebuildify copies only the .node file. On Linux it
 * is linked statically, so one file runs on any glibc or musl system of the arch.
 * @param {string} work the build folder
 * @param {string} arch
 * @param {string | undefined} strip the strip command for `arch`
 */
function shipSolver(work, arch, strip) {
  const built = join(work, 'build', 'Release', 'tlslp-solve');
  if (!existsSync(built)) throw new Error(`node-gyp did not build ${built}`);
  const shipped = join(root, 'prebuilds', `${process.platform}-${arch}`, 'tlslp-solve');
  cpSync(built, shipped);
  const stripped = spawnSync(strip ?? 'strip', [shipped], { stdio: 'ignore' });
  if (stripped.status !== 0) log(`${shipped}: not stripped (${strip ?? 'strip'} failed)`);
}

function hasCommand(name) {
  return spawnSync(name, ['--version'], { stdio: 'ignore' }).status === 0;
}

if (process.env.TLSLP_SKIP_PREBUILD === '1') {
  log('skipped (TLSLP_SKIP_PREBUILD=1)');
  process.exit(0);
}

const host = `${process.platform}-${process.arch}`;
try {
  await build(process.arch);
} catch (error) {
  console.error(`prebuild: ${host} failed: ${error instanceof Error ? error.message : error}`);
  console.error(
    'prebuild: set TLSLP_NATIVE_VERBOSE=1 to see the compiler, or TLSLP_SKIP_PREBUILD=1 to pack without it',
  );
  process.exit(1);
}
// The file node-gyp-build would pick here must load and be the kernel.
const check = loadablePrebuild(root);
if (!check.path) {
  console.error(`prebuild: ${host} was built but does not load: ${check.reason}`);
  process.exit(1);
}
log(`${host}: ${check.path.slice(root.length)} (${check.variants.join(', ')})`);

for (const { arch, asked } of crossArches) {
  const cross = CROSS[arch];
  if (process.platform !== 'linux' || !cross || arch === process.arch) {
    if (asked) log(`linux-${arch}: no cross build from ${host}; skipped`);
    continue;
  }
  const cc = `${cross.triple}-gcc`;
  if (!hasCommand(cc)) {
    // Only a build asked for outright says so; --arch-if-installed skips it silently.
    if (asked)
      log(`linux-${arch}: ${cc} not installed (apt-get install gcc-${cross.triple}); skipped`);
    continue;
  }
  try {
    // The addon is C only: gcc compiles and links it.
    await build(cross.nodeArch, {
      CC: cc,
      CXX: cc,
      LINK: cc,
      AR: `${cross.triple}-ar`,
      STRIP: `${cross.triple}-strip`,
    });
    log(`linux-${arch}: built with ${cc}`);
  } catch (error) {
    console.error(
      `prebuild: linux-${arch} failed: ${error instanceof Error ? error.message : error}`,
    );
    process.exit(1);
  }
}
