// OpenSSL's one-core SHA-256 rate, the reference the kernel benchmarks compare with.
import { execFileSync } from 'node:child_process';

/**
 * One-core SHA-256 compressions per second by `openssl speed` (EVP, so SHA-NI where the CPU
 * has it; 16 KiB messages, so a 64-byte block is one compression). `-elapsed` divides by
 * wall-clock time, as the kernels are timed, so that load from other processes slows both
 * alike (OpenSSL's default divides by its CPU time). `prefix` runs it under another command
 * (e.g. taskset). Returns { blocksPerSecond, command }; throws when openssl is missing or
 * prints something else.
 */
export function opensslSha256(seconds, prefix = []) {
  const args = ['speed', '-elapsed', '-evp', 'sha256', '-bytes', '16384'];
  args.push('-seconds', String(Math.max(1, Math.round(seconds))));
  const [file, ...rest] = [...prefix, 'openssl', ...args];
  const out = execFileSync(file, rest, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
    timeout: 60_000,
  });
  // "sha256   1762451.46k": thousands of bytes per second.
  const match = /^sha256\s+([\d.]+)k\s*$/m.exec(out);
  if (!match) throw new Error(`unexpected openssl speed output:\n${out}`);
  return { blocksPerSecond: (Number(match[1]) * 1000) / 64, command: `openssl ${args.join(' ')}` };
}
