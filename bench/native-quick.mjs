// @ts-check
// Rate of each native kernel variant on 1 thread (pinned to one core with taskset) and on
// 2 threads (worker_threads), called from Node the way the solver calls it (whole 2^18
// windows, n_bits 64 so nothing hits), next to OpenSSL's one-core SHA-256 rate measured in
// the same run. Each measurement runs in a fresh child process; variants and the reference
// take turns round by round so that load from other processes hits all alike, and the
// figures are medians over the rounds. `window` is the median rate of single 2^18 scans,
// what a thread gets when it is not preempted (less sensitive to load than the rate). The
// ratio to a baseline variant of the same round (the SHA-NI kernel and the vector-extension
// AVX-512 build: `× sha-ni x6`, `× avx512-vec x16`) is the robust figure on a loaded machine.
//   npm run build && node scripts/build-native.mjs && node bench/native-quick.mjs [--help]
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { basename, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { prepareJob, SCAN_WINDOW, suffixFor } from 'tlslp/bench';
import { benchArgs } from './args.mjs';
import { opensslSha256 } from './openssl.mjs';

const SCRIPT = fileURLToPath(import.meta.url);
const DEFAULT_ADDON = fileURLToPath(
  new URL('../native/build/Release/tlslp_kernel.node', import.meta.url),
);
// Baselines: the first variant of the default addon whose name starts with each prefix.
const BASELINE_PREFIXES = ['sha-ni ', 'avx512-vec '];
const load = (path) => createRequire(import.meta.url)(path);

/**
 * Scan whole windows with `scan` for `seconds`; returns [hashes/s, median of the per-window
 * rates]. The second is what a window gets when the thread is not preempted in it, so it
 * moves much less with load from other processes than the first.
 */
function spin(scan, seconds, hiStart) {
  const job = prepareJob('benchmark-token-0123456789', 64);
  scan(job.midstate, job.tail, job.messageLength, 64, hiStart, 0, 1024); // warm-up
  let hashes = 0;
  let hi = hiStart;
  const start = process.hrtime.bigint();
  const end = start + BigInt(Math.round(seconds * 1e9));
  let now = start;
  const windows = [];
  while (now < end) {
    scan(job.midstate, job.tail, job.messageLength, 64, hi++ >>> 0, 0, SCAN_WINDOW);
    hashes += SCAN_WINDOW;
    const then = now;
    now = process.hrtime.bigint();
    windows.push(SCAN_WINDOW / (Number(now - then) / 1e9));
  }
  return [hashes / (Number(now - start) / 1e9), median(windows)];
}

/**
 * Child mode: measure one variant on `threads` threads and print its rate and its window
 * rate (see spin), summed over the threads, in hashes/s as JSON.
 */
async function measure(/** @type {string[]} */ argv) {
  const [addonPath, variant = '', secondsText, threadsText] = argv;
  const seconds = Number(secondsText);
  const threads = Number(threadsText);
  if (threads === 1) {
    const [rate, window] = spin(load(addonPath).variants[variant], seconds, 1);
    process.stdout.write(`${JSON.stringify({ rate, window })}\n`);
    return;
  }
  const results = await Promise.all(
    Array.from(
      { length: threads },
      (_, t) =>
        new Promise((resolveRate, reject) => {
          const worker = new Worker(SCRIPT, {
            workerData: { addonPath, variant, seconds, hi: 1 + t * 0x1000000 },
          });
          worker.once('message', resolveRate);
          worker.once('error', reject);
        }),
    ),
  );
  const sum = (k) => results.reduce((total, result) => total + result[k], 0);
  process.stdout.write(`${JSON.stringify({ rate: sum(0), window: sum(1) })}\n`);
}

if (!isMainThread) {
  const { addonPath, variant, seconds, hi } = workerData;
  parentPort?.postMessage(spin(load(addonPath).variants[variant], seconds, hi));
} else if (process.argv[2] === '--measure') {
  await measure(process.argv.slice(3));
} else {
  await main();
}

async function main() {
  const usage = `usage: node bench/native-quick.mjs [options]
  --seconds S    length of one measurement (default 1)
  --rounds N     measurements of each variant and thread count; medians are printed (default 5)
  --threads L    comma-separated thread counts (default 1,2)
  --only P       only variants whose name starts with P (baselines are always measured)
  --addon PATH   also measure the variants of another build of the addon (repeatable), e.g.
                 one built with -DTLSLP_AVX512_GROUPS=3; they are labelled with its file name
  --json         print the results as JSON
`;
  const { opts, int } = benchArgs('native-quick', usage, {
    seconds: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '5' },
    threads: { type: 'string', default: '1,2' },
    only: { type: 'string', default: '' },
    addon: { type: 'string', multiple: true, default: [] },
    json: { type: 'boolean', default: false },
  });
  const seconds = Number(opts.seconds);
  if (!(seconds > 0)) {
    process.stderr.write(`native-quick: --seconds must be a positive number\n${usage}`);
    process.exit(2);
  }
  const rounds = int('rounds', 1);
  const threadCounts = opts.threads.split(',').map(Number);
  if (!threadCounts.every((t) => Number.isInteger(t) && t >= 1)) {
    process.stderr.write(`native-quick: --threads must list positive integers\n${usage}`);
    process.exit(2);
  }

  const defaultNames = Object.keys(load(DEFAULT_ADDON).variants);
  const BASELINES = BASELINE_PREFIXES.map((p) => defaultNames.find((n) => n.startsWith(p))).filter(
    (name) => name !== undefined,
  );
  // [label, addon path, variant name] of everything to measure.
  const entries = [];
  for (const path of [DEFAULT_ADDON, ...opts.addon.map((p) => resolve(p))]) {
    for (const name of Object.keys(load(path).variants)) {
      const label = path === DEFAULT_ADDON ? name : `${name} [${basename(path)}]`;
      if (name.startsWith(opts.only) || (path === DEFAULT_ADDON && BASELINES.includes(name)))
        entries.push([label, path, name]);
    }
  }
  checkAll(entries);

  const pin = spawnSync('taskset', ['-c', '1', 'true']).status === 0 ? ['taskset', '-c', '1'] : [];
  // Run a command and return its stdout (stderr only shows for the children's errors).
  const run = (/** @type {string[]} */ [file = '', ...args]) =>
    execFileSync(file, args, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      timeout: 120_000,
    });
  const child = (path, name, threads) => [
    ...(threads === 1 ? pin : []),
    process.execPath,
    SCRIPT,
    '--measure',
    path,
    name,
    String(seconds),
    String(threads),
  ];

  const reference = []; // one-core OpenSSL compressions/s per round
  const rates = new Map(); // `${label}\t${threads}` -> rate per round
  const windowRates = new Map(); // the same for the window rates
  for (let round = 0; round < rounds; round++) {
    reference.push(opensslSha256(seconds, pin).blocksPerSecond);
    for (const threads of threadCounts) {
      for (const [label, path, name] of entries) {
        const key = `${label}\t${threads}`;
        const { rate, window } = JSON.parse(run(child(path, name, threads)));
        rates.set(key, [...(rates.get(key) ?? []), rate]);
        windowRates.set(key, [...(windowRates.get(key) ?? []), window]);
      }
    }
  }

  const ref = median(reference);
  const rows = [];
  for (const threads of threadCounts) {
    for (const [label] of entries) {
      const list = rates.get(`${label}\t${threads}`);
      const row = {
        variant: label,
        threads,
        medianMhs: median(list) / 1e6,
        minMhs: Math.min(...list) / 1e6,
        maxMhs: Math.max(...list) / 1e6,
        windowMhs: median(windowRates.get(`${label}\t${threads}`)) / 1e6,
        perThreadVsOpenssl: median(list) / threads / ref,
      };
      // Ratio to each baseline in the same round, then the median of those ratios.
      for (const base of BASELINES) {
        const baseList = rates.get(`${base}\t${threads}`);
        if (baseList) row[`vs ${base}`] = median(list.map((r, i) => r / baseList[i]));
      }
      rows.push(row);
    }
  }
  const refText =
    `openssl speed -elapsed -evp sha256 -bytes 16384${pin.length ? ' pinned to one core' : ''}: ` +
    `median ${(ref / 1e6).toFixed(1)} M compressions/s ` +
    `(${reference.map((r) => (r / 1e6).toFixed(1)).join(', ')})`;
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ rounds, seconds, reference: ref, rows }, null, 2)}\n`);
    return;
  }
  console.log(`${rounds} rounds of ${seconds} s; reference ${refText}`);
  const head = ['variant', 'threads', 'M hashes/s', 'min–max', 'window', '× OpenSSL/thread'];
  const present = BASELINES.filter((b) => rows.some((r) => r[`vs ${b}`] !== undefined));
  const columns = [...head, ...present.map((b) => `× ${b}`)];
  const table = [
    columns,
    ...rows.map((r) => [
      r.variant,
      String(r.threads),
      r.medianMhs.toFixed(1),
      `${r.minMhs.toFixed(1)}–${r.maxMhs.toFixed(1)}`,
      r.windowMhs.toFixed(1),
      r.perThreadVsOpenssl.toFixed(2),
      ...present.map((b) => (r[`vs ${b}`] ?? Number.NaN).toFixed(2)),
    ]),
  ];
  const widths = columns.map((_, c) => Math.max(...table.map((line) => String(line[c]).length)));
  for (const line of table) {
    console.log(
      line
        .map((cell, c) => (c === 0 ? cell.padEnd : cell.padStart).call(cell, widths[c]))
        .join('  '),
    );
  }
}

/** Every entry must agree with node:crypto before it is timed: a fast wrong kernel is worthless. */
function checkAll(entries) {
  const job = prepareJob('gkcjcibIFynKssuJnJpSrgvawiVjLjEbdFuYQzuWROTeTaSmqFCAzuwkwLCRgIIq', 8);
  const lastWord = (lo) =>
    createHash('sha256')
      .update(job.token + suffixFor(job, 7, lo))
      .digest()
      .readUInt32BE(28);
  let expected = -1;
  for (let i = 0; i < 4096 && expected < 0; i++)
    if ((lastWord(12345 + i) & 0xff) === 0) expected = i;
  for (const [label, path, name] of entries) {
    const got = load(path).variants[name](
      job.midstate,
      job.tail,
      job.messageLength,
      8,
      7,
      12345,
      4096,
    );
    if (got !== expected) throw new Error(`${label}: got ${got}, node:crypto says ${expected}`);
  }
}

function median(list) {
  const sorted = [...list].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
