import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { findNativeAddon } from '../src/solver/kernels/native.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function scratch(): string {
  const d = mkdtempSync(join(tmpdir(), 'tlslp-build-'));
  dirs.push(d);
  return d;
}

function run(script: string, root: string): { status: number | null; stdout: string } {
  const r = spawnSync(process.execPath, [join('scripts', script), root], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout };
}

describe('scripts/bin-modes.mjs (run by npm run build)', () => {
  it('makes every bin of package.json executable, leaving other files alone', () => {
    const root = scratch();
    mkdirSync(join(root, 'dist/cli'), { recursive: true });
    writeFileSync(
      join(root, 'package.json'),
      JSON.stringify({ bin: { a: 'dist/cli/a.js', b: 'dist/cli/a.js', c: 'dist/cli/c.js' } }),
    );
    for (const f of ['a.js', 'c.js', 'lib.js']) {
      writeFileSync(join(root, 'dist/cli', f), '#!/usr/bin/env node\n');
      chmodSync(join(root, 'dist/cli', f), 0o644);
    }
    expect(run('bin-modes.mjs', root).status).toBe(0);
    const mode = (f: string): number => statSync(join(root, 'dist/cli', f)).mode & 0o777;
    expect(mode('a.js')).toBe(0o755);
    expect(mode('c.js')).toBe(0o755);
    expect(mode('lib.js')).toBe(0o644);
  });

  it('left the real bins executable after this build', () => {
    for (const bin of ['tlslp.js', 'server.js', 'client.js', 'work.js'])
      expect(statSync(join('dist/cli', bin)).mode & 0o111).toBe(0o111);
    // The sh launcher is executable as committed (git keeps the bit).
    expect(statSync('bin/tlslp').mode & 0o111).toBe(0o111);
  });
});

describe('scripts/clean.mjs (npm run clean)', () => {
  it('says what it removed and how to get the native kernel back', () => {
    const root = scratch();
    mkdirSync(join(root, 'dist/cli'), { recursive: true });
    mkdirSync(join(root, 'native/build/Release'), { recursive: true });
    const r = run('clean.mjs', root);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('removed dist/');
    expect(r.stdout).toContain('removed native/build/ (native kernel)');
    expect(r.stdout).toContain('npm run build:native');
    expect(existsSync(join(root, 'dist'))).toBe(false);
    expect(existsSync(join(root, 'native/build'))).toBe(false);
  });

  it('says so when there is nothing to remove', () => {
    const r = run('clean.mjs', scratch());
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe('clean: nothing to remove');
  });
});

/** A package root in a scratch folder with the given scripts and the real node_modules. */
function packageRoot(scripts: string[]): string {
  const root = scratch();
  mkdirSync(join(root, 'scripts'));
  for (const s of scripts) copyFileSync(join('scripts', s), join(root, 'scripts', s));
  writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'tlslp', type: 'module' }));
  symlinkSync(resolve('node_modules'), join(root, 'node_modules'), 'dir');
  return root;
}

/** Put a copy of this checkout's built addon at `root`/`path`. */
function placeAddon(root: string, path: string): void {
  mkdirSync(join(root, dirname(path)), { recursive: true });
  copyFileSync(BUILT_ADDON, join(root, path));
}

const BUILT_ADDON = resolve('native/build/Release/tlslp_kernel.node');
const PREBUILD_DIR = `prebuilds/${process.platform}-${process.arch}`;

function install(
  root: string,
  env: NodeJS.ProcessEnv = {},
  args: string[] = [],
): { status: number | null; stdout: string } {
  const r = spawnSync(process.execPath, [join(root, 'scripts/build-native.mjs'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, TLSLP_SKIP_NATIVE: '', TLSLP_BUILD_FROM_SOURCE: '', ...env },
  });
  return { status: r.status, stdout: r.stdout };
}

describe('scripts/build-native.mjs (the install script)', () => {
  it.skipIf(!existsSync(BUILT_ADDON))('uses a prebuild that loads and compiles nothing', () => {
    const root = packageRoot(['build-native.mjs']);
    placeAddon(root, `${PREBUILD_DIR}/tlslp_kernel.node`);
    const r = install(root);
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(
      `tlslp: native kernel prebuilt (${PREBUILD_DIR}/tlslp_kernel.node); not compiling`,
    );
    expect(existsSync(join(root, 'native/build'))).toBe(false);
  });

  it('builds from source when the prebuild does not load, else says the wasm kernel is used', () => {
    const root = packageRoot(['build-native.mjs']);
    mkdirSync(join(root, PREBUILD_DIR), { recursive: true });
    writeFileSync(join(root, PREBUILD_DIR, 'tlslp_kernel.node'), 'not an ELF file');
    // No native/ sources here, so the source build cannot start: one line, exit 0.
    const r = install(root, { TLSLP_NATIVE_VERBOSE: '1' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/does not load here: .*; building from source/);
    expect(r.stdout).toContain(
      'tlslp: native kernel not built (no native/binding.gyp); the WebAssembly kernel will be used',
    );
  });

  it.skipIf(!existsSync(BUILT_ADDON))('builds from source when asked to, prebuild or not', () => {
    const root = packageRoot(['build-native.mjs']);
    placeAddon(root, `${PREBUILD_DIR}/tlslp_kernel.node`);
    expect(install(root).stdout).toContain('native kernel prebuilt');
    const asked: Array<[NodeJS.ProcessEnv, string[]]> = [
      [{ TLSLP_BUILD_FROM_SOURCE: '1' }, []],
      [{ npm_config_build_from_source: 'true' }, []],
      [{}, ['--from-source']], // npm run build:native
    ];
    for (const [env, args] of asked)
      expect(install(root, env, args).stdout).toContain(
        'native kernel not built (no native/binding.gyp)',
      );
  });

  it('skips everything with TLSLP_SKIP_NATIVE=1', () => {
    const r = install(packageRoot(['build-native.mjs']), { TLSLP_SKIP_NATIVE: '1' });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('native kernel not built (TLSLP_SKIP_NATIVE=1)');
  });
});

describe('the native addon loader (findNativeAddon)', () => {
  it('gives a reason when there is neither a local build nor a prebuild', () => {
    const found = findNativeAddon(packageRoot([]));
    expect(found).toEqual({
      reason: expect.stringMatching(
        /^native addon not found: neither native\/build\/Release nor a prebuild \(No native build was found for platform=/,
      ) as unknown,
    });
  });

  it('finds the prebuild, and prefers a local build when there is one', () => {
    const root = packageRoot([]);
    placeAddon(root, `${PREBUILD_DIR}/tlslp_kernel.node`);
    expect(findNativeAddon(root)).toEqual({ path: join(root, PREBUILD_DIR, 'tlslp_kernel.node') });
    placeAddon(root, 'native/build/Release/tlslp_kernel.node');
    expect(findNativeAddon(root)).toEqual({
      path: join(root, 'native/build/Release/tlslp_kernel.node'),
    });
  });
});

describe('scripts/prebuild.mjs (npm pack runs it)', () => {
  it('skips with TLSLP_SKIP_PREBUILD=1', () => {
    const root = packageRoot(['prebuild.mjs', 'build-native.mjs']);
    const r = spawnSync(process.execPath, [join(root, 'scripts/prebuild.mjs')], {
      encoding: 'utf8',
      env: { ...process.env, TLSLP_SKIP_PREBUILD: '1' },
    });
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe('prebuild: skipped (TLSLP_SKIP_PREBUILD=1)');
    expect(existsSync(join(root, 'prebuilds'))).toBe(false);
  });

  // The prebuild itself (a C compile of every variant, and of the solver program) is built
  // and checked where it is shipped from: npm pack runs it (prepack), and scripts/pack-check.mjs
  // (npm run pack:check, in .ci/run) holds its line and its silence on stderr, the local
  // native/build left alone, the variants against the local build's, and that the installed
  // package loads it with install scripts blocked.
});
