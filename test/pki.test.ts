import { spawnSync } from 'node:child_process';
import { X509Certificate, createPrivateKey, webcrypto } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import tls from 'node:tls';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { beforeAll, describe, expect, it } from 'vitest';
import { CERT_FILE_NAMES, generateCertificateSet } from '../src/pki/generate.js';
import { ConfigError } from '../src/errors/index.js';
import {
  CRL_FILE_NAME,
  describeCertificate,
  formatCertificate,
  issueClientCertificate,
  issueServerCertificate,
  readCrl,
  refreshCrl,
  revokeCertificate,
  verifyCrl,
  type IssuedCertificate,
} from '../src/pki/index.js';
import { copySharedCerts, crlServer, rejectionCodeOf, testCerts, useTempDirs } from './helpers.js';

const DAY = 24 * 60 * 60 * 1000;
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const HAVE_OPENSSL = spawnSync('openssl', ['version']).status === 0;

const tempDir = useTempDirs('tlslp-pki-');

/**
 * A folder of its own (`tlslp certs` layout) holding the run's shared `ec` set: an RSA CA
 * with an EC server key, copied rather than generated (RSA key generation is the slow part;
 * the subject here is issuing, revoking and CRLs, not the CA's making).
 */
async function caDir(): Promise<string> {
  return copySharedCerts(await tempDir(), 'ec');
}

async function text(dir: string, name: string): Promise<string> {
  return readFile(join(dir, name), 'utf8');
}

async function mode(path: string): Promise<number> {
  return (await stat(path)).mode & 0o777;
}

/** The ConfigError code `promise` rejects with (the shared helper, bound to the class). */
const codeOf = (promise: Promise<unknown>): Promise<string> =>
  rejectionCodeOf(promise, ConfigError);

/** A self-signed EC P-256 CA written as ca_cert.pem/ca_key.pem into a new folder. */
async function ecCaDir(): Promise<string> {
  const dir = await tempDir();
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=EC Test CA',
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 30 * DAY),
    keys,
    signingAlgorithm: alg,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const keyPem = createPrivateKey({
    key: Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)),
    format: 'der',
    type: 'pkcs8',
  }).export({ type: 'pkcs8', format: 'pem' }) as string;
  await writeFile(join(dir, CERT_FILE_NAMES.caCert), cert.toString('pem') + '\n');
  await writeFile(join(dir, CERT_FILE_NAMES.caKey), keyPem, { mode: 0o600 });
  return dir;
}

let dir: string;
let ca: X509Certificate;

beforeAll(async () => {
  dir = await caDir();
  ca = new X509Certificate(await text(dir, CERT_FILE_NAMES.caCert));
});

describe('issueClientCertificate', () => {
  it('issues an EC P-256 client certificate with CN, OU and clientAuth, key 0600', async () => {
    const now = new Date();
    const issued = await issueClientCertificate({ dir, name: 'alice', ou: 'ops', now });
    expect(issued.certPath).toBe(join(dir, 'alice_cert.pem'));
    expect(issued.keyPath).toBe(join(dir, 'alice_key.pem'));
    expect(await mode(issued.keyPath)).toBe(0o600);
    expect(await mode(issued.certPath)).toBe(0o644);

    const certPem = await readFile(issued.certPath, 'utf8');
    expect(certPem).toBe(issued.certPem);
    const cert = new X509Certificate(certPem);
    expect(cert.subject).toBe('CN=alice\nOU=ops');
    expect(cert.issuer).toBe(ca.subject);
    expect(cert.verify(ca.publicKey)).toBe(true);
    expect(cert.ca).toBe(false);
    expect(cert.keyUsage).toEqual([CLIENT_AUTH]);
    expect(cert.publicKey.asymmetricKeyType).toBe('ec');
    expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(Date.parse(cert.validTo) - Date.parse(cert.validFrom)).toBe(365 * DAY + 60_000);
    expect(cert.checkPrivateKey(createPrivateKey(await readFile(issued.keyPath)))).toBe(true);
    expect(issued.description.subject.commonName).toEqual(['alice']);
  });

  it('issues an RSA 2048 client certificate for the days asked, without OU', async () => {
    const issued = await issueClientCertificate({ dir, name: 'rsa-bob', keyType: 'rsa', days: 7 });
    const cert = new X509Certificate(issued.certPem);
    expect(cert.subject).toBe('CN=rsa-bob');
    expect(cert.verify(ca.publicKey)).toBe(true);
    expect(cert.keyUsage).toEqual([CLIENT_AUTH]);
    expect(cert.publicKey.asymmetricKeyType).toBe('rsa');
    expect(cert.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(Date.parse(cert.validTo) - Date.parse(cert.validFrom)).toBe(7 * DAY + 60_000);
    expect(await mode(issued.keyPath)).toBe(0o600);
    expect(cert.checkPrivateKey(createPrivateKey(await readFile(issued.keyPath)))).toBe(true);
  });

  it('never overwrites: an existing certificate or key of that name is an error', async () => {
    const d = await caDir();
    const first = await issueClientCertificate({ dir: d, name: 'carol' });
    const key = await readFile(first.keyPath, 'utf8');
    expect(await codeOf(issueClientCertificate({ dir: d, name: 'carol' }))).toBe(
      'TLSLP_ERR_CLIENT_CERT_EXISTS',
    );
    expect(await readFile(first.certPath, 'utf8')).toBe(first.certPem);
    expect(await readFile(first.keyPath, 'utf8')).toBe(key);

    // Only the key there: refused, and no certificate written beside it.
    await writeFile(join(d, 'dave_key.pem'), 'not mine\n');
    expect(await codeOf(issueClientCertificate({ dir: d, name: 'dave' }))).toBe(
      'TLSLP_ERR_CLIENT_CERT_EXISTS',
    );
    expect(await text(d, 'dave_key.pem')).toBe('not mine\n');
    await expect(stat(join(d, 'dave_cert.pem'))).rejects.toMatchObject({ code: 'ENOENT' });

    // Only the certificate there: refused, and no key written.
    await writeFile(join(d, 'erin_cert.pem'), 'not mine\n');
    expect(await codeOf(issueClientCertificate({ dir: d, name: 'erin' }))).toBe(
      'TLSLP_ERR_CLIENT_CERT_EXISTS',
    );
    await expect(stat(join(d, 'erin_key.pem'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses unsafe names, bad OUs and days, and a folder without a CA', async () => {
    expect(await codeOf(issueClientCertificate({ dir, name: '../x' }))).toBe(
      'TLSLP_ERR_BAD_OPTION',
    );
    expect(await codeOf(issueClientCertificate({ dir, name: '.hidden' }))).toBe(
      'TLSLP_ERR_BAD_OPTION',
    );
    expect(await codeOf(issueClientCertificate({ dir, name: 'a', ou: 'x\u001b[2J' }))).toBe(
      'TLSLP_ERR_BAD_OPTION',
    );
    expect(await codeOf(issueClientCertificate({ dir, name: 'a', days: 0 }))).toBe(
      'TLSLP_ERR_BAD_OPTION',
    );
    expect(await codeOf(issueClientCertificate({ dir, name: 'a', days: 1.5 }))).toBe(
      'TLSLP_ERR_BAD_OPTION',
    );
    const empty = await tempDir();
    expect(await codeOf(issueClientCertificate({ dir: empty, name: 'a' }))).toBe(
      'TLSLP_ERR_CERT_SET_READ',
    );
  });

  it('refuses a CA key that is not the CA certificate’s', async () => {
    const d = await caDir();
    const other = await testCerts('foreign');
    await writeFile(join(d, CERT_FILE_NAMES.caKey), other.caKey);
    expect(await codeOf(issueClientCertificate({ dir: d, name: 'x' }))).toBe(
      'TLSLP_ERR_KEY_MISMATCH',
    );
  });

  it('issues from an EC CA too', async () => {
    const d = await ecCaDir();
    const issued = await issueClientCertificate({ dir: d, name: 'ec-client' });
    const cert = new X509Certificate(issued.certPem);
    expect(cert.verify(new X509Certificate(await text(d, CERT_FILE_NAMES.caCert)).publicKey)).toBe(
      true,
    );
  });
});

describe('issueServerCertificate', () => {
  it('issues a server certificate for the host names and addresses given', async () => {
    const d = await caDir();
    expect(await codeOf(issueServerCertificate({ dir: d, hosts: ['tlslp.example'] }))).toBe(
      'TLSLP_ERR_CERT_EXISTS',
    );
    const issued = await issueServerCertificate({
      dir: d,
      hosts: ['tlslp.example', '*.tlslp.example', '127.0.0.1', '::1'],
      keyType: 'ec',
      force: true,
    });
    expect(issued.certPath).toBe(join(d, CERT_FILE_NAMES.serverCert));
    expect(issued.keyPath).toBe(join(d, CERT_FILE_NAMES.serverKey));
    expect(await mode(issued.keyPath)).toBe(0o600);
    const cert = new X509Certificate(await text(d, CERT_FILE_NAMES.serverCert));
    expect(cert.subject).toBe('CN=tlslp.example');
    expect(cert.keyUsage).toEqual([SERVER_AUTH]);
    expect(cert.checkHost('tlslp.example')).toBe('tlslp.example');
    expect(cert.checkHost('a.tlslp.example')).toBe('*.tlslp.example');
    expect(cert.checkHost('localhost')).toBeUndefined();
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(cert.checkIP('::1')).toBe('::1');
    expect(cert.verify(new X509Certificate(await text(d, CERT_FILE_NAMES.caCert)).publicKey)).toBe(
      true,
    );
    expect(issued.description.sans).toEqual({
      dns: ['tlslp.example', '*.tlslp.example'],
      ip: ['127.0.0.1', '::1'],
      uri: [],
      email: [],
    });
    expect(cert.checkPrivateKey(createPrivateKey(await text(d, CERT_FILE_NAMES.serverKey)))).toBe(
      true,
    );
  });

  it('refuses a host that is neither a DNS name nor an IP address', async () => {
    expect(await codeOf(issueServerCertificate({ dir, hosts: ['bad host'], force: true }))).toBe(
      'TLSLP_ERR_BAD_HOST',
    );
  });
});

describe('generateCertificateSet serverKeyType', () => {
  it('makes an EC P-256 server key that signs only, RSA by default', async () => {
    const ec = await generateCertificateSet({ serverKeyType: 'ec' });
    const key = createPrivateKey(ec.serverKey);
    expect(key.asymmetricKeyType).toBe('ec');
    expect(key.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    const cert = new x509.X509Certificate(ec.serverCert);
    expect(cert.getExtension(x509.KeyUsagesExtension)?.usages).toBe(
      x509.KeyUsageFlags.digitalSignature,
    );
    const rsa = await generateCertificateSet();
    expect(createPrivateKey(rsa.serverKey).asymmetricKeyType).toBe('rsa');
  });
});

describe('describeCertificate', () => {
  it('gives subject, SANs, issuer, serial, validity, key type and fingerprint', async () => {
    const issued = await issueClientCertificate({ dir, name: 'frank', ou: 'dev' });
    const node = new X509Certificate(issued.certPem);
    const desc = describeCertificate(issued.certPem);
    expect(desc.subject.text).toBe('CN=frank, OU=dev');
    expect(desc.subject.commonName).toEqual(['frank']);
    expect(desc.subject.organizationalUnit).toEqual(['dev']);
    expect(desc.subject.attributes).toEqual([
      { type: 'CN', value: 'frank' },
      { type: 'OU', value: 'dev' },
    ]);
    expect(desc.issuer.commonName).toEqual(['My Test CA']);
    expect(desc.sans).toEqual({ dns: [], ip: [], uri: [], email: [] });
    expect(desc.serial).toBe(node.serialNumber.toLowerCase().replace(/^0+/, ''));
    expect(desc.notBefore.getTime()).toBe(Date.parse(node.validFrom));
    expect(desc.notAfter.getTime()).toBe(Date.parse(node.validTo));
    expect(desc.keyType).toBe('EC P-256');
    expect(desc.extendedKeyUsage).toEqual(['clientAuth']);
    expect(desc.isCa).toBe(false);
    // Lower case, as the logs' fp: the short form is the fp of the server's records.
    expect(desc.fingerprint256).toBe(node.fingerprint256.toLowerCase());
    expect(desc.fingerprintShort).toBe(
      node.fingerprint256.replace(/:/g, '').slice(0, 16).toLowerCase(),
    );

    const caDesc = describeCertificate(ca.toString());
    expect(caDesc.isCa).toBe(true);
    expect(caDesc.keyType).toBe('RSA-2048');
    const server = describeCertificate(await text(dir, CERT_FILE_NAMES.serverCert));
    expect(server.sans.dns).toEqual(['localhost']);
    expect(server.sans.ip).toEqual(['127.0.0.1']);
    expect(server.extendedKeyUsage).toEqual(['serverAuth']);
  });

  it('formats the description as lines, escaping what the certificate says', () => {
    const lines = formatCertificate(describeCertificate(ca.toString())).split('\n');
    expect(lines[0]).toMatch(/^Subject: +CN=My Test CA$/);
    expect(lines.some((l) => /^SHA-256: +[0-9a-f:]{95}$/.test(l))).toBe(true);
  });

  it('refuses what is not a certificate', () => {
    expect(() => describeCertificate('garbage')).toThrow(ConfigError);
  });
});

describe('revokeCertificate', () => {
  it('revokes a client certificate: the TLS server refuses it and still accepts the others', async () => {
    const d = await caDir();
    const revoked = await issueClientCertificate({ dir: d, name: 'mallory' });
    const kept = await issueClientCertificate({ dir: d, name: 'trent', keyType: 'rsa' });
    const result = await revokeCertificate({ dir: d, certPem: revoked.certPem });
    expect(result.crlPath).toBe(join(d, CRL_FILE_NAME));
    expect(result.serial).toBe(revoked.description.serial);
    expect(result.alreadyRevoked).toBe(false);
    expect(result.crl.serials).toEqual([revoked.description.serial]);
    expect(result.crl.crlNumber).toBe(1n);
    expect(result.crl.issuer).toBe('CN=My Test CA');

    const crlPem = await text(d, CRL_FILE_NAME);
    expect(crlPem).toMatch(/^-----BEGIN X509 CRL-----\n[\s\S]+\n-----END X509 CRL-----\n$/);
    expect(() => tls.createSecureContext({ crl: crlPem })).not.toThrow();
    expect(await verifyCrl(crlPem, await text(d, CERT_FILE_NAMES.caCert))).toBe(true);

    const server = await crlServer(d);
    try {
      expect(await server.attempt(revoked)).toEqual({ ok: false, serverError: 'CERT_REVOKED' });
      expect(await server.attempt(kept)).toEqual({ ok: true });
    } finally {
      await server.close();
    }
  });

  it.skipIf(!HAVE_OPENSSL)('writes a CRL openssl parses and checks against', async () => {
    const d = await caDir();
    const revoked = await issueClientCertificate({ dir: d, name: 'gone' });
    const kept = await issueClientCertificate({ dir: d, name: 'stays' });
    await revokeCertificate({ dir: d, certPem: revoked.certPem, reason: 'keyCompromise' });
    const crlPath = join(d, CRL_FILE_NAME);
    const parsed = spawnSync('openssl', ['crl', '-in', crlPath, '-noout', '-text'], {
      encoding: 'utf8',
    });
    expect(parsed.status, parsed.stderr).toBe(0);
    expect(parsed.stdout).toContain('Version 2');
    expect(parsed.stdout).toContain(`Serial Number: ${revoked.description.serial.toUpperCase()}`);
    expect(parsed.stdout).toContain('Key Compromise');
    expect(parsed.stdout).toMatch(/X509v3 CRL Number: *\n *1\n/);

    const verify = (cert: IssuedCertificate) =>
      spawnSync(
        'openssl',
        [
          'verify',
          '-crl_check',
          '-CAfile',
          join(d, CERT_FILE_NAMES.caCert),
          '-CRLfile',
          crlPath,
          cert.certPath,
        ],
        { encoding: 'utf8' },
      );
    const bad = verify(revoked);
    expect(bad.status).not.toBe(0);
    expect(bad.stdout + bad.stderr).toContain('certificate revoked');
    expect(verify(kept).status).toBe(0);
  });

  it('revokes by serial hex (colons, upper case, 0x allowed)', async () => {
    const d = await caDir();
    const issued = await issueClientCertificate({ dir: d, name: 'by-serial' });
    const colons = issued.description.serial.toUpperCase().match(/../g)?.join(':') ?? '';
    const result = await revokeCertificate({ dir: d, serialHex: colons });
    expect(result.serial).toBe(issued.description.serial);
    // A serial with the top bit set and an odd number of digits, of a certificate not at hand.
    const more = await revokeCertificate({ dir: d, serialHex: '0xF01' });
    expect(more.serial).toBe('f01');
    expect((await readCrl(join(d, CRL_FILE_NAME))).serials).toEqual([
      issued.description.serial,
      'f01',
    ]);
    const server = await crlServer(d);
    try {
      expect(await server.attempt(issued)).toEqual({ ok: false, serverError: 'CERT_REVOKED' });
    } finally {
      await server.close();
    }
  });

  it('keeps one entry when the same certificate is revoked twice', async () => {
    const d = await caDir();
    const issued = await issueClientCertificate({ dir: d, name: 'twice' });
    await revokeCertificate({ dir: d, certPem: issued.certPem });
    const again = await revokeCertificate({ dir: d, serialHex: issued.description.serial });
    expect(again.alreadyRevoked).toBe(true);
    expect(again.crl.serials).toEqual([issued.description.serial]);
    expect(again.crl.crlNumber).toBe(2n);
  });

  it('refuses a certificate of another CA, a bad serial, and neither or both targets', async () => {
    const d = await caDir();
    const other = await testCerts('foreign');
    expect(await codeOf(revokeCertificate({ dir: d, certPem: other.clientCert }))).toBe(
      'TLSLP_ERR_NOT_OUR_CERT',
    );
    // An EC CA's certificate: the RSA check of its signature fails, it does not throw.
    const ecDir = await ecCaDir();
    const ecIssued = await issueClientCertificate({ dir: ecDir, name: 'ec' });
    expect(await codeOf(revokeCertificate({ dir: d, certPem: ecIssued.certPem }))).toBe(
      'TLSLP_ERR_NOT_OUR_CERT',
    );
    expect(await codeOf(revokeCertificate({ dir: d, serialHex: 'xyz' }))).toBe(
      'TLSLP_ERR_BAD_OPTION',
    );
    expect(await codeOf(revokeCertificate({ dir: d, serialHex: '00' }))).toBe(
      'TLSLP_ERR_BAD_OPTION',
    );
    expect(await codeOf(revokeCertificate({ dir: d }))).toBe('TLSLP_ERR_REVOKE_TARGET');
    expect(
      await codeOf(revokeCertificate({ dir: d, serialHex: '01', certPem: other.clientCert })),
    ).toBe('TLSLP_ERR_REVOKE_TARGET');
    await expect(stat(join(d, CRL_FILE_NAME))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses to extend a CRL in the folder that another CA signed', async () => {
    const d = await caDir();
    const ecDir = await ecCaDir();
    await refreshCrl({ dir: ecDir });
    await writeFile(join(d, CRL_FILE_NAME), await text(ecDir, CRL_FILE_NAME));
    expect(await codeOf(revokeCertificate({ dir: d, serialHex: '01' }))).toBe('TLSLP_ERR_BAD_CRL');
  });

  it('signs CRLs with an EC CA key too', async () => {
    const d = await ecCaDir();
    const revoked = await issueClientCertificate({ dir: d, name: 'ec-gone' });
    const info = await revokeCertificate({ dir: d, certPem: revoked.certPem });
    expect(info.crl.serials).toEqual([revoked.description.serial]);
    const crlPem = await text(d, CRL_FILE_NAME);
    expect(() => tls.createSecureContext({ crl: crlPem })).not.toThrow();
    expect(await verifyCrl(crlPem, await text(d, CERT_FILE_NAMES.caCert))).toBe(true);
  });
});

describe('verifyCrl', () => {
  it('is false for a CA key that did not sign it, of the same or another type', async () => {
    const d = await caDir();
    const info = await refreshCrl({ dir: d });
    expect(info.serials).toEqual([]);
    const crlPem = await text(d, CRL_FILE_NAME);
    expect(await verifyCrl(crlPem, await text(d, CERT_FILE_NAMES.caCert))).toBe(true);
    const other = await testCerts('foreign');
    expect(await verifyCrl(crlPem, other.caCert)).toBe(false); // another RSA key
    expect(await verifyCrl(crlPem, other.clientCert)).toBe(false); // an EC P-256 key
    const ecDir = await ecCaDir();
    expect(await verifyCrl(crlPem, await text(ecDir, CERT_FILE_NAMES.caCert))).toBe(false);
    await refreshCrl({ dir: ecDir });
    const ecCrl = await text(ecDir, CRL_FILE_NAME);
    expect(await verifyCrl(ecCrl, other.caCert)).toBe(false); // RSA key, ECDSA signature
    expect(await verifyCrl(ecCrl, other.clientCert)).toBe(false); // EC key, not this one
  });

  it('refuses what is not a CRL or not a certificate', async () => {
    const d = await caDir();
    await refreshCrl({ dir: d });
    const crlPem = await text(d, CRL_FILE_NAME);
    expect(await codeOf(verifyCrl('garbage', ca.toString()))).toBe('TLSLP_ERR_BAD_CRL');
    expect(await codeOf(verifyCrl(crlPem, 'garbage'))).toBe('TLSLP_ERR_CERT_FILE');
  });
});
