#!/usr/bin/env node
// @ts-check
/**
 * Proof-of-work solver benchmark (`npm run bench:work`, after `npm run build`).
 *
 * Default mode: every kernel that loads here, on 1 thread and on all threads, over a fixed
 * number of candidates (n_bits 64, so nothing is found), next to a reference measured in
 * the same run: OpenSSL's single-core SHA-256 block rate (`openssl speed`), or Node's
 * createHash when openssl is missing.
 *
 *   node bench/work.mjs [--json] [--seconds S] [--repeat R] [--threads N]
 *   node bench/work.mjs --difficulty [--runs R] [--min-bits A] [--max-bits B] [--step S] [--json]
 *   node bench/work.mjs --versus PATH [--versus-runs R] [--versus-bits 16,20,24] [--versus-seed N]
 *                       [--versus-cpus LIST (taskset -c LIST for every command)] [--json]
 *
 * --versus: `node dist/cli/work.js` and another solver with the original's interface, as
 * whole processes on the same seeded tokens (see bench/versus.mjs).
 *
 * With --json the last line of output is one JSON object with the results.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
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
    seconds: { type: 'string', default: '1' },
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

/** The native kernel's variant rates measured as it loaded (`sha-ni x3 67.1, …` M/s), or ''. */
function ratesText(kernel) {
  if (!kernel.rates) return '';
  const list = Object.entries(kernel.rates).map(([name, rate]) => `${name} ${rate.toFixed(1)}`);
  return `variants measured at load (M hashes/s, 1 thread): ${list.join(', ')}`;
}

/** Single-core SHA-256 compressions per second: openssl speed, else node:crypto. */
function reference() {
  const seconds = 2;
  const args = ['speed', '-evp', 'sha256', '-bytes', '16384', '-seconds', String(seconds)];
  try {
    const out = execFileSync('openssl', args, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 30_000,
    });
    // "sha256   1762451.46k": thousands of bytes per second.
    const match = /^sha256\s+([\d.]+)k\s*$/m.exec(out);
    if (match) {
      return {
        blocksPerSecond: (Number(match[1]) * 1000) / 64,
        source: `openssl ${args.join(' ')}`,
      };
    }
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

async function kernelsMode() {
  const seconds = positive('seconds', opts.seconds, false);
  const repeat = positive('repeat', opts.repeat);
  const ref = reference();
  const kernels = await availableKernels();
  const rows = [];
  const json = {};
  const unavailable = {};
  const variantLines = [];
  for (const k of kernels) {
    if (!k.available) {
      unavailable[k.name] = k.reason;
      continue;
    }
    const batch = BATCH_SIZE[k.name];
    // Calibrate (and warm the JIT) so each measurement lasts about `seconds`.
    const probe = await bestOf(2, () => measureKernel(k.name, 1, batch * 8));
    const one = await bestOf(repeat, () =>
      measureKernel(k.name, 1, candidatesFor(probe.hashesPerSecond, seconds, batch)),
    );
    let all = one;
    if (threadsAll > 1) {
      await measureKernel(k.name, threadsAll, batch * threadsAll * 2); // start the pool threads
      const candidates = candidatesFor(
        one.hashesPerSecond * threadsAll,
        seconds,
        batch * threadsAll,
      );
      all = await bestOf(repeat, () => measureKernel(k.name, threadsAll, candidates));
    }
    for (const m of threadsAll > 1 ? [one, all] : [one]) {
      const perThread = m.hashesPerSecond / m.threads;
      rows.push([
        k.name,
        k.detail,
        m.threads,
        m.hashes,
        m.seconds.toFixed(2),
        mhs(m.hashesPerSecond),
        mhs(perThread),
        (perThread / ref.blocksPerSecond).toFixed(2),
      ]);
    }
    json[k.name] = {
      threads1: one.hashesPerSecond,
      threadsAll: all.hashesPerSecond,
      detail: k.detail,
      ...(k.kernel.rates ? { rates: k.kernel.rates } : {}),
    };
    if (k.kernel.rates) variantLines.push(`${k.name}: ${ratesText(k.kernel)}`);
  }
  await closeSolverPool();

  const header = [
    'kernel',
    'detail',
    'threads',
    'candidates',
    'seconds',
    'M hashes/s',
    'M/s/thread',
    'x ref',
  ];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  log(
    `proof-of-work kernels: 1 and ${threadsAll} thread(s), best of ${repeat} run(s) of about ${seconds} s (n_bits 64, nothing is found)`,
  );
  log();
  log(pad(header, widths));
  log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) log(pad(r, widths));
  log();
  log(`reference: ${mhs(ref.blocksPerSecond)} M SHA-256 blocks/s on one core (${ref.source})`);
  log(
    'x ref = per-thread rate / reference (one candidate is one 64-byte block after the midstate)',
  );
  for (const line of variantLines) log(line);
  for (const [name, reason] of Object.entries(unavailable)) log(`${name}: unavailable (${reason})`);
  log(`command: ${command}`);

  if (opts.json) {
    let best = null;
    for (const [name, r] of Object.entries(json))
      if (!best || r.threadsAll > json[best].threadsAll) best = name;
    const bestAll = best ? json[best].threadsAll : 0;
    log(
      JSON.stringify({
        kernel: best,
        threads: threadsAll,
        hashesPerSecond: bestAll,
        perThreadHashesPerSecond: bestAll / threadsAll,
        referenceHashesPerSecond: ref.blocksPerSecond,
        referenceSource: ref.source,
        kernels: json,
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
