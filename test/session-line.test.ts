/** The server's one line per session on a terminal, and the client's view of the normal path. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { serverMain } from '../src/cli/server.js';
import { sessionLine } from '../src/cli/session-line.js';
import { runClient } from '../src/client/client.js';
import type { CertificateSet } from '../src/pki/generate.js';
import { clientTls, testCerts } from './helpers.js';
import { writeFile } from 'node:fs/promises';
import { closeSolverPool } from '../src/solver/index.js';

describe('sessionLine', () => {
  const base = { id: 12, remoteAddress: '127.0.0.1:53122', durationMs: 412, nBits: 20 };
  it('says how each session ended, briefly', () => {
    expect(sessionLine({ ...base, workMs: 201, result: { outcome: 'done' } })).toBe(
      '#12 127.0.0.1 done in 0.4 s (n_bits 20, 0.2 s WORK)',
    );
    expect(
      sessionLine({ ...base, workMs: 201, result: { outcome: 'fail-drawn', reason: 'OkQ6Cbyz' } }),
    ).toBe('#12 127.0.0.1 ended by the simulated FAIL in 0.4 s (n_bits 20, 0.2 s WORK)');
    expect(
      sessionLine({
        ...base,
        remoteAddress: '[::1]:4000',
        result: {
          outcome: 'rejected',
          code: 'TLSLP_ERR_BAD_SUFFIX',
          reason: 'Invalid suffix returned from client.',
        },
      }),
    ).toBe('#12 ::1 rejected after 0.4 s: Invalid suffix returned from client. (n_bits 20)');
    expect(
      sessionLine({
        ...base,
        result: { outcome: 'transport', code: 'TLSLP_ERR_TIMEOUT', reason: 'no line\u001b[2J' },
      }),
    ).toBe('#12 127.0.0.1 ended after 0.4 s: no line\\x1b[2J (n_bits 20)');
  });
});

describe('tlslp-server on a terminal', () => {
  let dir: string;
  let cwd: string;
  let certs: CertificateSet;

  beforeAll(async () => {
    certs = await testCerts();
    dir = await mkdtemp(join(tmpdir(), 'tlslp-line-'));
    await writeFile(join(dir, 'server-cert.pem'), certs.serverCert);
    await writeFile(join(dir, 'server-key.pem'), certs.serverKey, { mode: 0o600 });
    await writeFile(join(dir, 'ca.pem'), certs.caCert);
    process.env.XDG_STATE_HOME = join(dir, 'state');
    cwd = process.cwd();
    process.chdir(dir);
  });
  afterAll(async () => {
    process.chdir(cwd);
    await closeSolverPool();
    await rm(dir, { recursive: true, force: true });
  });

  /** Run the server in-process with stdout as a TTY, one client session, then SIGTERM. */
  async function oneSession(extra: string[]): Promise<string> {
    let out = '';
    const tty = Object.getOwnPropertyDescriptor(process.stdout, 'isTTY');
    Object.defineProperty(process.stdout, 'isTTY', { value: true, configurable: true });
    const spy = vi
      .spyOn(process.stdout, 'write')
      .mockImplementation((chunk: string | Uint8Array) => ((out += String(chunk)), true));
    try {
      const exit = serverMain([
        '--host',
        '127.0.0.1',
        '--port',
        '0',
        '--n_bits',
        '4',
        '--server-cert',
        'server-cert.pem',
        '--server-key',
        'server-key.pem',
        '--ca-cert',
        'ca.pem',
        ...extra,
      ]);
      const deadline = Date.now() + 20_000;
      let m: RegExpExecArray | null = null;
      while (!(m = /listening on [^:]+:(\d+)/.exec(out)) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 10));
      const port = Number(m?.[1]);
      await runClient({ host: '127.0.0.1', ports: [port], tls: clientTls(certs) }).catch(() => {});
      const end = Date.now() + 10_000;
      while (!/#1 /.test(out) && !extra.includes('--quiet') && Date.now() < end)
        await new Promise((r) => setTimeout(r, 10));
      process.emit('SIGTERM');
      expect(await exit).toBe(0);
      return out;
    } finally {
      spy.mockRestore();
      if (tty) Object.defineProperty(process.stdout, 'isTTY', tty);
      else delete (process.stdout as { isTTY?: boolean }).isTTY;
    }
  }

  it('prints one line per session', async () => {
    const out = await oneSession([]);
    expect(out).toMatch(
      /^#1 127\.0\.0\.1 (done|ended by the simulated FAIL) in \d+\.\d s \(n_bits 4, \d+\.\d s WORK\)$/m,
    );
  });

  it('prints none with --quiet', async () => {
    const out = await oneSession(['--quiet']);
    expect(out).toMatch(/listening on/);
    expect(out).not.toMatch(/^#\d+ /m);
  });

  it('refuses --min-bits or --max-bits without --n_bits auto', async () => {
    await expect(serverMain(['--min-bits', '10'])).rejects.toThrow(
      '--min-bits applies only with --n_bits auto (adaptive difficulty); add --n_bits auto or drop --min-bits',
    );
    await expect(serverMain(['--n_bits', '12', '--max-bits', '20'])).rejects.toThrow(
      /--max-bits applies only/,
    );
  });
});
