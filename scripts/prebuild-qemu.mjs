#!/usr/bin/env node
// @ts-check
// Check the cross-built linux-arm64 prebuild on an x86-64 host: load it in an arm64 Node
// under qemu-user and compare its scans with node:crypto, for every variant it has; then run
// the arm64 solver program (prebuilds/linux-arm64/tlslp-solve, static: no sysroot needed)
// under qemu-user and compare its RESULT with this library's solve of the same work.
//
//   node scripts/prebuild-qemu.mjs [--sysroot DIR]
//
// Needs `npm run build` (for the job layout), `npm run build:prebuilds` with the cross
// compiler (prebuilds/linux-arm64/), and `apt-get install qemu-user`. The arm64 Node is
// Debian's own (nodejs:arm64 and the libraries it links), unpacked into DIR (default
// $TMPDIR/tlslp-arm64-node: outside the tree the linters read) on first use with
// `apt-get download` and `dpkg -x`. Nothing is installed on the host; apt's arm64 lists are
// kept in DIR too. Debian's Node is 18, with Node-API 9: enough for the addon's NAPI_VERSION 8.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const argv = process.argv.slice(2);
const at = argv.indexOf('--sysroot');
const sysroot = resolve((at >= 0 ? argv[at + 1] : undefined) ?? join(tmpdir(), 'tlslp-arm64-node'));

/** Debian bookworm: the arm64 Node and what it links or loads at start-up. */
const PACKAGES = [
  'nodejs:arm64',
  'libnode108:arm64',
  'libc6:arm64',
  'libgcc-s1:arm64',
  'libstdc++6:arm64',
  'libuv1:arm64',
  'libssl3:arm64',
  'libicu72:arm64',
  'libbrotli1:arm64',
  'zlib1g:arm64',
  'libc-ares2:arm64',
  'libnghttp2-14:arm64',
  'node-cjs-module-lexer',
  'node-undici',
  'node-acorn',
];

/**
 * @param {string} message
 * @returns {never}
 */
function die(message) {
  console.error(`prebuild-qemu: ${message}`);
  process.exit(1);
}

function run(command, args, options = {}) {
  const r = spawnSync(command, args, { encoding: 'utf8', ...options });
  if (r.error) die(`${command}: ${r.error.message}`);
  if (r.status !== 0)
    die(`${command} ${args.join(' ')} exited ${r.status}: ${r.stderr.trim().split('\n').at(-1)}`);
  return r.stdout;
}

/** Unpack Debian's arm64 Node into the sysroot (once). */
function setUpSysroot() {
  const node = join(sysroot, 'root/usr/bin/node');
  if (existsSync(node)) return node;
  console.log(`prebuild-qemu: unpacking Debian's arm64 Node into ${sysroot}`);
  const debs = join(sysroot, 'debs');
  for (const dir of ['lists/partial', 'cache/archives/partial', 'debs', 'root'])
    mkdirSync(join(sysroot, dir), { recursive: true });
  const apt = [
    '-o',
    'APT::Architectures::=amd64',
    '-o',
    'APT::Architectures::=arm64',
    '-o',
    `Dir::State::Lists=${join(sysroot, 'lists')}`,
    '-o',
    `Dir::Cache=${join(sysroot, 'cache')}`,
  ];
  run('apt-get', [...apt, '-qq', 'update']);
  run('apt-get', [...apt, 'download', ...PACKAGES], { cwd: debs });
  for (const deb of readdirSync(debs).filter((f) => f.endsWith('.deb')))
    run('dpkg', ['-x', join(debs, deb), join(sysroot, 'root')]);
  if (!existsSync(node)) die(`no usr/bin/node in ${sysroot}/root after unpacking`);
  return node;
}

// Runs in the arm64 Node: scan each job with every variant and print the offsets.
const PROBE = `
const addon = require(process.argv[1]);
const jobs = JSON.parse(process.argv[2]);
const out = { arch: process.arch, node: process.version, results: {} };
for (const [name, scan] of Object.entries(addon.variants)) {
  out.results[name] = jobs.map((j) =>
    scan(new Uint32Array(j.midstate), new Uint8Array(j.tail), j.messageLength, j.nBits, j.hi, j.lo, j.count));
}
console.log(JSON.stringify(out));
`;

const prebuildDir = join(root, 'prebuilds/linux-arm64');
const addonFile = existsSync(prebuildDir)
  ? readdirSync(prebuildDir).find((f) => f.endsWith('.node'))
  : undefined;
if (!addonFile)
  die(
    'no prebuilds/linux-arm64/*.node: run npm run build:prebuilds with gcc-aarch64-linux-gnu installed',
  );
if (spawnSync('qemu-aarch64', ['--version'], { stdio: 'ignore' }).status !== 0)
  die('qemu-aarch64 not found (apt-get install qemu-user)');
const layout = join(root, 'dist/solver/layout.js');
if (!existsSync(layout)) die('dist/ missing: run npm run build');
const { prepareJob, suffixFor, hitMask } = await import(layout);

// Tokens of one and two blocks, window edges, n_bits 0..20 and 32.
/** @type {[token: string, nBits: number, hi: number, lo: number, count: number][]} */
const cases = [
  ['armTestToken', 0, 7, 4096, 8192],
  ['armTestToken', 8, 7, 4096, 8192],
  ['armTestToken', 12, 0, (1 << 18) - 5000, 5000],
  ['gkcjcibIFynKssuJnJpSrgvawiVjLjEbdFuYQzuWROTeTaSmqFCAzuwkwLCRgIIq', 10, 3, 777, 20000],
  ['x'.repeat(100), 14, 0xffffffff, 0, 60000],
  ['short', 32, 1, 0, 3000],
];
const jobs = cases.map(([token, nBits, hi, lo, count]) => {
  const job = prepareJob(token, nBits);
  const mask = hitMask(nBits);
  let want = -1;
  for (let i = 0; i < count; i++) {
    const digest = createHash('sha256')
      .update(token + suffixFor(job, hi, lo + i))
      .digest();
    if ((digest.readUInt32BE(28) & mask) === 0) {
      want = i;
      break;
    }
  }
  const { midstate, tail, messageLength } = job;
  return {
    midstate: [...midstate],
    tail: [...tail],
    messageLength,
    nBits,
    hi,
    lo,
    count,
    want,
    token,
  };
});

const node = setUpSysroot();
const output = run(
  'qemu-aarch64',
  [
    '-L',
    join(sysroot, 'root'),
    node,
    '-e',
    PROBE,
    join(prebuildDir, addonFile),
    JSON.stringify(jobs),
  ],
  {
    timeout: 300_000,
  },
);
const probe = JSON.parse(output.trim().split('\n').at(-1) ?? '{}');
let bad = 0;
for (const [variant, offsets] of Object.entries(probe.results)) {
  offsets.forEach((got, i) => {
    const j = /** @type {(typeof jobs)[number]} */ (jobs[i]);
    if (got !== j.want) {
      bad++;
      console.error(
        `prebuild-qemu: ${variant}: ${j.token.slice(0, 12)}… nBits ${j.nBits}: ${got}, node:crypto says ${j.want}`,
      );
    }
  });
}
const variants = Object.keys(probe.results);
if (bad > 0 || variants.length === 0) die(`${bad} wrong answer(s)`);
console.log(
  `prebuild-qemu: ok: prebuilds/linux-arm64/${addonFile} on ${probe.arch} Node ${probe.node} (qemu): ` +
    `${variants.join(', ')} agree with node:crypto on ${jobs.length} scans`,
);

// The solver program: short and threaded (n_bits ≥ 22) solves, one- and two-block tokens.
const solverFile = join(prebuildDir, 'tlslp-solve');
if (!existsSync(solverFile)) die('no prebuilds/linux-arm64/tlslp-solve');
const { solveWork, closeSolverPool } = await import(join(root, 'dist/solver/index.js'));
/** @type {[token: string, nBits: number][]} */
const solves = [
  ['abc', 0],
  ['abc', 16],
  ['armTestToken', 12],
  ['gkcjcibIFynKssuJnJpSrgvawiVjLjEbdFuYQzuWROTeTaSmqFCAzuwkwLCRgIIq', 18],
  ['x'.repeat(100), 10],
  ['threadedArmSolve', 22],
];
for (const [token, nBits] of solves) {
  const printed = run('qemu-aarch64', [solverFile, token, String(nBits)], { timeout: 300_000 });
  const got = printed.split('\n').find((l) => l.startsWith('RESULT:'));
  const want = `RESULT:${(await solveWork(token, nBits)).suffix}`;
  if (got !== want)
    die(`tlslp-solve ${token.slice(0, 12)}… ${nBits}: ${got}, the library: ${want}`);
}
await closeSolverPool();
console.log(
  `prebuild-qemu: ok: prebuilds/linux-arm64/tlslp-solve (qemu): the library's answer on ${solves.length} solves`,
);
