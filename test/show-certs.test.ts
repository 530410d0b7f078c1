/**
 * `tlslp-client --show-certs`: the server's chain as the user sees it, and in `--json`. The
 * client's main runs in this process (cli-run.ts): its output is the subject here.
 */
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CertificateSet } from '../src/pki/generate.js';
import { clientMain, formatChain } from '../src/cli/client.js';
import { closeSolverPool } from '../src/solver/index.js';
import { runCli, type CliRun } from './cli-run.js';
import {
  clientCertFlags,
  startServer,
  testCerts,
  useTempDirs,
  type TestServer,
} from './helpers.js';

const tempDir = useTempDirs('tlslp-showcerts-');
let certs: CertificateSet;
let server: TestServer;
let dir: string;
let flags: string[];

beforeAll(async () => {
  certs = await testCerts();
  dir = await tempDir();
  flags = await clientCertFlags(certs, join(dir, 'certs'));
  server = await startServer(certs, { nBits: 4, simulateFailures: false, bodyRequests: 1 });
});

afterAll(async () => {
  await server.server.close();
  await closeSolverPool();
});

/** tlslp-client with `args`, its logs in the test's folder. */
const client = (args: string[]): Promise<CliRun> =>
  runCli('tlslp-client', clientMain, args, { env: { XDG_STATE_HOME: dir } });

const base = (): string[] => ['--host', '127.0.0.1', '--ports', String(server.port), ...flags];

describe('tlslp-client --show-certs', () => {
  it("prints the server's chain (subject, SANs, issuer, serial, validity, SHA-256) and completes", async () => {
    const leaf = new X509Certificate(certs.serverCert);
    const ca = new X509Certificate(certs.caCert);
    const r = await client([...base(), '--show-certs', '--quiet']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('server certificate chain (2):');
    expect(r.stdout).toContain(` 0 subject: ${leaf.subject}`);
    expect(r.stdout).toContain('   SANs:    DNS:localhost, IP Address:127.0.0.1');
    expect(r.stdout).toContain(`   issuer:  ${ca.subject}`);
    expect(r.stdout).toContain(`   SHA-256: ${leaf.fingerprint256}`);
    expect(r.stdout).toContain(`   SHA-256: ${ca.fingerprint256}`);
    expect(r.stdout).toContain(`   serial:  ${leaf.serialNumber}`);
  });

  it('--json carries the chain as serverChain', async () => {
    const r = await client([...base(), '--show-certs', '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as {
      serverChain?: Array<{ subject: string; fingerprint256: string }>;
    };
    expect(out.serverChain?.map((c) => c.fingerprint256)).toEqual([
      new X509Certificate(certs.serverCert).fingerprint256,
      new X509Certificate(certs.caCert).fingerprint256,
    ]);
  });

  it('without the flag nothing of the chain is printed', async () => {
    const r = await client([...base(), '--quiet']);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain('certificate chain');
  });

  it('escapes what a server put in its certificate', () => {
    const text = formatChain([
      {
        subject: 'CN=evil\u001b[2J\u202e',
        subjectAltName: null,
        issuer: 'CN=x\u0085y',
        serial: '01',
        validFrom: '2026-01-01T00:00:00.000Z',
        validTo: '2027-01-01T00:00:00.000Z',
        fingerprint256: 'AA',
      },
    ]);
    expect(text).toContain('subject: CN=evil\\x1b[2J\\u202e');
    expect(text).toContain('issuer:  CN=x\\x85y');
    expect(text).toContain('SANs:    (none)');
    for (const raw of ['\u001b', '\u0085', '\u202e']) expect(text).not.toContain(raw);
  });
});
