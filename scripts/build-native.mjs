#!/usr/bin/env node
// Build the optional native proof-of-work kernel (native/) with node-gyp. Run by the
// package's `install` script. The kernel is optional: on any failure this prints one line
// and exits 0, and the solver falls back to the WebAssembly kernel.
//   TLSLP_SKIP_NATIVE=1     skip the build
//   TLSLP_NATIVE_VERBOSE=1  show node-gyp's output
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const nativeDir = fileURLToPath(new URL('../native/', import.meta.url));
const verbose = process.env.TLSLP_NATIVE_VERBOSE === '1';
const FALLBACK = 'the WebAssembly kernel will be used';

function done(message) {
  console.log(`tlslp: ${message}`);
  process.exit(0);
}

/** [command, args prefix, use a shell] for running node-gyp, or null. */
function findNodeGyp() {
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
 * Build against the headers installed with this node when present (as Linux packages and
 * official tarballs ship them), so that node-gyp does not download them.
 */
function nodedirArgs() {
  if (process.env.npm_config_nodedir || process.platform === 'win32') return [];
  const root = resolve(dirname(process.execPath), '..');
  return existsSync(join(root, 'include/node/node_api.h')) ? [`--nodedir=${root}`] : [];
}

if (process.env.TLSLP_SKIP_NATIVE === '1')
  done(`native kernel not built (TLSLP_SKIP_NATIVE=1); ${FALLBACK}`);
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
