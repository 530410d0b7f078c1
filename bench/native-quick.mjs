// Single-thread rate of each native kernel variant, called from Node the way the solver
// calls it (whole 2^18 windows, n_bits 64 so nothing hits).
//   npx tsc -p tsconfig.build.json && node bench/native-quick.mjs [seconds per variant] [variant prefix]
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { prepareJob, SCAN_WINDOW, suffixFor } from '../dist/solver/layout.js';

const addon = createRequire(import.meta.url)('../native/build/Release/tlslp_kernel.node');
const seconds = Number(process.argv[2] ?? 2);
const only = process.argv[3] ?? '';
const ROUNDS = 5;

// Sanity check against node:crypto first: a fast wrong kernel is worthless.
const check = prepareJob('gkcjcibIFynKssuJnJpSrgvawiVjLjEbdFuYQzuWROTeTaSmqFCAzuwkwLCRgIIq', 8);
const lastWord = (lo) =>
  createHash('sha256')
    .update(check.token + suffixFor(check, 7, lo))
    .digest()
    .readUInt32BE(28);
let expected = -1;
for (let i = 0; i < 4096 && expected < 0; i++) if ((lastWord(12345 + i) & 0xff) === 0) expected = i;
for (const [name, scan] of Object.entries(addon.variants)) {
  const got = scan(check.midstate, check.tail, check.messageLength, 8, 7, 12345, 4096);
  if (got !== expected) throw new Error(`${name}: got ${got}, node:crypto says ${expected}`);
}

console.log(
  `default: ${addon.detail}; ${ROUNDS} rounds of ${(seconds / ROUNDS).toFixed(2)} s each`,
);
const job = prepareJob('benchmark-token-0123456789', 64);
const rates = new Map();
let hi = 1;
// Interleave the variants round by round so that load from other processes hits all alike.
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, scan] of Object.entries(addon.variants)) {
    if (!name.startsWith(only)) continue;
    let hashes = 0;
    const start = process.hrtime.bigint();
    const end = start + BigInt(Math.round((seconds / ROUNDS) * 1e9));
    let now = start;
    while (now < end) {
      scan(job.midstate, job.tail, job.messageLength, 64, hi++ >>> 0, 0, SCAN_WINDOW);
      hashes += SCAN_WINDOW;
      now = process.hrtime.bigint();
    }
    const rate = hashes / (Number(now - start) / 1e9) / 1e6;
    rates.set(name, [...(rates.get(name) ?? []), rate]);
  }
}
for (const [name, list] of rates) {
  list.sort((a, b) => a - b);
  const best = list[list.length - 1];
  const median = list[list.length >> 1];
  console.log(`${name.padEnd(12)} best ${best.toFixed(1)} M hashes/s, median ${median.toFixed(1)}`);
}
