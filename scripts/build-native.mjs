#!/usr/bin/env node
// @ts-check
// Make the optional native proof-of-work kernel available. Run by the package's `install`
// script. The published package ships it prebuilt (prebuilds/<platform>-<arch>/, made by
// scripts/prebuild.mjs at pack time): when that prebuild loads here there is nothing to do.
// Otherwise it is built from source (native/) with node-gyp. The kernel is optional: on any
// failure this prints one line and exits 0, and the solver falls back to the WebAssembly kernel.
//   TLSLP_SKIP_NATIVE=1         skip the build
//   --from-source, TLSLP_BUILD_FROM_SOURCE=1
//                               build from source even when a prebuild loads (npm's
//                               --build-from-source does the same; `npm run build:native`
//                               passes --from-source, so a stale prebuild never stands in
//                               for changed C sources)
//   TLSLP_NATIVE_VERBOSE=1      show node-gyp's output
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const FALLBACK = 'the WebAssembly kernel will be used';

function done(message) {
  console.log(`tlslp: ${message}`);
  process.exit(0);
}

/**
 * [command, args prefix, use a shell] for running node-gyp.
 * @returns {[string, string[], boolean]}
 */
export function findNodeGyp() {
  // npm sets npm_config_node_gyp to its bundled node-gyp's bin script for lifecycle scripts.
  const fromNpm = process.env.npm_config_node_gyp;
  if (fromNpm && existsSync(fromNpm)) return [process.execPath, [fromNpm], false];
  // The node-gyp bundled with the npm that sits next to this node binary.
  const nodeDir = dirname(process.execPath);
  for (const npmDir of [
    resolve(nodeDir, '../lib/node_modules/npm'),
    join(nodeDir, 'node_modules/npm'),
  ]) {
    const script = join(npmDir, 'node_modules/node-gyp/bin/node-gyp.js');
    if (existsSync(script)) return [process.execPath, [script], false];
  }
  // Whatever node-gyp is on PATH (npm adds a shim during lifecycle scripts).
  return ['node-gyp', [], process.platform === 'win32'];
}

/**
 * The folder holding this node's own headers (include/node/node_api.h), as Linux packages and
 * official tarballs install them, or null. Building against it means node-gyp downloads nothing.
 */
export function nodeHeadersDir() {
  if (process.platform === 'win32') return null;
  const root = resolve(dirname(process.execPath), '..');
  return existsSync(join(root, 'include/node/node_api.h')) ? root : null;
}

function nodedirArgs() {
  if (process.env.npm_config_nodedir) return [];
  const dir = nodeHeadersDir();
  return dir ? [`--nodedir=${dir}`] : [];
}

/**
 * The prebuild for this platform under `root`/prebuilds when it loads and looks like the
 * kernel ({ path }), else why not ({ reason }). node-gyp-build picks the file (platform, arch,
 * libc tags); only prebuilds count here, not an earlier local build.
 * @param {string} root
 * @returns {{ path: string, variants: string[], reason?: undefined } | { path?: undefined, reason: string }}
 */
export function loadablePrebuild(root) {
  const require = createRequire(join(root, 'package.json'));
  let file;
  try {
    process.env.PREBUILDS_ONLY = '1'; // read by node-gyp-build when it loads
    file = require('node-gyp-build').path(root);
  } catch (error) {
    return { reason: `no prebuild for ${process.platform}-${process.arch}: ${firstLine(error)}` };
  } finally {
    delete process.env.PREBUILDS_ONLY;
  }
  try {
    const addon = require(file);
    if (typeof addon?.scan !== 'function' || typeof addon.variants !== 'object')
      return { reason: `${file} is not the kernel` };
    return { path: file, variants: Object.keys(addon.variants) };
  } catch (error) {
    return { reason: `${relative(root, file)} does not load here: ${firstLine(error)}` };
  }
}

function firstLine(error) {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n', 1)[0];
}

function main() {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const nativeDir = join(root, 'native');
  const verbose = process.env.TLSLP_NATIVE_VERBOSE === '1';

  if (process.env.TLSLP_SKIP_NATIVE === '1')
    done(`native kernel not built (TLSLP_SKIP_NATIVE=1); ${FALLBACK}`);
  const fromSource =
    process.argv.includes('--from-source') ||
    process.env.TLSLP_BUILD_FROM_SOURCE === '1' ||
    process.env.npm_config_build_from_source === 'true';
  if (!fromSource) {
    const prebuild = loadablePrebuild(root);
    if (prebuild.path)
      done(`native kernel prebuilt (${relative(root, prebuild.path)}); not compiling`);
    if (verbose) console.log(`tlslp: ${prebuild.reason}; building from source`);
  }
  if (!existsSync(join(nativeDir, 'binding.gyp')))
    done(`native kernel not built (no native/binding.gyp); ${FALLBACK}`);

  const [command, prefix, shell] = findNodeGyp();
  const result = spawnSync(command, [...prefix, 'rebuild', ...nodedirArgs()], {
    cwd: nativeDir,
    stdio: verbose ? 'inherit' : 'pipe',
    encoding: 'utf8',
    shell,
    timeout: 10 * 60 * 1000,
  });

  if (result.error) {
    done(`native kernel not built (could not run node-gyp: ${result.error.message}); ${FALLBACK}`);
  }
  if (result.status !== 0) {
    // One line: the first compiler error, else node-gyp's error message, else the last line.
    const lines = `${result.stderr ?? ''}\n${result.stdout ?? ''}`.split('\n').map((l) => l.trim());
    const reason =
      lines.find((l) => /(^|\s)(fatal )?error( [A-Z]+\d+)?:/.test(l) || l.startsWith('gyp: ')) ??
      lines.find((l) => l.startsWith('gyp ERR! stack Error:'))?.slice('gyp ERR! stack '.length) ??
      lines.find((l) => l.startsWith('gyp ERR!')) ??
      lines.filter(Boolean).at(-1) ??
      `node-gyp exited with ${result.status ?? result.signal}`;
    done(`native kernel not built (${reason.slice(0, 200)}); ${FALLBACK}`);
  }
  done('native kernel built (native/build/Release/tlslp_kernel.node)');
}

// Run when executed (the install script); scripts/prebuild.mjs imports the helpers only.
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) main();
