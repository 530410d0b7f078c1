/** tlslp-server refuses at start-up what would fail every handshake later. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CertificateSet } from '../src/pki/generate.js';
import { ConfigError } from '../src/errors/index.js';
import { TlslpServer } from '../src/server/server.js';
import { checkServerTls } from '../src/tls/material.js';
import { codeOf as codeOfType, runBin, testCerts, type BinRun } from './helpers.js';
import { issueClientCert } from './issue-cert.js';

const DAY = 86_400_000;
let good: CertificateSet;
let other: CertificateSet;
let dir: string;

beforeAll(async () => {
  good = await testCerts();
  other = await testCerts('foreign');
  dir = await mkdtemp(join(tmpdir(), 'tlslp-sstart-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The ConfigError code `fn` throws (the shared helper, bound to the class). */
const codeOf = (fn: () => unknown): string | undefined => codeOfType(fn, ConfigError);

describe('checkServerTls', () => {
  it('passes a good set without warnings', () => {
    const r = checkServerTls({ cert: good.serverCert, key: good.serverKey, ca: good.caCert });
    expect(r.warnings).toEqual([]);
  });

  it('refuses a key that does not match the certificate', () => {
    expect(
      codeOf(() =>
        checkServerTls({ cert: good.serverCert, key: other.serverKey, ca: good.caCert }),
      ),
    ).toBe('TLSLP_ERR_KEY_MISMATCH');
  });

  it('refuses a private key given as the CA', () => {
    expect(() =>
      checkServerTls(
        { cert: good.serverCert, key: good.serverKey, ca: good.caKey },
        { cert: 'c', key: 'k', ca: '--ca-cert ca_key.pem' },
      ),
    ).toThrow('--ca-cert ca_key.pem holds a private key, not a certificate');
  });

  it('refuses an expired and a not-yet-valid certificate, warns two weeks ahead', async () => {
    const now = Date.now();
    // Server certificates of the shared CA for the dates asked (EC keys: no RSA key to make).
    const serverCert = (from: number, to: number) =>
      issueClientCert(good, {
        eku: 'serverAuth',
        commonName: 'localhost',
        hosts: ['localhost', '127.0.0.1'],
        notBefore: new Date(now + from * DAY),
        notAfter: new Date(now + to * DAY),
      });
    const [old, future, soon] = await Promise.all([
      serverCert(-400, -35),
      serverCert(2, 367),
      serverCert(-355, 10),
    ]);
    expect(codeOf(() => checkServerTls({ cert: old.cert, key: old.key }))).toBe(
      'TLSLP_ERR_CERT_EXPIRED',
    );
    expect(codeOf(() => checkServerTls({ cert: future.cert, key: future.key }))).toBe(
      'TLSLP_ERR_CERT_NOT_YET_VALID',
    );
    const r = checkServerTls({ cert: soon.cert, key: soon.key });
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]).toMatch(/expires on .* \(in (9|10) days\); issue a new one before then/);
  });

  it('is what the library server runs too', () => {
    expect(
      () =>
        new TlslpServer({
          port: 0,
          tls: { cert: good.serverCert, key: other.serverKey, ca: good.caCert },
        }),
    ).toThrow(ConfigError);
  });
});

function server(args: string[]): Promise<BinRun> {
  return runBin('server', ['--host', '127.0.0.1', '--port', '0', ...args], dir, {
    stopWhen: /metrics on http/,
  });
}

describe('tlslp-server start-up', () => {
  let files: Record<string, string>;
  beforeAll(async () => {
    files = {
      cert: join(dir, 'server-cert.pem'),
      key: join(dir, 'server-key.pem'),
      ca: join(dir, 'ca_cert.pem'),
      caKey: join(dir, 'ca_key.pem'),
      otherKey: join(dir, 'other-key.pem'),
    };
    await writeFile(files.cert as string, good.serverCert);
    await writeFile(files.key as string, good.serverKey, { mode: 0o600 });
    await writeFile(files.ca as string, good.caCert);
    await writeFile(files.caKey as string, good.caKey, { mode: 0o600 });
    await writeFile(files.otherKey as string, other.serverKey, { mode: 0o600 });
  });
  const flags = (over: Record<string, string> = {}): string[] => [
    '--server-cert',
    over.cert ?? (files.cert as string),
    '--server-key',
    over.key ?? (files.key as string),
    '--ca-cert',
    over.ca ?? (files.ca as string),
  ];

  it.each([
    ['key', 'otherKey', /--server-key .* does not match the certificate in --server-cert/],
    ['ca', 'caKey', /--ca-cert .* holds a private key, not a certificate/],
  ])('refuses a wrong --%s with one line and exit 2', async (which, file, pattern) => {
    const r = await server(flags({ [which]: files[file] as string }));
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^tlslp-server: error: /);
    expect(lines[0]).toMatch(pattern);
  });

  it('exits 2 when the metrics port is taken, and prints the port chosen for 0', async () => {
    const busy = net.createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const port = (busy.address() as net.AddressInfo).port;
    try {
      const r = await server([...flags(), '--metrics-port', String(port)]);
      expect(r.code).toBe(2);
      expect(r.stderr.trim()).toBe(
        `tlslp-server: error: --metrics-port ${port}: cannot serve metrics on 127.0.0.1:${port}: address already in use; pick a free port`,
      );
      expect(r.stdout).not.toMatch(/listening/);
    } finally {
      busy.close();
    }
    const r0 = await server([...flags(), '--metrics-port', '0']);
    expect(r0.stdout).toMatch(/^metrics on http:\/\/127\.0\.0\.1:[1-9]\d*\/metrics$/m);
    expect(r0.code).toBe(0);
  });
});
