/**
 * `tlslp-server --check` (as `nginx -t`) and SIGUSR1 (log reopen only, as nginx), through the
 * bin: `node dist/cli/server.js`.
 */
import { readdir, rename, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CERT_FILE_NAMES, writeCertificateSet, type CertificateSet } from '../src/pki/generate.js';
import { revokeCertificate } from '../src/pki/crl.js';
import {
  completeSessions,
  copySharedCerts,
  serverCertFlags,
  runBin,
  testCerts,
  until,
  useTempDirs,
} from './helpers.js';
import { jsonLog, startServerProcess } from './server-process.js';

const tempDir = useTempDirs('tlslp-check-');
let certs: CertificateSet;
let dir: string;
let files: string[];

beforeAll(async () => {
  certs = await testCerts();
  dir = await tempDir();
  await writeCertificateSet(dir, certs);
  files = serverCertFlags(dir);
});

describe('tlslp-server --check', () => {
  it('prints the effective policy (CRL entries, allow-list, masked store) and exits 0 without logging', async () => {
    const { crlPath: crl } = await revokeCertificate({ dir, certPem: certs.clientCert });
    const state = await tempDir();
    const run = await runBin(
      'server',
      [
        ...files,
        '--check',
        '--host',
        '127.0.0.1',
        '--port',
        '0',
        '--metrics-port',
        '0',
        '--crl',
        crl,
        '--allow-ou',
        'team-a',
        'team-b',
        '--n_bits',
        'auto',
        '--max-bits',
        '24',
        '--state',
        'redis://ops:s3cret@store.example:6379/0',
      ],
      state,
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^ {2}listen +127\.0\.0\.1:0 \(port free\)$/m);
    expect(run.stdout).toMatch(/^ {2}mode +mutual TLS/m);
    expect(run.stdout).toMatch(/^ {2}n_bits +auto 16\.\.24$/m);
    expect(run.stdout).toMatch(/^ {2}allow +OU team-a, team-b$/m);
    expect(run.stdout).toMatch(
      /^ {2}crl +.*ca_crl\.pem: 1 revoked certificate\(s\), next update /m,
    );
    expect(run.stdout).toMatch(/^ {2}state +redis:\/\/ops:\*\*\*@store\.example:6379\/0$/m);
    expect(run.stdout).not.toContain('s3cret');
    expect(run.stdout.trimEnd().split('\n').at(-1)).toBe('tlslp-server: configuration OK');
    // A dry run: no log file was made.
    expect(await readdir(state)).toEqual([]);
  });

  it('a port in use: exit 2 with one line naming the flag', async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as net.AddressInfo;
    try {
      const run = await runBin(
        'server',
        [...files, '--check', '--host', '127.0.0.1', '--port', String(port)],
        await tempDir(),
      );
      expect(run.code).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr).toBe(
        `tlslp-server: error: --port ${port}: cannot listen on 127.0.0.1:${port}: address already in use (pick another port)\n`,
      );
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });

  it('a key that does not match the certificate: exit 2 with one line', async () => {
    const other = join(await tempDir(), 'other-key.pem');
    await writeFile(other, certs.clientKey);
    const run = await runBin(
      'server',
      [...files, '--server-key', other, '--check', '--port', '0'],
      await tempDir(),
    );
    expect(run.code).toBe(2);
    expect(run.stderr.split('\n')).toHaveLength(2);
    expect(run.stderr).toMatch(/^tlslp-server: error: .*--server-key .*other-key\.pem/);
  });

  it('a CRL of another CA: exit 2 naming --crl', async () => {
    const elsewhere = await tempDir();
    await copySharedCerts(elsewhere, 'foreign');
    const { crlPath: crl } = await revokeCertificate({ dir: elsewhere, serialHex: '01' });
    const run = await runBin(
      'server',
      [...files, '--check', '--port', '0', '--crl', crl],
      await tempDir(),
    );
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^tlslp-server: error: --crl .*\n$/);
  });
});

describe('tlslp-server: SIGUSR1', () => {
  it('reopens the log file and rereads no TLS file', { timeout: 20_000 }, async () => {
    const state = await tempDir();
    const f = (k: keyof typeof CERT_FILE_NAMES) => join(dir, CERT_FILE_NAMES[k]);
    const srv = await startServerProcess(
      'usr1',
      state,
      { serverCert: f('serverCert'), serverKey: f('serverKey'), caCert: f('caCert') },
      ['--n_bits', '4'],
    );
    await rename(srv.log, `${srv.log}.1`);
    srv.child.kill('SIGUSR1');
    const messages = async () => (await jsonLog(srv.log)).map((r) => String(r.msg));
    await until(
      async () => (await messages()).includes('SIGUSR1 received: log file reopened'),
      'the reopened log file',
    );
    await completeSessions(srv.port, certs, 1);
    await until(
      async () => (await messages()).some((m) => m.startsWith('Session ended')),
      'a session in the new file',
    );
    srv.child.kill('SIGTERM');
    expect(await srv.exited).toBe(0);
    // SIGHUP would also have reread the TLS files ("SIGHUP: TLS files unchanged").
    expect((await messages()).join('\n')).not.toMatch(/TLS files|SIGHUP/);
  });
});
