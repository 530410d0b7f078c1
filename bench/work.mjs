#!/usr/bin/env node
// @ts-check
/**
 * Proof-of-work solver benchmark (`npm run bench:work`, after `npm run build`).
 *
 * Default mode: every kernel that loads here, and every variant of the native kernel (the
 * one it chose at load by measurement marked as the default), on 1 thread and on all
 * threads, over a fixed number of candidates (n_bits 64, so nothing is found), next to a
 * reference measured in the same run: OpenSSL's single-core SHA-256 block rate (`openssl
 * speed -elapsed`, before and after the kernels), or Node's createHash when openssl is
 * missing. The rounds take turns over the kernels, and the best round of each counts.
 *
 *   node bench/work.mjs [--json] [--seconds S] [--repeat R] [--threads N]
 *   node bench/work.mjs --difficulty [--runs R] [--min-bits A] [--max-bits B] [--step S] [--json]
 *   node bench/work.mjs --versus PATH [--versus-runs R] [--versus-bits 16,20,24] [--versus-seed N]
 *                       [--versus-cpus LIST (taskset -c LIST for every command)] [--json]
 *
 * --versus: `bin/tlslp work` (and the Node CLI) and another solver with the original's interface, as
 * whole processes on the same seeded tokens (see bench/versus.mjs).
 *
 * With --json the last line of output is one JSON object with the results.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { opensslSha256 } from './openssl.mjs';
import { runVersus } from './versus.mjs';

const dist = new URL('../dist/solver/', import.meta.url);
if (!existsSync(fileURLToPath(new URL('pool.js', dist)))) {
  process.stderr.write('bench/work.mjs: dist/ is missing: run npm run build first\n');
  process.exit(2);
}
const { availableKernels, closeSolverPool, parseKernelChoice, solveWork } =
  await import('tlslp/solver');
const { BATCH_SIZE, measureKernel, startSolverPool } = await import('tlslp/bench');

const { values: opts } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    seconds: { type: 'string', default: '0.5' },
    repeat: { type: 'string', default: '3' },
    threads: { type: 'string' },
    difficulty: { type: 'boolean', default: false },
    runs: { type: 'string', default: '5' },
    'min-bits': { type: 'string', default: '16' },
    'max-bits': { type: 'string', default: '32' },
    step: { type: 'string', default: '4' },
    kernel: { type: 'string', default: 'auto' },
    versus: { type: 'string' },
    'versus-runs': { type: 'string', default: '9' },
    'versus-bits': { type: 'string', default: '16,20,24' },
    'versus-seed': { type: 'string', default: '1' },
    'versus-timeout': { type: 'string', default: '120' },
    'versus-cpus': { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (opts.help) {
  process.stdout.write(
    'usage: node bench/work.mjs [--json] [--seconds S] [--repeat R] [--threads N]\n' +
      '       node bench/work.mjs --difficulty [--runs R] [--min-bits A] [--max-bits B] [--step S] [--kernel K] [--threads N] [--json]\n' +
      '       node bench/work.mjs --versus PATH [--versus-runs R] [--versus-bits 16,20,24] [--versus-seed N] [--versus-timeout S] [--versus-cpus LIST] [--json]\n',
  );
  process.exit(0);
}

function positive(name, value, integer = true) {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    process.stderr.write(
      `bench/work.mjs: --${name} must be a positive ${integer ? 'integer' : 'number'}\n`,
    );
    process.exit(2);
  }
  return n;
}

const threadsAll = opts.threads ? positive('threads', opts.threads) : availableParallelism();
const command = `node bench/work.mjs ${process.argv.slice(2).join(' ')}`.trim();
const log = (line = '') => process.stdout.write(`${line}\n`);
const mhs = (rate) => (rate / 1e6).toFixed(2);

/** The native kernel's variant rates measured as it loaded (`sha-ni x6 73.6, …` M/s), or ''. */
function ratesText(kernel) {
  if (!kernel.rates) return '';
  const list = Object.entries(kernel.rates).map(([name, rate]) => `${name} ${rate.toFixed(1)}`);
  return `variants measured at load (M hashes/s, 1 thread): ${list.join(', ')}`;
}

/** Single-core SHA-256 compressions per second: openssl speed (see opensslSha256), else node:crypto. */
function reference(seconds) {
  try {
    const { blocksPerSecond, command: source } = opensslSha256(seconds);
    return { blocksPerSecond, source };
  } catch {
    // No openssl here: fall through to node:crypto.
  }
  const buffer = randomBytes(16384);
  let bytes = 0;
  const start = performance.now();
  while (performance.now() - start < seconds * 1000) {
    for (let i = 0; i < 64; i++) createHash('sha256').update(buffer).digest();
    bytes += 64 * buffer.length;
  }
  const elapsed = (performance.now() - start) / 1000;
  return {
    blocksPerSecond: bytes / elapsed / 64,
    source: 'node:crypto createHash over 16 KiB buffers',
  };
}

/** A candidate count worth `seconds` at `rate`, in whole pool batches. */
function candidatesFor(rate, seconds, batch) {
  return Math.max(batch, Math.ceil((rate * seconds) / batch) * batch);
}

function pad(cells, widths) {
  return cells
    .map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i])))
    .join('  ');
}

/** The fastest of `times` measurements: other load on the machine only ever slows a run down. */
async function bestOf(times, measure) {
  let best = null;
  for (let i = 0; i < times; i++) {
    const m = await measure();
    if (!best || m.hashesPerSecond > best.hashesPerSecond) best = m;
  }
  return best;
}

/**
 * @typedef {import('tlslp/bench').KernelMeasurement} Measurement
 * @typedef {object} BenchEntry One kernel or native variant to measure.
 * @property {import('tlslp/solver').KernelName} name
 * @property {import('tlslp/solver').KernelChoice} choice what measureKernel is asked for
 * @property {string} detail
 * @property {number} batch the pool's batch size for the kernel
 * @property {boolean} isDefault
 * @property {number} candidates1 per measurement on 1 thread (set by the calibration)
 * @property {number} candidatesAll per measurement on all threads
 * @property {Measurement} [one] the best on 1 thread
 * @property {Measurement} [all] the best on all threads
 * @property {number} [slowest1] the slowest round's rate on 1 thread
 * @property {number} [slowestAll] the slowest round's rate on all threads
 */

/**
 * What to measure: each native variant (`native:<detail>`, so the default one is measured
 * like the others), then the wasm and js kernels. `isDefault` marks the variant the native
 * kernel chose by its load-time measurement.
 */
function benchEntries(kernels) {
  /** @type {BenchEntry[]} */
  const entries = [];
  const calibrated = { candidates1: 0, candidatesAll: 0 };
  for (const k of kernels) {
    if (!k.available) continue;
    const batch = BATCH_SIZE[k.name];
    if (k.name === 'native') {
      const variants = Object.keys(k.kernel.rates ?? { [k.detail]: 0 });
      for (const detail of variants) {
        entries.push({
          name: k.name,
          choice: `native:${detail}`,
          detail,
          batch,
          isDefault: detail === k.detail,
          ...calibrated,
        });
      }
    } else {
      entries.push({
        name: k.name,
        choice: k.name,
        detail: k.detail,
        batch,
        isDefault: true,
        ...calibrated,
      });
    }
  }
  return entries;
}

/** The key of the highest `field` among `records` (an object of objects). */
function fastestOf(records, field) {
  let best = null;
  for (const [key, r] of Object.entries(records))
    if (!best || r[field] > records[best][field]) best = key;
  return best;
}

/**
 * The keys whose best `field` reaches the slowest round (`slowField`) of the leader `lead`: the
 * ones a rerun could rank first, since their gap to it is inside its own round-to-round spread.
 */
function withinNoise(records, lead, field, slowField) {
  const floor = records[lead][slowField];
  return Object.keys(records).filter((key) => records[key][field] >= floor);
}

async function kernelsMode() {
  const seconds = positive('seconds', opts.seconds, false);
  const repeat = positive('repeat', opts.repeat);
  const refSeconds = Math.max(1, Math.round(seconds));
  // The reference before and after the kernels; the faster counts (load only slows it down).
  const refRuns = [reference(refSeconds)];
  const kernels = await availableKernels();
  const found = kernels.find((k) => k.name === 'native');
  const native = found?.available ? found : undefined;
  const unavailable = {};
  for (const k of kernels) if (!k.available) unavailable[k.name] = k.reason;
  const entries = benchEntries(kernels);

  // Calibrate (and warm the JIT) so each measurement lasts about `seconds`; start the pool.
  // Eight batches per probe at the default 0.5 s, fewer for shorter runs (the tests' 0.03 s).
  const probeBatches = Math.min(8, Math.max(1, Math.round(seconds * 16)));
  for (const e of entries) {
    const probe = await bestOf(2, () => measureKernel(e.choice, 1, e.batch * probeBatches));
    e.candidates1 = candidatesFor(probe.hashesPerSecond, seconds, e.batch);
    e.candidatesAll = candidatesFor(
      probe.hashesPerSecond * threadsAll,
      seconds,
      e.batch * threadsAll,
    );
  }
  const first = entries[0];
  if (threadsAll > 1 && first) {
    await measureKernel(first.choice, threadsAll, first.batch * threadsAll * 2);
  }
  // Round by round, every entry in turn, so that a burst of load elsewhere hits all alike.
  /** @type {(old: Measurement | undefined, m: Measurement) => Measurement} */
  const keep = (old, m) => (!old || m.hashesPerSecond > old.hashesPerSecond ? m : old);
  /** @type {(old: number | undefined, m: Measurement) => number} */
  const slower = (old, m) => Math.min(old ?? Infinity, m.hashesPerSecond);
  for (let round = 0; round < repeat; round++) {
    for (const e of entries) {
      const m = await measureKernel(e.choice, 1, e.candidates1);
      e.one = keep(e.one, m);
      e.slowest1 = slower(e.slowest1, m);
    }
    if (threadsAll === 1) continue;
    for (const e of entries) {
      const m = await measureKernel(e.choice, threadsAll, e.candidatesAll);
      e.all = keep(e.all, m);
      e.slowestAll = slower(e.slowestAll, m);
    }
  }
  await closeSolverPool();
  refRuns.push(reference(refSeconds));
  const ref = refRuns.reduce((a, b) => (b.blocksPerSecond > a.blocksPerSecond ? b : a));
  const ratio = (m) => m.hashesPerSecond / m.threads / ref.blocksPerSecond;

  const rows = [];
  const json = {};
  const variants = {};
  for (const e of entries) {
    const one = /** @type {Measurement} */ (e.one);
    const all = e.all ?? one;
    for (const m of threadsAll > 1 ? [one, all] : [one]) {
      rows.push([
        e.name,
        e.detail,
        e.name === 'native' && e.isDefault ? 'yes' : '',
        m.threads,
        m.hashes,
        m.seconds.toFixed(2),
        mhs(m.hashesPerSecond),
        mhs(m.hashesPerSecond / m.threads),
        ratio(m).toFixed(2),
      ]);
    }
    const record = {
      threads1: one.hashesPerSecond,
      threadsAll: all.hashesPerSecond,
      slowestRound1: e.slowest1 ?? one.hashesPerSecond,
      slowestRoundAll: e.slowestAll ?? e.slowest1 ?? all.hashesPerSecond,
      detail: e.detail,
      perThreadVsReference1: ratio(one),
      perThreadVsReferenceAll: ratio(all),
    };
    if (e.name === 'native') variants[e.detail] = record;
    if (e.isDefault) {
      const rates = e.name === 'native' ? native?.kernel.rates : undefined;
      json[e.name] = rates ? { ...record, rates } : record;
    }
  }

  const header = [
    'kernel',
    'detail',
    'default',
    'threads',
    'candidates',
    'seconds',
    'M hashes/s',
    'M/s/thread',
    'x ref',
  ];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  log(
    `proof-of-work kernels and native variants: 1 and ${threadsAll} thread(s), best of ${repeat} round(s) of about ${seconds} s each (n_bits 64, nothing is found)`,
  );
  log();
  log(pad(header, widths));
  log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) log(pad(r, widths));
  log();
  log(
    `reference: ${mhs(ref.blocksPerSecond)} M SHA-256 blocks/s on one core (${ref.source}; ` +
      `best of ${refRuns.map((r) => mhs(r.blocksPerSecond)).join(' before and ')} after the kernels)`,
  );
  log(
    'x ref = per-thread rate / reference (one candidate is one 64-byte block after the midstate)',
  );
  let nativeSummary = null;
  if (native) {
    const fastest1 = fastestOf(variants, 'threads1');
    const fastestAll = fastestOf(variants, 'threadsAll');
    const chosen = variants[native.detail];
    nativeSummary = {
      default: native.detail,
      loadRates: native.kernel.rates ?? null,
      fastestThreads1: fastest1,
      fastestThreadsAll: fastestAll,
      defaultIsFastest: {
        threads1: fastest1 === native.detail,
        threadsAll: fastestAll === native.detail,
      },
      defaultVsFastest: {
        threads1: chosen.threads1 / variants[fastest1].threads1,
        threadsAll: chosen.threadsAll / variants[fastestAll].threadsAll,
      },
      fastestWithinNoise: {
        threads1: withinNoise(variants, fastest1, 'threads1', 'slowestRound1'),
        threadsAll: withinNoise(variants, fastestAll, 'threadsAll', 'slowestRoundAll'),
      },
      defaultAmongFastest: { threads1: false, threadsAll: false },
      variants,
    };
    nativeSummary.defaultAmongFastest = {
      threads1: nativeSummary.fastestWithinNoise.threads1.includes(native.detail),
      threadsAll: nativeSummary.fastestWithinNoise.threadsAll.includes(native.detail),
    };
    log(
      native.kernel.rates
        ? `native: default ${native.detail}, the fastest of its ${ratesText(native.kernel)}`
        : `native: ${native.detail}, forced (TLSLP_NATIVE_VARIANT or TLSLP_NATIVE_SCALAR)`,
    );
    log(
      `fastest variant here: ${fastest1} on 1 thread, ${fastestAll} on ${threadsAll}; the default ` +
        `runs at ${(nativeSummary.defaultVsFastest.threads1 * 100).toFixed(1)}% and ` +
        `${(nativeSummary.defaultVsFastest.threadsAll * 100).toFixed(1)}% of it`,
    );
    const band = nativeSummary.fastestWithinNoise;
    const among = nativeSummary.defaultAmongFastest;
    const where = (/** @type {boolean} */ yes) => (yes ? 'among them' : 'NOT among them');
    log(
      `within the leader's own spread over ${repeat} round(s) (best ≥ its slowest round): ` +
        `${band.threads1.join(', ')} on 1 thread; ${band.threadsAll.join(', ')} on ${threadsAll}. ` +
        `The default (${native.detail}) is ${where(among.threads1)} on 1 thread and ` +
        `${where(among.threadsAll)} on ${threadsAll}`,
    );
  }
  for (const [name, reason] of Object.entries(unavailable)) log(`${name}: unavailable (${reason})`);
  log(`command: ${command}`);

  if (opts.json) {
    const best = fastestOf(json, 'threadsAll');
    const bestAll = best ? json[best].threadsAll : 0;
    log(
      JSON.stringify({
        kernel: best,
        detail: best ? json[best].detail : null,
        threads: threadsAll,
        hashesPerSecond: bestAll,
        perThreadHashesPerSecond: bestAll / threadsAll,
        threads1HashesPerSecond: best ? json[best].threads1 : 0,
        referenceHashesPerSecond: ref.blocksPerSecond,
        referenceRuns: refRuns.map((r) => r.blocksPerSecond),
        referenceSource: ref.source,
        perThreadVsReference: bestAll / threadsAll / ref.blocksPerSecond,
        kernels: json,
        native: nativeSummary,
        unavailable,
        command,
      }),
    );
  }
}

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

async function difficultyMode() {
  const runs = positive('runs', opts.runs);
  const step = positive('step', opts.step);
  const minBits = Number(opts['min-bits']);
  const maxBits = Number(opts['max-bits']);
  if (
    ![minBits, maxBits].every((n) => Number.isInteger(n) && n >= 0 && n <= 64) ||
    minBits > maxBits
  ) {
    process.stderr.write(
      'bench/work.mjs: --min-bits and --max-bits must be integers with 0 <= min <= max <= 64\n',
    );
    process.exit(2);
  }
  const header = ['n_bits', 'runs', 'mean s', 'median s', 'min s', 'max s', 'M hashes/s'];
  const widths = [6, 4, 10, 10, 10, 10, 10];
  const rows = [];
  let kernel = null;
  log(
    `time to solve, random 64-character tokens, ${runs} run(s) per n_bits, ${threadsAll} thread(s)`,
  );
  log();
  log(pad(header, widths));
  log(widths.map((w) => '-'.repeat(w)).join('  '));
  // Untimed: start the pool threads and load the kernels, as a long-running client would have.
  const choice = parseKernelChoice(opts.kernel);
  const warm = await solveWork('warmup', 20, { kernel: choice, threads: threadsAll });
  if (threadsAll > 1) await startSolverPool(choice === 'auto' ? warm.kernel : choice, threadsAll);
  for (let nBits = minBits; nBits <= maxBits; nBits += step) {
    const seconds = [];
    let hashes = 0;
    for (let r = 0; r < runs; r++) {
      const token = randomBytes(48).toString('base64url');
      const result = await solveWork(token, nBits, { kernel: choice, threads: threadsAll });
      kernel = `${result.kernel} (${result.kernelDetail})`;
      seconds.push(result.seconds);
      hashes += result.hashes;
    }
    const total = seconds.reduce((a, b) => a + b, 0);
    const row = {
      nBits,
      runs,
      meanSeconds: total / runs,
      medianSeconds: median(seconds),
      minSeconds: Math.min(...seconds),
      maxSeconds: Math.max(...seconds),
      hashesPerSecond: total > 0 ? hashes / total : 0,
      seconds,
    };
    rows.push(row);
    log(
      pad(
        [
          nBits,
          runs,
          row.meanSeconds.toFixed(4),
          row.medianSeconds.toFixed(4),
          row.minSeconds.toFixed(4),
          row.maxSeconds.toFixed(4),
          mhs(row.hashesPerSecond),
        ],
        widths,
      ),
    );
  }
  await closeSolverPool();
  log();
  log(
    `kernel: ${kernel}; below 2^16 expected work a solve runs on the calling thread (below 2^22 when the pool is not up; it is here, after the warm-up)`,
  );
  log(`command: ${command}`);
  if (opts.json) {
    log(JSON.stringify({ mode: 'difficulty', kernel, threads: threadsAll, rows, command }));
  }
}

async function versusMode() {
  const bits = opts['versus-bits'].split(',').map((b) => Number(b.trim()));
  if (!bits.every((n) => Number.isInteger(n) && n >= 0 && n <= 40)) {
    process.stderr.write(
      'bench/work.mjs: --versus-bits must be integers from 0 to 40, e.g. 16,20,24\n',
    );
    process.exit(2);
  }
  // The kernel our solver will pick, described from this process (same code, same machine).
  const chosen = (await availableKernels()).find((k) => k.available);
  if (!chosen?.available) {
    process.stderr.write('bench/work.mjs: no solver kernel loads here\n');
    process.exit(1);
  }
  const rates = chosen.kernel.rates;
  const kernel = `kernel ${chosen.name} (${chosen.detail})${rates ? `; ${ratesText(chosen.kernel)}` : ''}`;
  try {
    runVersus(
      {
        versus: opts.versus,
        runs: positive('versus-runs', opts['versus-runs']),
        bits,
        seed: Number(opts['versus-seed']),
        timeoutMs: positive('versus-timeout', opts['versus-timeout'], false) * 1000,
        cpus: opts['versus-cpus'],
        json: opts.json,
        kernel,
        kernelJson: {
          kernel: chosen.name,
          kernelDetail: chosen.detail,
          ...(rates ? { kernelRates: rates } : {}),
        },
        command,
      },
      log,
    );
  } catch (err) {
    process.stderr.write(`bench/work.mjs: ${err.message}\n`);
    process.exit(1);
  }
}

if (opts.versus !== undefined) await versusMode();
else if (opts.difficulty) await difficultyMode();
else await kernelsMode();
