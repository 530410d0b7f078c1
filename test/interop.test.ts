/**
 * Interoperation with a peer written in Python with its ssl module (as the original is),
 * following only the wire contract: tlslp's server with a Python client, and tlslp's
 * client with a Python server, over mutual TLS on loopback.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCertificateSet } from '../src/pki/generate.js';
import { runClient } from '../src/client/client.js';
import { DEFAULT_PROFILE } from '../src/client/profile.js';
import { closeSolverPool } from '../src/solver/index.js';
import { clientTls, copySharedCerts, startServer } from './helpers.js';

const peer = resolve(import.meta.dirname, 'fixtures', 'py_peer.py');
const python = spawnSync('python3', ['--version']).status === 0;
let dir: string;
let certsDir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tlslp-interop-'));
  certsDir = join(dir, 'certificates');
  await copySharedCerts(certsDir);
});
afterAll(async () => {
  await closeSolverPool();
  await rm(dir, { recursive: true, force: true });
});

function runPython(
  args: string[],
  onLine?: (line: string) => void,
): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolveRun) => {
    const child = spawn('python3', [peer, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      for (const line of d.toString().split('\n')) if (line) onLine?.(line);
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolveRun({ code, out, err });
    });
  });
}

function certs() {
  return readCertificateSet(certsDir);
}

describe.skipIf(!python)('interop with a Python peer', () => {
  it('a Python client completes a session against the tlslp server', async () => {
    const s = await startServer(await certs(), { nBits: 10, simulateFailures: false });
    try {
      const r = await runPython([
        'client',
        '--certs',
        certsDir,
        '--port',
        String(s.port),
        '--host',
        '127.0.0.1',
      ]);
      expect(r.code, r.err).toBe(0);
      expect(r.out.trim()).toBe('DONE');
      const report = await s.nextReport();
      expect(report.result).toEqual({ outcome: 'done' });
    } finally {
      await s.server.close();
    }
  });

  it('a Python client sees the drawn FAIL in normal mode', async () => {
    const s = await startServer(await certs(), { nBits: 4, randomString: 'LGTk' });
    try {
      const outcomes = new Set<string>();
      for (let i = 0; i < 30 && !outcomes.has('FAIL LGTk'); i++) {
        outcomes.add(
          (await runPython(['client', '--certs', certsDir, '--port', String(s.port)])).out.trim(),
        );
      }
      expect(outcomes.has('FAIL LGTk')).toBe(true);
    } finally {
      await s.server.close();
    }
  });

  it('the tlslp client completes a session against a Python server', async () => {
    let port = 0;
    const py = runPython(
      ['server', '--certs', certsDir, '--bits', '12', '--requests', '8'],
      (line) => {
        if (line.startsWith('PORT ')) port = Number(line.slice(5));
      },
    );
    const deadline = Date.now() + 20_000;
    while (port === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const result = await runClient({
      host: '127.0.0.1',
      ports: [port],
      tls: clientTls(await certs()),
    });
    expect(result.answered).toHaveLength(8);
    const r = await py;
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('RESULT OK');
    expect(r.out).toContain(`FULL_NAME=${DEFAULT_PROFILE.FULL_NAME}`);
    expect(r.out).toContain(`ADDR_LINE2=${DEFAULT_PROFILE.ADDR_LINE2}`);
  });
});
