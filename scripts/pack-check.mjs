#!/usr/bin/env node
// @ts-check
// Check the package as a consumer gets it: `npm pack` (which runs `prepack`, building the
// native kernel into prebuilds/, and `prepare`, the TypeScript build), install the tarball into
// an empty temp project, and run every bin from there.
//
//   node scripts/pack-check.mjs          (npm run pack:check)
//   --keep                               keep the temp folder and print where it is
//
// Two installs are checked:
//   1. a plain `npm install <tarball>`: what a consumer gets today. npm 11 lists the package
//      under "install scripts not yet covered by allowScripts"; the script reports whether
//      npm ran the `install` script (which uses the prebuild, or builds the native kernel
//      from source where none loads) or blocked it.
//   2. `npm install --ignore-scripts <tarball>`: what a consumer gets when install scripts are
//      blocked. The package must still work: on the native kernel where a prebuild for the
//      platform is shipped (linux-x64 always), else on the WebAssembly kernel.
// In both, every bin is a Node entry point that runs with only node on PATH (no sh: npm on
// Windows runs a bin through its shebang), and bin/tlslp, the sh fast path beside them, must
// run the shipped native solver program where one is shipped: it is run with no node on PATH.
// Exit status 0 when every check passes, 1 otherwise (the failing step is named).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pathWithoutNode } from './path-without-node.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const keep = process.argv.includes('--keep');
const started = Date.now();
const isWindows = process.platform === 'win32';

/** Files the tarball must hold (bin targets are added from package.json). */
const REQUIRED_FILES = [
  'package.json',
  'README.md',
  'LICENSE',
  'CHANGELOG.md',
  'dist/index.js',
  'dist/index.d.ts',
  'dist/solver/worker.js',
  'wasm/build/tlslp-simd.wasm',
  'wasm/build/tlslp-scalar.wasm',
  'native/binding.gyp',
  'scripts/build-native.mjs',
  'CONTRIBUTING.md',
  'docs/guide.md',
  'docs/errors.md',
  'docs/protocol.md',
  'contrib/systemd/tlslp-server.service',
  'contrib/prometheus/tlslp-alerts.yml',
  'contrib/grafana/tlslp-dashboard.json',
];
/** The prebuild the tarball must ship for this machine (scripts/prebuild.mjs makes it). */
const HOST_PREBUILD = `prebuilds/${process.platform}-${process.arch}/tlslp_kernel.glibc.node`;
/** The solver program bin/tlslp runs for `tlslp work <token> <n_bits>` (scripts/prebuild.mjs). */
const HOST_SOLVER = `prebuilds/${process.platform}-${process.arch}/tlslp-solve`;
/** Platforms whose prebuild is required: where the package is packed and published. */
const PREBUILD_REQUIRED = process.platform === 'linux' && process.arch === 'x64';
/** The shebang every bin starts with: each is a Node entry point (npm's cmd-shim reads it). */
const SHEBANGS = ['#!/usr/bin/env node'];
/** Folders that must not be shipped. */
const FORBIDDEN_PREFIXES = [
  'src/',
  'test/',
  'bench/',
  'coverage/',
  'docs/tutorial/',
  'certificates/',
  'native/build/',
  'node_modules/',
  '.github/',
  '.ci/',
];

const failures = [];
let stepNumber = 0;

function step(title) {
  stepNumber++;
  console.log(`\n[${stepNumber}] ${title}`);
}
function ok(message) {
  console.log(`    ok: ${message}`);
}
function note(message) {
  console.log(`    note: ${message}`);
}
function fail(message) {
  console.log(`    FAIL: ${message}`);
  failures.push(`[${stepNumber}] ${message}`);
}
/** A failure later steps cannot recover from. */
class Fatal extends Error {}
function fatal(message) {
  fail(message);
  throw new Fatal(message);
}

/** The environment for child commands: no npm lifecycle variables, no tlslp overrides. */
function childEnv(extra = {}) {
  const keepConfig = new Set([
    'npm_config_cache',
    'npm_config_registry',
    'npm_config_userconfig',
    'npm_config_globalconfig',
  ]);
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    const k = key.toLowerCase();
    if (k.startsWith('npm_') && !keepConfig.has(k)) continue;
    if (key.startsWith('TLSLP_')) continue;
    env[key] = value;
  }
  return { ...env, NO_COLOR: '1', ...extra };
}

/**
 * Run a command; never throws.
 * @param {string} command
 * @param {string[]} args
 * @param {{ cwd?: string, timeoutMs?: number, env?: NodeJS.ProcessEnv }} [options]
 */
function run(command, args, { cwd, timeoutMs = 60_000, env = childEnv() } = {}) {
  const result = spawnSync(command, args, {
    cwd,
    env,
    encoding: 'utf8',
    timeout: timeoutMs,
    maxBuffer: 16 * 1024 * 1024,
    shell: isWindows,
  });
  const shown = `${command} ${args.join(' ')}`;
  return {
    shown,
    status: result.status,
    stdout: result.stdout ?? '',
    stderr: result.stderr ?? '',
    error: result.error
      ? /** @type {NodeJS.ErrnoException} */ (result.error).code === 'ETIMEDOUT'
        ? `timed out after ${timeoutMs / 1000} s`
        : result.error.message
      : null,
  };
}

/** One line describing why a command failed. */
function whyFailed(r) {
  if (r.error) return `${r.shown}: ${r.error}`;
  const tail = `${r.stderr}\n${r.stdout}`
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(-4)
    .join(' | ');
  return `${r.shown} exited ${r.status}${tail ? `: ${tail}` : ''}`;
}

/** Run a bin with npx in `cwd` (never downloading anything) and return the result. */
function npx(cwd, bin, args, timeoutMs = 60_000) {
  return run('npx', ['--no', '--', bin, ...args], { cwd, timeoutMs });
}

/** Trailing zero bits of a digest read as a big-endian integer. */
function trailingZeroBits(digest) {
  let bits = 0;
  for (let i = digest.length - 1; i >= 0; i--) {
    const byte = digest[i];
    if (byte === 0) {
      bits += 8;
      continue;
    }
    let b = byte;
    while ((b & 1) === 0) {
      bits++;
      b >>= 1;
    }
    return bits;
  }
  return bits;
}

/**
 * Check `tlslp work <token> <bits>` (or tlslp-work) output with node:crypto. With
 * `withoutNode` (a PATH from scripts/path-without-node.mjs), `bin` is a file run directly on that PATH.
 */
function checkWork(cwd, bin, args, token, nBits, withoutNode = '') {
  const argv = [...args, token, String(nBits)];
  const r = withoutNode
    ? run(bin, argv, {
        cwd,
        env: childEnv({ PATH: withoutNode }),
      })
    : npx(cwd, bin, argv);
  if (r.status !== 0 || r.error) return fail(whyFailed(r));
  const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT:'));
  if (!line)
    return fail(`${r.shown}: no RESULT: line in ${JSON.stringify(r.stdout.slice(0, 200))}`);
  const suffix = line.slice('RESULT:'.length).trim();
  if (!/^[A-Za-z0-9_-]{1,128}$/.test(suffix)) {
    return fail(`${r.shown}: suffix ${JSON.stringify(suffix)} is not 1..128 of [A-Za-z0-9_-]`);
  }
  if (!/^Time: \d+(\.\d+)? seconds$/m.test(r.stdout)) {
    return fail(`${r.shown}: no "Time: <seconds> seconds" line`);
  }
  const digest = createHash('sha256')
    .update(token + suffix, 'utf8')
    .digest();
  const bits = trailingZeroBits(digest);
  if (bits < nBits) {
    return fail(
      `${r.shown}: sha256(${token} + ${suffix}) has ${bits} trailing zero bits, not ≥ ${nBits}`,
    );
  }
  const how = withoutNode ? ', no node on PATH' : '';
  ok(`${r.shown} → RESULT:${suffix} (verified: ${bits} ≥ ${nBits} trailing zero bits${how})`);
  const fallback = r.stderr.split('\n').find((l) => l.includes('note:'));
  if (fallback) note(fallback.trim());
  return suffix;
}

/**
 * bin/tlslp, the sh fast path (`work <token> <n_bits>`, and `<token> <n_bits>` as the
 * original's work_challenge), with no node on PATH: it must run the solver program the
 * package ships for this platform.
 */
function checkSolverProgram(cwd, pkgDir) {
  if (isWindows)
    return note('bin/tlslp is a POSIX sh launcher (the fast path): not checked on Windows');
  if (!existsSync(join(pkgDir, HOST_SOLVER))) {
    if (PREBUILD_REQUIRED) return fail(`${HOST_SOLVER} missing in the installed package`);
    return note(`no ${HOST_SOLVER} shipped: tlslp work runs the Node CLI here`);
  }
  let path;
  try {
    path = pathWithoutNode(join(work, 'path-without-node'));
  } catch (error) {
    return fatal(error instanceof Error ? error.message : String(error));
  }
  const launcher = join(pkgDir, 'bin', 'tlslp');
  checkWork(cwd, launcher, ['work'], 'abc', 16, path);
  checkWork(cwd, launcher, [], 'abc', 20, path);
}

/**
 * Every bin as `node <target> --version`, without a shell and with only node on PATH: what
 * npm's cmd-shim runs on Windows, where there is no sh.
 */
function checkNodeEntryPoints(pkgDir, pkg) {
  const dir = join(work, 'node-only-path');
  mkdirSync(dir, { recursive: true });
  const node = join(dir, isWindows ? 'node.exe' : 'node');
  if (!existsSync(node)) symlinkSync(process.execPath, node);
  for (const [name, target] of Object.entries(pkg.bin ?? {})) {
    const r = spawnSync(process.execPath, [join(pkgDir, target), '--version'], {
      env: childEnv({ PATH: dir }),
      encoding: 'utf8',
      timeout: 30_000,
    });
    if (r.status !== 0 || r.stdout.trim() !== pkg.version)
      fail(
        `node ${target} --version (${name}, only node on PATH) exited ${r.status}: ${r.stderr.trim().split('\n')[0] ?? ''}`,
      );
    else ok(`${name}: node ${target} --version → ${pkg.version} (no shell, only node on PATH)`);
  }
}

/**
 * require() every subpath of the exports map from a .cjs file: Node ≥ 20.19 loads ES modules
 * without top-level await that way. Older Node says ERR_REQUIRE_ESM (the README says so).
 */
function checkRequire(cwd, pkg) {
  if (!process.features.require_module)
    return note(`node ${process.version} cannot require() ES modules: not checked`);
  const subpaths = Object.keys(pkg.exports ?? {})
    .filter((k) => typeof pkg.exports[k] === 'object')
    .map((k) => (k === '.' ? 'tlslp' : `tlslp/${k.slice(2)}`));
  const file = join(cwd, 'require-check.cjs');
  writeFileSync(
    file,
    `for (const s of ${JSON.stringify(subpaths)}) if (Object.keys(require(s)).length === 0) throw new Error(s + ' exports nothing');\n` +
      `if (typeof require('tlslp').runClient !== 'function') throw new Error('no runClient');\n`,
  );
  const r = run(process.execPath, [file], { cwd });
  if (r.status !== 0 || r.error) return fail(whyFailed(r));
  if (r.stderr.trim())
    return fail(`${r.shown} printed on stderr: ${r.stderr.trim().split('\n')[0]}`);
  ok(`require() of ${subpaths.length} subpaths from a .cjs file works`);
}

/** Which kernels the installed package can load, and which `auto` picks. */
const KERNEL_PROBE = `
import * as tlslp from 'tlslp';
const out = { exports: typeof tlslp.solveWork };
if (typeof tlslp.availableKernels === 'function') {
  out.kernels = (await tlslp.availableKernels()).map((k) =>
    k.available ? { name: k.name, detail: k.detail } : { name: k.name, reason: k.reason });
}
const r = await tlslp.solveWork('abc', 8, { threads: 1 });
out.auto = { kernel: r.kernel, detail: r.kernelDetail, fallbackReason: r.fallbackReason ?? null };
const native = (await tlslp.availableKernels?.())?.find((k) => k.name === 'native' && k.available);
out.rates = native?.kernel.rates ?? null;
await tlslp.closeSolverPool?.();
console.log(JSON.stringify(out));
`;

function probeKernels(cwd) {
  const r = run(process.execPath, ['--input-type=module', '-e', KERNEL_PROBE], { cwd });
  if (r.status !== 0 || r.error) {
    fail(`importing the installed package failed: ${whyFailed(r)}`);
    return null;
  }
  let info;
  try {
    info = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '');
  } catch {
    fail(`kernel probe printed ${JSON.stringify(r.stdout.slice(0, 200))}`);
    return null;
  }
  for (const k of info.kernels ?? []) {
    if (k.detail) ok(`kernel ${k.name}: available (${k.detail})`);
    else note(`kernel ${k.name}: unavailable (${k.reason})`);
  }
  ok(`auto picks: ${info.auto.kernel} (${info.auto.detail})`);
  if (info.rates) {
    const rates = Object.entries(info.rates).map(([d, r]) => `${d} ${r}`);
    ok(`native variants measured at load (M hashes/s): ${rates.join(', ')}`);
  }
  return info;
}

/** Make an empty consumer project and install the tarball into it. */
function install(dir, tarball, extraArgs) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'package.json'),
    `${JSON.stringify({ name: 'tlslp-pack-check-consumer', version: '1.0.0', private: true, type: 'module' }, null, 2)}\n`,
  );
  const r = run(
    'npm',
    // --prefer-offline: the dependencies come from npm's cache (npm ci just filled it) without
    // asking the registry whether each cached packument is still fresh.
    [
      'install',
      tarball,
      '--no-audit',
      '--no-fund',
      '--prefer-offline',
      '--foreground-scripts',
      ...extraArgs,
    ],
    { cwd: dir, timeoutMs: 180_000 },
  );
  if (r.status !== 0 || r.error) fatal(`install failed: ${whyFailed(r)}`);
  const pkgDir = join(dir, 'node_modules', 'tlslp');
  if (!existsSync(join(pkgDir, 'package.json'))) fatal(`${pkgDir} missing after install`);
  ok(`npm install ${extraArgs.join(' ')}${extraArgs.length ? ' ' : ''}<tarball> (${dir})`);
  return { output: `${r.stdout}\n${r.stderr}`, pkgDir };
}

/** Report what npm did with the package's install script (it builds the native kernel). */
function reportInstallScript(output, pkgDir) {
  const lines = output.split('\n').map((l) => l.trim());
  const ourLine = lines.find((l) => l.startsWith('tlslp: native kernel'));
  const prebuilt = ourLine?.startsWith('tlslp: native kernel prebuilt') === true;
  // npm 11 lists packages whose install scripts allowScripts does not cover yet.
  const policy = lines
    .filter((l) => /^npm (warn|notice|error) install-scripts\s+\S/.test(l))
    .map((l) => l.replace(/^npm (warn|notice|error) install-scripts\s+/, ''));
  const addon =
    prebuilt || existsSync(join(pkgDir, 'native', 'build', 'Release', 'tlslp_kernel.node'));
  const ran = ourLine !== undefined || existsSync(join(pkgDir, 'native', 'build'));
  for (const l of policy) note(`npm: ${l}`);
  if (ran) {
    ok(
      `npm ran the install script: ${ourLine ?? (addon ? 'native kernel built' : 'no addon built')}`,
    );
  } else {
    note('npm did NOT run the install script (blocked by the allowScripts policy)');
    note('to enable the native kernel: npm install-scripts approve tlslp && npm rebuild tlslp');
  }
  return { ran, addon };
}

function checkTarball(info, pkg) {
  const files = new Set(info.files.map((f) => f.path));
  const required = [
    ...REQUIRED_FILES,
    ...(PREBUILD_REQUIRED ? [HOST_PREBUILD, HOST_SOLVER] : []),
    ...Object.values(pkg.bin ?? {}).map((p) => p.replace(/^\.\//, '')),
  ];
  const missing = required.filter((f) => !files.has(f));
  if (missing.length > 0) fail(`tarball lacks ${missing.join(', ')}`);
  else ok(`tarball holds the ${required.length} required files`);
  const prebuilds = [...files].filter((f) => f.startsWith('prebuilds/'));
  if (prebuilds.length > 0) ok(`prebuilt native kernels: ${prebuilds.join(', ')}`);
  else note(`no prebuilt native kernel shipped (installs build it from source)`);
  // Every relative link of the README and the docs must resolve inside the tarball
  // (CONTRIBUTING.md, shipped as the README links it, is about the repository's own files).
  const broken = [];
  for (const doc of [...files].filter((f) => f === 'README.md' || /^docs\/[^/]+\.md$/.test(f))) {
    const text = readFileSync(join(root, doc), 'utf8');
    for (const [, target = ''] of text.matchAll(/\]\(([^)\s#]+)(?:#[^)]*)?\)/g)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue;
      const path = join(dirname(doc), target).replace(/\\/g, '/');
      if (!files.has(path) && ![...files].some((f) => f.startsWith(`${path}/`)))
        broken.push(`${doc} → ${target}`);
    }
  }
  if (broken.length > 0) fail(`links to files the tarball lacks: ${broken.join(', ')}`);
  else ok('every relative link of the README and docs/*.md resolves in the tarball');
  const forbidden = [...files].filter(
    (f) =>
      FORBIDDEN_PREFIXES.some((p) => f.startsWith(p)) || f.endsWith('.tgz') || /\.test\./.test(f),
  );
  if (forbidden.length > 0)
    fail(`tarball ships files it should not: ${forbidden.slice(0, 10).join(', ')}`);
  else ok(`no sources, tests, build trees or certificates shipped`);
  ok(`${info.filename}: ${info.files.length} files, ${(info.size / 1024).toFixed(0)} KiB packed`);
}

function checkManifest(pkgDir, pkg) {
  const problems = [];
  if (!pkg.engines?.node) problems.push('no engines.node');
  for (const field of ['repository', 'homepage', 'bugs'])
    if (!pkg[field]) problems.push(`no ${field}`);
  for (const [subpath, conditions] of Object.entries(pkg.exports ?? {}))
    if (typeof conditions === 'object' && conditions.require !== conditions.import)
      problems.push(`exports ${subpath}: require is not the import entry`);
  if (pkg.type !== 'module') problems.push('type is not "module"');
  const types = pkg.exports?.['.']?.types ?? pkg.types;
  if (!types || !existsSync(join(pkgDir, types))) problems.push(`types file ${types} missing`);
  const main = pkg.exports?.['.']?.import ?? pkg.main;
  if (!main || !existsSync(join(pkgDir, main))) problems.push(`entry ${main} missing`);
  for (const [name, target] of Object.entries(pkg.bin ?? {})) {
    const file = join(pkgDir, target);
    if (!existsSync(file)) problems.push(`bin ${name} → ${target} missing`);
    else if (!SHEBANGS.some((line) => readFileSync(file, 'utf8').startsWith(`${line}\n`))) {
      problems.push(`bin ${name} → ${target} starts with none of ${SHEBANGS.join(', ')}`);
    }
  }
  if (problems.length > 0) fail(`installed package.json: ${problems.join('; ')}`);
  else
    ok(
      `exports, types, bin (${Object.keys(pkg.bin ?? {}).join(', ')}) and engines (node ${pkg.engines.node}) resolve`,
    );
}

function checkHelp(cwd, bin, args, expect) {
  const r = npx(cwd, bin, args);
  if (r.status !== 0 || r.error) return fail(whyFailed(r));
  if (!r.stdout.includes(expect)) {
    return fail(
      `${r.shown}: output lacks ${JSON.stringify(expect)}: ${JSON.stringify(r.stdout.slice(0, 200))}`,
    );
  }
  ok(`${r.shown} (${r.stdout.trim().split('\n')[0]})`);
}

function checkVersion(cwd, bin, version) {
  const r = npx(cwd, bin, ['--version']);
  if (r.status !== 0 || r.error) return fail(whyFailed(r));
  if (r.stdout.trim() !== version) {
    return fail(`${r.shown} printed ${JSON.stringify(r.stdout.trim())}, expected ${version}`);
  }
  ok(`${r.shown} → ${version}`);
}

/** The local build of the addon (npm ci's install script): the prebuild must leave it alone. */
const LOCAL_ADDON = join(root, 'native', 'build', 'Release', 'tlslp_kernel.node');

/** What identifies a file's version: its size and modification time; null when it is absent. */
function stamp(file) {
  if (!existsSync(file)) return null;
  const { size, mtimeMs } = statSync(file);
  return `${size} ${mtimeMs}`;
}

/**
 * What `npm pack` ran for the prebuild (prepack: scripts/prebuild.mjs): its line for this
 * platform, nothing on stderr but npm's own lines, no arm64 line without the cross compiler,
 * the developer's own native/build untouched (the build runs in a copy), and the prebuilt addon
 * exporting the local build's variants.
 */
function checkPrebuild(packed, localBefore) {
  const host = `${process.platform}-${process.arch}`;
  const lines = packed.stdout.split('\n').filter((l) => l.startsWith('prebuild: '));
  const own = lines.find((l) => l.startsWith(`prebuild: ${host}: prebuilds/${host}/`));
  if (own) ok(own);
  else fail(`npm pack printed no "prebuild: ${host}: prebuilds/${host}/…" line`);
  const stray = packed.stderr
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('> ') && !l.startsWith('npm '));
  if (stray.length > 0) fail(`npm pack printed on stderr: ${stray.slice(0, 5).join(' | ')}`);
  const crossCc = spawnSync('aarch64-linux-gnu-gcc', ['--version']).status === 0;
  if (!crossCc && lines.some((l) => /arm64/.test(l)))
    fail(`a prebuild line names arm64 without its cross compiler: ${lines.join(' | ')}`);
  if (stamp(LOCAL_ADDON) !== localBefore) fail('npm pack changed native/build (the local build)');
  if (localBefore === null) return note('no local native build: prebuild variants not compared');
  const prebuilt = join(root, HOST_PREBUILD);
  if (!existsSync(prebuilt)) return;
  const require = createRequire(import.meta.url);
  const variants = (path) => Object.keys(require(path).variants).join(', ');
  if (variants(prebuilt) !== variants(LOCAL_ADDON))
    fail(
      `${HOST_PREBUILD} exports ${variants(prebuilt)}, the local build ${variants(LOCAL_ADDON)}`,
    );
  else ok(`${HOST_PREBUILD} exports the local build's variants (${variants(prebuilt)})`);
}

const work = mkdtempSync(join(tmpdir(), 'tlslp-pack-check-'));
let summary = '';
try {
  step('npm pack (runs prepack: the native prebuilds, and prepare: the TypeScript build)');
  const packDir = join(work, 'pack');
  mkdirSync(packDir);
  const localBefore = stamp(LOCAL_ADDON);
  const packed = run('npm', ['pack', '--json', '--pack-destination', packDir], {
    cwd: root,
    timeoutMs: 180_000,
  });
  if (packed.status !== 0 || packed.error) fatal(whyFailed(packed));
  checkPrebuild(packed, localBefore);
  let info;
  try {
    // The build's own output may precede the JSON.
    info = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('[')))[0];
  } catch {
    fatal(`npm pack --json printed no JSON: ${packed.stdout.slice(0, 200)}`);
  }
  const tarball = join(packDir, info.filename);
  if (!existsSync(tarball)) fatal(`${tarball} not written`);
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  checkTarball(info, pkg);

  step('install the tarball into an empty project (as a consumer does)');
  const consumer = join(work, 'consumer');
  const { output, pkgDir } = install(consumer, tarball, []);
  const script = reportInstallScript(output, pkgDir);
  const installed = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
  checkManifest(pkgDir, installed);
  checkNodeEntryPoints(pkgDir, installed);

  step('run the bins with npx');
  checkHelp(consumer, 'tlslp-server', ['--help'], 'Usage: tlslp-server');
  checkHelp(consumer, 'tlslp-client', ['--help'], 'Usage: tlslp-client');
  checkHelp(consumer, 'tlslp', ['--help'], 'Usage: tlslp');
  checkVersion(consumer, 'tlslp', info.version);
  checkWork(consumer, 'tlslp', ['work'], 'abc', 16);
  checkVersion(consumer, 'tlslp-work', info.version);
  checkSolverProgram(consumer, pkgDir);

  step('a CommonJS consumer (require of the ES modules, Node ≥ 20.19)');
  checkRequire(consumer, JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')));

  step('kernels of the installed package');
  const kernels = probeKernels(consumer);
  if (kernels && script.addon && kernels.auto.kernel !== 'native') {
    fail(
      `the native addon was built but auto picked ${kernels.auto.kernel}: ${kernels.auto.fallbackReason}`,
    );
  }

  step('install with install scripts blocked (npm install --ignore-scripts)');
  const blocked = join(work, 'consumer-no-scripts');
  const b = install(blocked, tarball, ['--ignore-scripts']);
  if (existsSync(join(b.pkgDir, 'native', 'build')))
    fail('native/build exists although scripts were ignored');
  checkWork(blocked, 'tlslp-work', [], 'abc', 16);
  checkSolverProgram(blocked, b.pkgDir);
  const fallback = probeKernels(blocked);
  const shipsPrebuild = existsSync(join(b.pkgDir, HOST_PREBUILD));
  if (shipsPrebuild) {
    // No compiler ran: the shipped prebuild must be what loads.
    if (fallback && fallback.auto.kernel !== 'native')
      fail(
        `a prebuild is shipped for ${process.platform}-${process.arch} but auto picked ${fallback.auto.kernel}: ${fallback.auto.fallbackReason}`,
      );
    checkWork(blocked, 'tlslp', ['work', '--kernel', 'native'], 'abc', 16);
  } else if (PREBUILD_REQUIRED) {
    fail(`no prebuild for ${process.platform}-${process.arch} in the installed package`);
  } else if (fallback && fallback.auto.kernel === 'native') {
    fail('auto picked native without an addon');
  }

  const kernelText = kernels ? `${kernels.auto.kernel} (${kernels.auto.detail})` : 'unknown';
  const fallbackText = fallback ? `${fallback.auto.kernel} (${fallback.auto.detail})` : 'unknown';
  summary =
    `installed package uses the ${kernelText} kernel; ` +
    `install script ${script.ran ? 'ran' : 'was blocked'}; ` +
    `with scripts blocked it uses ${fallbackText}`;
} catch (err) {
  if (!(err instanceof Fatal))
    fail(`unexpected error: ${err instanceof Error ? err.stack : String(err)}`);
} finally {
  if (keep) console.log(`\nkept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}

const seconds = ((Date.now() - started) / 1000).toFixed(1);
if (failures.length > 0) {
  console.error(
    `\npack-check: FAILED (${failures.length} problem${failures.length > 1 ? 's' : ''}, ${seconds} s):`,
  );
  for (const f of failures) console.error(`  ${f}`);
  process.exitCode = 1;
} else {
  console.log(`\npack-check: OK in ${seconds} s: ${summary}`);
}
