// @ts-check
/**
 * `node bench/work.mjs --versus PATH`: our `tlslp work` against any solver with the
 * original's interface (`<solver> <token> <n_bits>` prints `RESULT:<suffix>`), both run as
 * whole processes on the same seeded tokens and difficulties, wall time per run as
 * hyperfine measures it (spawn to exit), medians side by side. Ours is `bin/tlslp work`, the
 * command users run (the native solver program when this checkout has it); the Node CLI
 * (`node dist/cli/work.js`) is timed on the same tokens as a third column. Every suffix is
 * checked with node:crypto. `node -e 0` is timed in the same run: the floor any Node program
 * starts from.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { pathWithoutNode } from '../scripts/path-without-node.mjs';

const OURS = fileURLToPath(new URL('../bin/tlslp', import.meta.url));
const NODE_CLI = fileURLToPath(new URL('../dist/cli/work.js', import.meta.url));
const { trailingZeroBits } = await import('tlslp/protocol');
const TOKEN_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-';

/** mulberry32: the same seed gives the same tokens on every run and machine. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** `count` 64-character tokens from `seed`. */
export function seededTokens(seed, count) {
  const random = prng(seed);
  return Array.from({ length: count }, () =>
    Array.from({ length: 64 }, () => TOKEN_CHARS[Math.floor(random() * 64)]).join(''),
  );
}

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** What `bin/tlslp work` runs here: the native solver program, or the Node CLI without one. */
function oursRuns(ours) {
  // On a PATH with what the launcher needs but no node, only the native path can succeed.
  const dir = mkdtempSync(join(tmpdir(), 'tlslp-versus-'));
  try {
    pathWithoutNode(dir);
    const env = { ...process.env, PATH: dir };
    const r = spawnSync(ours.file, [...ours.args, 'abc', '1'], { env, stdio: 'ignore' });
    return r.status === 0
      ? 'the native solver program, no Node'
      : 'no native solver program here: the Node CLI';
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Run one command to its exit; wall seconds and stdout. Throws on a failure or a timeout. */
function timed(file, args, timeoutMs) {
  const start = performance.now();
  const r = spawnSync(file, args, { encoding: 'utf8', timeout: timeoutMs, stdio: 'pipe' });
  const seconds = (performance.now() - start) / 1000;
  if (r.error) throw new Error(`${file}: ${r.error.message}`);
  if (r.status !== 0) {
    throw new Error(`${file} ${args.join(' ')} exited ${r.status ?? r.signal}: ${r.stderr.trim()}`);
  }
  return { seconds, stdout: r.stdout };
}

/** One solve by `file`: wall seconds, the suffix, verified with node:crypto. */
function solveOnce(name, file, args, token, nBits, timeoutMs) {
  const { seconds, stdout } = timed(file, [...args, token, String(nBits)], timeoutMs);
  const line = stdout.split('\n').find((l) => l.startsWith('RESULT:'));
  if (line === undefined) throw new Error(`${name}: no RESULT: line for ${token} ${nBits}`);
  const suffix = line.slice('RESULT:'.length).trimEnd();
  const bits = trailingZeroBits(
    createHash('sha256')
      .update(token + suffix)
      .digest(),
  );
  if (bits < nBits) {
    throw new Error(`${name}: suffix '${suffix}' for ${token} has ${bits} < ${nBits} zero bits`);
  }
  return seconds;
}

/**
 * Run the comparison. `opts`: versus (path), runs, bits (array), seed, timeoutMs, cpus
 * (a taskset CPU list, optional), json,
 * kernel (a line describing our kernel) and command (the command line, printed).
 * Returns the result object (also printed as the last line with `json`).
 */
export function runVersus(opts, log) {
  const { versus, runs, bits, seed, timeoutMs, cpus } = opts;
  // With `cpus`, every command runs under `taskset -c cpus`: less noise from the rest of the machine.
  const pinned = (file, args) =>
    cpus === undefined ? { file, args } : { file: 'taskset', args: ['-c', cpus, file, ...args] };
  const ours = { name: 'ours', ...pinned(OURS, ['work']) };
  const node = { name: 'node', ...pinned(process.execPath, [NODE_CLI]) };
  const theirs = { name: 'theirs', ...pinned(versus, []) };
  const nodeFloor = pinned(process.execPath, ['-e', '0']);
  // Warm-up (untimed): page cache, the addon's file, the other solver's libraries.
  solveOnce('ours', ours.file, ours.args, 'warmup', 8, timeoutMs);
  solveOnce('node', node.file, node.args, 'warmup', 8, timeoutMs);
  solveOnce('theirs', theirs.file, theirs.args, 'warmup', 8, timeoutMs);
  const floor = [];
  const rows = [];
  for (const nBits of bits) {
    const tokens = seededTokens(seed + nBits, runs);
    const times = { ours: [], node: [], theirs: [] };
    tokens.forEach((token, i) => {
      // Rotate who goes first, so none always runs on the cooler machine.
      const all = [ours, theirs, node];
      const order = [...all.slice(i % 3), ...all.slice(0, i % 3)];
      for (const s of order) {
        times[s.name].push(solveOnce(s.name, s.file, s.args, token, nBits, timeoutMs));
      }
      floor.push(timed(nodeFloor.file, nodeFloor.args, timeoutMs).seconds);
    });
    const oursMedian = median(times.ours);
    const theirsMedian = median(times.theirs);
    const nodeMedian = median(times.node);
    rows.push({
      nBits,
      runs,
      oursMedianSeconds: oursMedian,
      theirsMedianSeconds: theirsMedian,
      ratio: theirsMedian > 0 ? oursMedian / theirsMedian : null,
      nodeCliMedianSeconds: nodeMedian,
      nodeCliRatio: theirsMedian > 0 ? nodeMedian / theirsMedian : null,
      oursSeconds: times.ours,
      theirsSeconds: times.theirs,
      nodeCliSeconds: times.node,
    });
  }
  const floorMedian = median(floor);

  const header = [
    'n_bits',
    'runs',
    'ours median s',
    'theirs median s',
    'ours/theirs',
    'node CLI median s',
    'node CLI/theirs',
  ];
  const widths = header.map((h) => h.length);
  const pad = (/** @type {unknown[]} */ cells) =>
    cells.map((c, i) => String(c).padStart(widths[i] ?? 0)).join('  ');
  log(`tlslp work versus ${versus}: whole processes, wall time, ${runs} seeded token(s) each`);
  log();
  log(pad(header));
  log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) {
    log(
      pad([
        r.nBits,
        r.runs,
        r.oursMedianSeconds.toFixed(4),
        r.theirsMedianSeconds.toFixed(4),
        r.ratio === null ? '-' : r.ratio.toFixed(2),
        r.nodeCliMedianSeconds.toFixed(4),
        r.nodeCliRatio === null ? '-' : r.nodeCliRatio.toFixed(2),
      ]),
    );
  }
  log();
  log(`ours: ${OURS} work <token> <n_bits> (${oursRuns(ours)})`);
  log(`node CLI: ${process.execPath} ${NODE_CLI} <token> <n_bits>; ${opts.kernel}`);
  log(`theirs: ${versus} <token> <n_bits>`);
  log(`reference: node -e 0 median ${floorMedian.toFixed(4)} s (Node start-up floor, same run)`);
  log(`tokens: seed ${seed} + n_bits; every suffix verified with node:crypto`);
  if (cpus !== undefined) log(`every command pinned with taskset -c ${cpus}`);
  log(`command: ${opts.command}`);
  const result = {
    mode: 'versus',
    versus,
    seed,
    runs,
    ...(cpus !== undefined ? { cpus } : {}),
    nodeStartMedianSeconds: floorMedian,
    rows,
    ...opts.kernelJson,
    command: opts.command,
  };
  if (opts.json) log(JSON.stringify(result));
  return result;
}
