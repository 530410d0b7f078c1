import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CERT_FILE_NAMES,
  generateCertificateSet,
  makeCertificates,
  writeCertificateSet,
  type CertificateSet,
} from '../src/pki/generate.js';
import { ConfigError } from '../src/errors/index.js';
import { testCerts } from './helpers.js';

const DAY = 24 * 60 * 60 * 1000;

let set: CertificateSet;
let other: CertificateSet;
const dirs: string[] = [];

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tlslp-certs-'));
  dirs.push(dir);
  return dir;
}

beforeAll(async () => {
  // `set` is this file's subject, made here; `other` only has to be another CA's (the run's
  // shared `foreign` set, made by the same function).
  [set, other] = await Promise.all([generateCertificateSet(), testCerts('foreign')]);
});

afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

function validityDays(cert: X509Certificate): number {
  return (Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / DAY;
}

describe('generateCertificateSet', () => {
  it('makes PEM certificates and PKCS#8 keys', () => {
    for (const pem of [set.caCert, set.serverCert, set.clientCert]) {
      expect(pem).toMatch(/^-----BEGIN CERTIFICATE-----\n[\s\S]+\n-----END CERTIFICATE-----\n$/);
      expect(() => new X509Certificate(pem)).not.toThrow();
    }
    for (const pem of [set.caKey, set.serverKey, set.clientKey]) {
      expect(pem.startsWith('-----BEGIN PRIVATE KEY-----\n')).toBe(true);
    }
  });

  it('makes an RSA 2048 CA valid for 10 years', () => {
    const ca = new X509Certificate(set.caCert);
    expect(ca.subject).toBe('CN=My Test CA');
    expect(ca.issuer).toBe('CN=My Test CA');
    expect(ca.ca).toBe(true);
    expect(ca.verify(ca.publicKey)).toBe(true);
    expect(ca.publicKey.asymmetricKeyType).toBe('rsa');
    expect(ca.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(createPrivateKey(set.caKey).asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(validityDays(ca)).toBeGreaterThanOrEqual(3650);
    expect(validityDays(ca)).toBeLessThan(3652);
    const legacy = ca.toLegacyObject();
    expect(legacy.ca).toBe(true);
  });

  it('makes an RSA 2048 server certificate for localhost and 127.0.0.1, issued by the CA', () => {
    const ca = new X509Certificate(set.caCert);
    const server = new X509Certificate(set.serverCert);
    expect(server.subject).toBe('CN=localhost');
    expect(server.issuer).toBe('CN=My Test CA');
    expect(server.ca).toBe(false);
    expect(server.checkHost('localhost')).toBe('localhost');
    expect(server.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(server.checkHost('example.com')).toBeUndefined();
    expect(server.subjectAltName).toBe('DNS:localhost, IP Address:127.0.0.1');
    expect(server.checkIssued(ca)).toBe(true);
    expect(server.verify(ca.publicKey)).toBe(true);
    expect(server.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']); // serverAuth
    expect(createPrivateKey(set.serverKey).asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(server.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(validityDays(server)).toBeGreaterThanOrEqual(365);
    expect(validityDays(server)).toBeLessThan(367);
  });

  it('makes an EC P-256 client certificate issued by the CA', () => {
    const ca = new X509Certificate(set.caCert);
    const client = new X509Certificate(set.clientCert);
    expect(client.subject).toBe('CN=client');
    expect(client.ca).toBe(false);
    expect(client.checkIssued(ca)).toBe(true);
    expect(client.verify(ca.publicKey)).toBe(true);
    expect(client.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']); // clientAuth
    const key = createPrivateKey(set.clientKey);
    expect(key.asymmetricKeyType).toBe('ec');
    expect(key.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(client.checkPrivateKey(key)).toBe(true);
    expect(validityDays(client)).toBeGreaterThanOrEqual(365);
    expect(validityDays(client)).toBeLessThan(367);
  });

  it('sets the key usages, critical basic constraints and key identifiers', () => {
    const parse = (pem: string) => new x509.X509Certificate(pem);
    const [ca, server, client] = [parse(set.caCert), parse(set.serverCert), parse(set.clientCert)];
    const bc = (c: x509.X509Certificate) => c.getExtension(x509.BasicConstraintsExtension);
    const ku = (c: x509.X509Certificate) => c.getExtension(x509.KeyUsagesExtension)?.usages;
    const F = x509.KeyUsageFlags;
    expect(bc(ca)?.ca).toBe(true);
    expect(bc(ca)?.critical).toBe(true);
    expect(bc(server)?.ca).toBe(false);
    expect(bc(client)?.ca).toBe(false);
    expect(ku(ca)).toBe(F.keyCertSign | F.cRLSign);
    expect(ku(server)).toBe(F.digitalSignature | F.keyEncipherment);
    expect(ku(client)).toBe(F.digitalSignature);
    const caSki = ca.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
    expect(caSki).toMatch(/^[0-9a-f]{40}$/);
    expect(server.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId).toBe(caSki);
    expect(client.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId).toBe(caSki);
    expect(ca.signatureAlgorithm).toMatchObject({
      name: 'RSASSA-PKCS1-v1_5',
      hash: { name: 'SHA-256' },
    });
    expect(client.signatureAlgorithm).toMatchObject({
      name: 'RSASSA-PKCS1-v1_5',
      hash: { name: 'SHA-256' },
    });
    expect(
      new X509Certificate(set.serverCert).checkPrivateKey(createPrivateKey(set.serverKey)),
    ).toBe(true);
  });

  it('backdates notBefore a little and uses distinct positive serial numbers', () => {
    const certs = [set.caCert, set.serverCert, set.clientCert, other.caCert].map(
      (p) => new X509Certificate(p),
    );
    for (const c of certs) {
      const from = Date.parse(c.validFrom);
      expect(from).toBeLessThan(Date.now() - 30_000);
      expect(from).toBeGreaterThan(Date.now() - 10 * 60_000);
      // Node prints the serial as unsigned hex; the top bit clear means the DER INTEGER is positive.
      expect(parseInt(c.serialNumber.slice(0, 2), 16)).toBeLessThan(0x80);
    }
    expect(new Set(certs.map((c) => c.serialNumber)).size).toBe(certs.length);
  });

  it('honours names, extra SAN hosts (IPv6 too) and a fixed time', async () => {
    const now = new Date('2030-06-01T12:00:00Z');
    const s = await generateCertificateSet({
      serverHosts: ['tlslp.example', '::1', '10.1.2.3', '::ffff:192.0.2.1'],
      caCommonName: 'Other CA',
      clientCommonName: 'alice',
      now,
    });
    const server = new X509Certificate(s.serverCert);
    expect(server.subject).toBe('CN=tlslp.example');
    expect(server.issuer).toBe('CN=Other CA');
    expect(new X509Certificate(s.clientCert).subject).toBe('CN=alice');
    expect(server.checkHost('tlslp.example')).toBe('tlslp.example');
    expect(server.checkIP('::1')).toBe('::1');
    expect(server.checkIP('10.1.2.3')).toBe('10.1.2.3');
    expect(server.checkHost('localhost')).toBeUndefined();
    expect(server.subjectAltName).toContain('IP Address:0:0:0:0:0:FFFF:C000:201');
    expect(Date.parse(server.validFrom)).toBe(now.getTime() - 60_000);
    expect(Date.parse(server.validTo)).toBe(now.getTime() + 365 * DAY);
  });

  it('rejects a server host that is neither a DNS name nor an IP address', async () => {
    await expect(generateCertificateSet({ serverHosts: ['bad host'] })).rejects.toBeInstanceOf(
      ConfigError,
    );
    await expect(generateCertificateSet({ serverHosts: ['-x.example'] })).rejects.toBeInstanceOf(
      ConfigError,
    );
  });
});

describe('mutual TLS with a generated set', () => {
  /** Start a server that wants a client certificate from `set`'s CA; resolves with its port. */
  async function startServer(s: CertificateSet): Promise<{ server: tls.Server; port: number }> {
    const server = tls.createServer({
      cert: s.serverCert,
      key: s.serverKey,
      ca: s.caCert,
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.2',
    });
    server.on('secureConnection', (socket) => {
      socket.once('data', (b: Buffer) => socket.end(b));
      socket.on('error', () => {});
    });
    server.on('tlsClientError', () => {});
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { server, port: (server.address() as AddressInfo).port };
  }

  /** Connect, send one byte, resolve with what came back (or reject on a TLS failure). */
  function exchange(
    port: number,
    client: { cert: string; key: string; ca: string },
  ): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ...client });
      const chunks: Buffer[] = [];
      socket.on('secureConnect', () => socket.write(Buffer.from([0x2a])));
      socket.on('data', (b: Buffer) => chunks.push(b));
      socket.on('end', () =>
        chunks.length > 0
          ? resolve(Buffer.concat(chunks))
          : reject(new Error('closed without data')),
      );
      socket.on('error', reject);
    });
  }

  it('completes a handshake and exchanges a byte', async () => {
    const { server, port } = await startServer(set);
    try {
      const reply = await exchange(port, {
        cert: set.clientCert,
        key: set.clientKey,
        ca: set.caCert,
      });
      expect([...reply]).toEqual([0x2a]);
    } finally {
      server.close();
    }
  });

  it('rejects a client certificate from another CA', async () => {
    const { server, port } = await startServer(set);
    try {
      await expect(
        exchange(port, { cert: other.clientCert, key: other.clientKey, ca: set.caCert }),
      ).rejects.toThrow();
    } finally {
      server.close();
    }
  });
});

describe('writeCertificateSet', () => {
  it('writes the six files, keys 0600 and certificates 0644', async () => {
    const dir = join(await tempDir(), 'nested', 'certs');
    const written = await writeCertificateSet(dir, set);
    expect(written.dir).toBe(dir);
    for (const [k, name] of Object.entries(CERT_FILE_NAMES) as Array<
      [keyof CertificateSet, string]
    >) {
      expect(written.paths[k]).toBe(join(dir, name));
      expect(await readFile(written.paths[k], 'utf8')).toBe(set[k]);
      const mode = (await stat(written.paths[k])).mode & 0o777;
      expect(mode).toBe(k.endsWith('Key') ? 0o600 : 0o644);
    }
  });

  it('refuses to overwrite without force and leaves every file untouched', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, CERT_FILE_NAMES.serverKey), 'old key', { mode: 0o644 });
    const err = await writeCertificateSet(dir, set).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toContain(join(dir, CERT_FILE_NAMES.serverKey));
    // The library names its option; the CLI's message names the flag (test/cli.test.ts).
    expect(err).toMatchObject({ code: 'TLSLP_ERR_CERT_EXISTS', option: 'force' });
    expect((err as ConfigError).message).toMatch(/use force to replace it$/);
    expect(await readFile(join(dir, CERT_FILE_NAMES.serverKey), 'utf8')).toBe('old key');
    // Nothing else was written either: the check happens before any write.
    await expect(stat(join(dir, CERT_FILE_NAMES.caCert))).rejects.toThrow();
  });

  it('overwrites with force and tightens the mode of an existing key file', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, CERT_FILE_NAMES.clientKey), 'old key', { mode: 0o644 });
    await writeCertificateSet(dir, set, { force: true });
    expect(await readFile(join(dir, CERT_FILE_NAMES.clientKey), 'utf8')).toBe(set.clientKey);
    expect((await stat(join(dir, CERT_FILE_NAMES.clientKey))).mode & 0o777).toBe(0o600);
  });

  it('does not write through a symlink planted at a target, even with force', async () => {
    const dir = await tempDir();
    const elsewhere = join(dir, 'elsewhere.txt');
    await writeFile(elsewhere, 'precious');
    await symlink(elsewhere, join(dir, CERT_FILE_NAMES.caKey));
    await expect(writeCertificateSet(dir, set, { force: true })).rejects.toBeInstanceOf(
      ConfigError,
    );
    expect(await readFile(elsewhere, 'utf8')).toBe('precious');
  });

  it('makeCertificates generates and writes, and refuses a second run without force', async () => {
    const dir = await tempDir();
    // EC server keys: one RSA key (the CA's) per run instead of two.
    const first = await makeCertificates(dir, {
      serverHosts: ['localhost', '::1'],
      serverKeyType: 'ec',
    });
    const firstPem = await readFile(first.paths.serverCert, 'utf8');
    expect(new X509Certificate(firstPem).checkIP('::1')).toBe('::1');
    await expect(makeCertificates(dir)).rejects.toBeInstanceOf(ConfigError);
    const second = await makeCertificates(dir, { force: true, serverKeyType: 'ec' });
    expect(await readFile(second.paths.serverCert, 'utf8')).not.toBe(firstPem);
  });
});

describe('readCertificateSet', () => {
  it('reads back what writeCertificateSet wrote, and names a missing file', async () => {
    const { mkdtemp, rm, unlink } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { readCertificateSet, writeCertificateSet } = await import('../src/pki/generate.js');
    const dir = await mkdtemp(join(tmpdir(), 'tlslp-read-'));
    try {
      // The set made in beforeAll: reading back needs no fresh one.
      await writeCertificateSet(dir, set);
      expect(await readCertificateSet(dir)).toEqual(set);
      await unlink(join(dir, 'ec_private_key.pem'));
      await expect(readCertificateSet(dir)).rejects.toThrow(/ec_private_key\.pem \(ENOENT\)/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
