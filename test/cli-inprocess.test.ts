/**
 * The CLI mains called in-process, as the bins call them: the same behaviour the bin tests
 * check from outside, here so that the CLI layer's own lines count in coverage.
 */
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CommanderError } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { clientMain } from '../src/cli/client.js';
import { EXIT, describeError, exitCodeFor, runMain } from '../src/cli/common.js';
import { serverMain } from '../src/cli/server.js';
import { tlslpMain } from '../src/cli/tlslp.js';
import {
  formatCount,
  formatDuration,
  progressLine,
  transcriptPrinter,
} from '../src/cli/transcript.js';
import { ConfigError, ProtocolError } from '../src/errors/index.js';
import * as api from '../src/index.js';
import { runPrimary } from '../src/server/cluster.js';
import { createLogger } from '../src/logging/index.js';
import { isLoopbackHost } from '../src/tls/material.js';
import { closeSolverPool } from '../src/solver/index.js';
import { copySharedCerts } from './helpers.js';

let dir: string;
let cwd: string;

/** Capture what a function writes to stdout/stderr. */
async function capture<T>(fn: () => Promise<T>): Promise<{ value: T; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = vi
    .spyOn(process.stdout, 'write')
    .mockImplementation((chunk: string | Uint8Array) => ((out += String(chunk)), true));
  const e = vi
    .spyOn(process.stderr, 'write')
    .mockImplementation((chunk: string | Uint8Array) => ((err += String(chunk)), true));
  try {
    return { value: await fn(), out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tlslp-inproc-'));
  process.env.XDG_STATE_HOME = join(dir, 'state');
  process.env.NO_COLOR = '1';
  cwd = process.cwd();
  process.chdir(dir);
  // What `tlslp certs` writes (the run's shared set; certs-cli.test.ts runs the command).
  await copySharedCerts(join(dir, 'certificates'));
});

afterAll(async () => {
  process.chdir(cwd);
  await closeSolverPool();
  await rm(dir, { recursive: true, force: true });
});

/** Start serverMain in-process; resolves with its port and its exit promise. */
async function startServerMain(args: string[]): Promise<{ port: number; exit: Promise<number> }> {
  let out = '';
  const o = vi
    .spyOn(process.stdout, 'write')
    .mockImplementation((chunk: string | Uint8Array) => ((out += String(chunk)), true));
  const exit = serverMain(['--host', '127.0.0.1', '--port', '0', ...args]);
  try {
    const deadline = Date.now() + 20_000;
    while (!/listening on [^:]+:(\d+)/.test(out)) {
      if (Date.now() > deadline) throw new Error('server did not start');
      await new Promise((r) => setTimeout(r, 10));
    }
  } finally {
    o.mockRestore();
  }
  return { port: Number(/listening on [^:]+:(\d+)/.exec(out)?.[1]), exit };
}

describe('a tutorial session between serverMain and clientMain', () => {
  it('prints the transcript and the summary, and both exit 0', async () => {
    const srv = await startServerMain(['--tutorial', '--n_bits', '6']);
    const r = await capture(() =>
      clientMain(['--host', '127.0.0.1', '--ports', String(srv.port), '--tutorial']),
    );
    expect(r.value).toBe(0);
    expect(r.out).toMatch(/^S: HELLO$/m);
    expect(r.out).toMatch(/^C: OK$/m);
    expect(r.out).toMatch(/session complete: DONE\/OK after 8 requests/);
    expect(await srv.exit).toBe(0);
    const log = await readFile(join(dir, 'state', 'tlslp', 'logs', 'client.log'), 'utf8');
    expect(log.split('\n')[0]).toBe('2000-01-01T00:00:00+0100 INFO tlslp.client: Client starting');
  });

  it('--json, --profile and a server in normal mode', async () => {
    await writeFile(join(dir, 'p.json'), JSON.stringify({ EMAIL1: 'someone@example.net' }));
    const srv = await startServerMain(['--n_bits', '4', '--stats-interval', '0']);
    const r = await capture(() =>
      clientMain([
        '--host',
        '127.0.0.1',
        '--ports',
        String(srv.port),
        '--json',
        '--profile',
        'p.json',
        '--profile-partial',
        '--kernel',
        'js',
        '--threads',
        '1',
      ]).catch((e: unknown) => e),
    );
    const summary = JSON.parse(r.out.trim()) as {
      ok: boolean;
      serverFail: string | null;
      suffix: string | null;
      solveSeconds: number | null;
      solver: string | null;
    };
    if (summary.ok) expect(r.value).toBe(0);
    else expect(summary.serverFail).toMatch(/^[A-Za-z0-9_-]{8}$/);
    // A drawn FAIL comes after WORK: the solve is known and kept either way.
    expect(summary.suffix).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(summary.solveSeconds).toBeGreaterThanOrEqual(0);
    expect(summary.solver).toMatch(/^js /);
    process.emit('SIGTERM');
    expect(await srv.exit).toBe(0);
  });
});

describe('errors through runMain', () => {
  it('prints one line and sets the exit code', async () => {
    const before = process.exitCode;
    const r = await capture(() =>
      runMain('tlslp-client', () => clientMain(['--ca-cert', 'missing.pem'])),
    );
    expect(r.err).toBe(
      'tlslp-client: error: --ca-cert missing.pem: not found; pass the right path, or create a set with: tlslp certs\n',
    );
    expect(process.exitCode).toBe(EXIT.usage);
    const s = await capture(() => runMain('tlslp-server', () => serverMain(['--n_bits', '99'])));
    expect(s.err).toMatch(/n_bits must be between 0 and 64/);
    expect(process.exitCode).toBe(EXIT.usage);
    process.exitCode = before;
  });

  it('maps errors to exit codes and lines', () => {
    expect(
      exitCodeFor(new ConfigError('TLSLP_ERR_BAD_N_BITS', { option: 'nBits', value: 65 })),
    ).toBe(2);
    expect(exitCodeFor(new ProtocolError('TLSLP_ERR_FLOOD'))).toBe(1);
    expect(exitCodeFor(new CommanderError(0, 'commander.helpDisplayed', ''))).toBe(0);
    expect(describeError(Object.assign(new Error('boom'), { code: 'EPIPE' }))).toBe('boom (EPIPE)');
    expect(describeError('plain')).toBe('plain');
  });

  it('server flags that contradict each other', async () => {
    await expect(serverMain(['--tutorial', '--workers', '2'])).rejects.toThrow(/drop --workers/);
    await expect(
      serverMain(['--n_bits', 'auto', '--min-bits', '20', '--max-bits', '10']),
    ).rejects.toThrow(/--min-bits/);
  });
});

describe('tlslp subcommands', () => {
  it('demo runs a session', async () => {
    const r = await capture(() => tlslpMain(['demo', '--n-bits', '6', '--requests', '3']));
    expect(r.value).toBe(0);
    expect(r.out).toMatch(/client: DONE\/OK after 3 requests/);
  });

  it('work, server and client pass their arguments through', async () => {
    const w = await capture(() => tlslpMain(['work', 'abc', '8']));
    expect(w.value).toBe(0);
    expect(w.out).toMatch(/^RESULT:[A-Za-z0-9_-]+\nTime: /);
    await expect(tlslpMain(['client', '--ports', 'x'])).rejects.toBeInstanceOf(CommanderError);
    await expect(tlslpMain(['server', '--port', 'x'])).rejects.toBeInstanceOf(CommanderError);
  });

  it('no subcommand prints help and exits 2', async () => {
    const r = await capture(() => tlslpMain([]));
    expect(r.value).toBe(2);
    expect(r.out).toMatch(/certs/);
  });
});

describe('transcript helpers', () => {
  it('formats counts and durations', () => {
    expect(formatCount(268_435_456)).toBe('268.4M');
    expect(formatCount(1500)).toBe('1.5k');
    expect(formatCount(3e9)).toBe('3.0G');
    expect(formatCount(2e12)).toBe('2.0T');
    expect(formatCount(12)).toBe('12');
    expect(formatDuration(3.21)).toBe('3.2 s');
    expect(formatDuration(250)).toBe('4 min 10 s');
    expect(formatDuration(7500)).toBe('2 h 5 min');
    expect(formatDuration(Infinity)).toBe('∞');
  });

  it('draws a progress line on a TTY only, after a second, and clears it', () => {
    let text = '';
    const tty = { isTTY: true, write: (s: string) => (text += s) };
    const p = progressLine(tty);
    p.update({ hashes: 1, elapsedMs: 10, hashesPerSecond: 1, expectedHashes: 2, etaSeconds: 1 });
    expect(text).toBe('');
    p.update({
      hashes: 5e6,
      elapsedMs: 1500,
      hashesPerSecond: 3e6,
      expectedHashes: 2 ** 28,
      etaSeconds: 80,
    });
    expect(text).toMatch(/WORK: 5\.0M of ~268\.4M hashes, 3\.0 M\/s, ~1 min 20 s left/);
    // Past the expected work: elapsed time, not a meaningless "~0.0 s left".
    p.update({
      hashes: 1.3e9,
      elapsedMs: 12_000,
      hashesPerSecond: 1.1e8,
      expectedHashes: 2 ** 30,
      etaSeconds: 0,
    });
    expect(text).toMatch(
      /WORK: 1\.3G hashes \(past the ~1\.1G expected\), 110\.0 M\/s, 12\.0 s so far$/,
    );
    p.clear();
    expect(text.endsWith('\r\x1b[K')).toBe(true);
    let piped = '';
    const q = progressLine({ write: (s: string) => (piped += s) });
    q.update({
      hashes: 5e6,
      elapsedMs: 1500,
      hashesPerSecond: 3e6,
      expectedHashes: 2 ** 28,
      etaSeconds: 80,
    });
    expect(piped).toBe('');
  });

  it('prints every event kind', () => {
    let text = '';
    const print = transcriptPrinter({ write: (s: string) => (text += s) });
    print({ type: 'connecting', host: '::1', port: 7 });
    print({ type: 'connecting', host: 'h', port: 1 });
    print({ type: 'connect-failed', host: 'h', port: 1, reason: 'refused' });
    print({ type: 'connected', host: 'h', port: 2, protocol: 'TLSv1.3', chain: [] });
    print({ type: 'recv', line: 'HELLO' });
    print({ type: 'send', line: 'x'.repeat(200) });
    print({ type: 'work-start', nBits: 20 });
    print({
      type: 'work-done',
      solution: { suffix: 's', seconds: 1.5, solver: 'js', hashesPerSecond: 4e6 },
    });
    expect(text).toContain('… connecting to [::1]:7');
    expect(text).toContain('! h:1: refused');
    expect(text).toContain('✓ connected to h:2 (TLSv1.3)');
    expect(text).toContain('S: HELLO');
    expect(text).toContain('…');
    expect(text).toContain('about 1.0M hashes expected');
    expect(text).toContain('solved in 1.500 s with js, 4.0 M hashes/s');
  });
});

describe('cluster primary', () => {
  it('forks workers that serve on one port, relays their logs, and stops on SIGTERM', async () => {
    const lines: string[] = [];
    const logger = createLogger({ name: 'tlslp.server', file: null, stderr: null });
    // A worker's record carries its worker id as a field; text lines show it as `[w1] `.
    const push = (m: string, f?: { worker?: number }): void =>
      void lines.push(f?.worker === undefined ? m : `[w${f.worker}] ${m}`);
    const relay = { ...logger, info: push, warning: push };
    let port = 0;
    const exit = runPrimary({
      workers: 2,
      logger: relay,
      shutdownGraceMs: 5000,
      exec: resolve(import.meta.dirname, '..', 'dist', 'cli', 'server.js'),
      host: 'localhost',
      args: ['--host', 'localhost', '--port', '0', '--n_bits', '4'],
      metrics: { host: '127.0.0.1', port: 0 },
      onListening: (a) => (port = a.port),
    });
    const deadline = Date.now() + 20_000;
    while (port === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(port).toBeGreaterThan(0);
    process.emit('SIGTERM');
    expect(await exit).toBe(0);
    expect(lines.some((l) => /^\[w\d\] .*SIGTERM received/.test(l))).toBe(true);
    expect(lines.some((l) => /Metrics on http/.test(l))).toBe(true);
    // The host as given, not what it resolved to.
    expect(lines).toContain(`2 workers listening on localhost:${port}`);
  });
});

describe('public API surface', () => {
  it('exports the server, the client, the solver, certificates and errors', () => {
    for (const name of [
      'TlslpServer',
      'runClient',
      'solveWork',
      'generateCertificateSet',
      'LineDecoder',
      'ProtocolError',
      'TransportError',
      'ConfigError',
      'createLogger',
      'runDemo',
      'verifyWork',
      'checksum',
    ]) {
      expect(typeof (api as Record<string, unknown>)[name], name).toBe('function');
    }
    expect(api.BODY_COMMANDS).toHaveLength(8);
  });

  it('knows loopback hosts', () => {
    for (const h of [
      'localhost',
      'LOCALHOST',
      'a.localhost',
      '127.0.0.1',
      '127.9.9.9',
      '::1',
      '[::1]',
      '::ffff:127.0.0.1',
    ])
      expect(isLoopbackHost(h), h).toBe(true);
    for (const h of [
      '0.0.0.0',
      '10.0.0.1',
      'example.com',
      '::',
      '128.0.0.1',
      'localhost.example.com',
    ])
      expect(isLoopbackHost(h), h).toBe(false);
  });
});

describe('tls files', () => {
  it('names the flag for a file that is not PEM or not readable', async () => {
    const { readPem } = await import('../src/tls/material.js');
    await writeFile(join(dir, 'junk.pem'), 'not a certificate');
    await expect(readPem({ path: join(dir, 'junk.pem'), flag: '--ca-cert' })).rejects.toThrow(
      /--ca-cert .*: not a PEM file/,
    );
    await expect(readPem({ path: dir, flag: '--ca-cert' })).rejects.toThrow(/is a folder/);
    await writeFile(join(dir, 'locked.pem'), '-----BEGIN X-----');
    await chmod(join(dir, 'locked.pem'), 0o000);
    // Root reads anything; only check the message where permissions apply.
    if (process.getuid?.() !== 0)
      await expect(
        readPem({ path: join(dir, 'locked.pem'), flag: '--private-key' }),
      ).rejects.toThrow(/not readable/);
  });
});

describe('number-of-seconds flags', () => {
  it('--stats-interval takes 0 or a positive number, not words or negatives', async () => {
    await expect(serverMain(['--stats-interval', 'abc'])).rejects.toThrow(/--stats-interval/);
    await expect(serverMain(['--stats-interval', '-1'])).rejects.toThrow(/non-negative/);
    await expect(serverMain(['--other-timeout', '0'])).rejects.toThrow(/positive/);
  });
});
