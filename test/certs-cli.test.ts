/**
 * `tlslp certs` and its subcommands, run through the command's main in this process (see
 * certs-bin.ts; a few runs of the built bin, dist/cli/tlslp.js, check the process contract),
 * on real files in a temporary folder, with certificates made at test time. A test that needs
 * a CA folder starts from a copy of the run's shared set; `tlslp certs` itself runs where its
 * own behaviour is the subject.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CERT_FILE_NAMES, readCertificateSet } from '../src/pki/generate.js';
import { FAIL_REASONS } from '../src/server/session.js';
import { CRL_FILE_NAME, readCrl, verifyCrl } from '../src/pki/index.js';
import { copySharedCerts, crlServer, startServer, useTempDirs } from './helpers.js';
import { failed, ok, refused, succeeded, tlslpProcess } from './certs-bin.js';
import { firstLine } from './first-line.js';

const DAY = 24 * 60 * 60 * 1000;
const SKEW = 60_000;
const tempDir = useTempDirs('tlslp-certs-cli-');

const read = (dir: string, name: string): Promise<string> => readFile(join(dir, name), 'utf8');
const cert = async (dir: string, name: string): Promise<X509Certificate> =>
  new X509Certificate(await read(dir, name));
const mode = async (dir: string, name: string): Promise<number> =>
  (await stat(join(dir, name))).mode & 0o777;
/** Node's serial (upper-case hex, leading zeros kept) as tlslp prints it. */
const serialOf = (c: X509Certificate): string => c.serialNumber.toLowerCase().replace(/^0+/, '');

let dir: string;
let ca: X509Certificate;

beforeAll(async () => {
  // The shared set is what `tlslp certs` writes by default (test/global-setup.ts).
  dir = await copySharedCerts(await tempDir());
  ca = await cert(dir, CERT_FILE_NAMES.caCert);
});

describe('tlslp certs client', () => {
  it('issues an EC client certificate with an OU and a validity in days, key 0600', async () => {
    const out = await ok(
      'certs',
      'client',
      '--dir',
      dir,
      '--name',
      'jane',
      '--ou',
      'ops',
      '--days',
      '90',
    );
    expect(out).toContain(`client certificate for jane written to ${dir}:`);
    expect(out).toMatch(/^ {2}jane_cert\.pem$/m);
    expect(out).toMatch(/^ {2}jane_key\.pem \(mode 0600\)$/m);
    const c = await cert(dir, 'jane_cert.pem');
    expect(out).toContain(`Serial:  ${serialOf(c)}`);
    expect(c.subject).toBe('CN=jane\nOU=ops');
    expect(c.issuer).toBe(ca.subject);
    expect(c.verify(ca.publicKey)).toBe(true);
    expect(c.ca).toBe(false);
    expect(c.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
    expect(Date.parse(c.validTo) - Date.parse(c.validFrom)).toBe(90 * DAY + SKEW);
    const key = createPrivateKey(await read(dir, 'jane_key.pem'));
    expect(key.asymmetricKeyType).toBe('ec');
    expect(key.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(c.checkPrivateKey(key)).toBe(true);
    expect(await mode(dir, 'jane_key.pem')).toBe(0o600);
  });

  it('issues an RSA 2048 client certificate, 365 days by default', async () => {
    await ok('certs', 'client', '--dir', dir, '--name', 'bob', '--key-type', 'rsa');
    const c = await cert(dir, 'bob_cert.pem');
    expect(c.subject).toBe('CN=bob');
    expect(c.publicKey.asymmetricKeyType).toBe('rsa');
    expect(c.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(Date.parse(c.validTo) - Date.parse(c.validFrom)).toBe(365 * DAY + SKEW);
    expect(c.checkPrivateKey(createPrivateKey(await read(dir, 'bob_key.pem')))).toBe(true);
  });

  it('never overwrites: a second certificate of that name is refused, naming the files', async () => {
    const d = await copySharedCerts(await tempDir(), 'ec');
    await ok('certs', 'client', '--dir', d, '--name', 'jane');
    const [before, key] = await Promise.all([read(d, 'jane_cert.pem'), read(d, 'jane_key.pem')]);
    const line = await refused(
      /refusing to overwrite .*jane_key\.pem, .*jane_cert\.pem; pick another --name/,
      ...['certs', 'client', '--dir', d, '--name', 'jane'],
    );
    expect(line).toContain(join(d, 'jane_key.pem'));
    expect(await read(d, 'jane_cert.pem')).toBe(before);
    expect(await read(d, 'jane_key.pem')).toBe(key);
  });

  it('refuses a missing or unsafe name, bad days or key type, and a folder without a CA', async () => {
    await refused(/required option '--name <name>' not specified/, 'certs', 'client', '--dir', dir);
    await refused(/--name must be 1 to 64 letters/, 'certs', 'client', '--name', '../x');
    await refused(
      /--days must be between 1 and 36500/,
      'certs',
      'client',
      '--name',
      'a',
      '--days',
      '0',
    );
    await refused(
      /--key-type must be one of ec, rsa/,
      'certs',
      'client',
      '--name',
      'a',
      '--key-type',
      'dsa',
    );
    // A flag of the set before the subcommand is not taken for the subcommand's.
    await refused(
      /give --dir after the subcommand: tlslp certs client --dir …$/,
      ...['certs', '--dir', dir, 'client', '--name', 'kim'],
    );
    const empty = await tempDir();
    await refused(
      /cannot read .*ca_cert\.pem \(ENOENT\); create the set with: tlslp certs --dir /,
      ...['certs', 'client', '--dir', empty, '--name', 'jane'],
    );
  });

  it('--dns and --uri (repeatable) write SANs: tlslp-server --allow-uri admits the certificate, another URI refuses it', async () => {
    const uri = 'spiffe://example.org/api';
    const out = await ok(
      'certs',
      'client',
      '--dir',
      dir,
      '--name',
      'api',
      '--dns',
      'api.internal',
      '--uri',
      uri,
      '--uri',
      `${uri}/v2`,
    );
    expect(out).toContain('api.internal');
    const c = await cert(dir, 'api_cert.pem');
    expect(c.subjectAltName).toBe(`DNS:api.internal, URI:${uri}, URI:${uri}/v2`);
    const set = {
      ...(await readCertificateSet(dir)),
      clientCert: await read(dir, 'api_cert.pem'),
      clientKey: await read(dir, 'api_key.pem'),
    };
    for (const [allowUri, first] of [
      [[uri], 'HELLO'],
      [['spiffe://example.org/other'], `FAIL ${FAIL_REASONS.notAuthorized}`],
    ] as const) {
      const s = await startServer(set, { allowUri: [...allowUri] });
      try {
        expect(await firstLine(s.port, set)).toBe(first);
      } finally {
        await s.server.close();
      }
    }
    await refused(
      /--dns .*DNS names/,
      'certs',
      'client',
      '--dir',
      dir,
      '--name',
      'x',
      '--dns',
      'a b',
    );
    await refused(
      /--uri .*URIs/,
      'certs',
      'client',
      '--dir',
      dir,
      '--name',
      'x',
      '--uri',
      'no-scheme',
    );
  });
});

describe('tlslp certs server', () => {
  it('refuses to replace the server certificate without --force, then issues one for the hosts given', async () => {
    const d = await copySharedCerts(await tempDir(), 'ec');
    const before = await read(d, CERT_FILE_NAMES.serverCert);
    await refused(
      /refusing to overwrite .*server-key\.pem, .*server-cert\.pem; use --force to replace them/,
      ...['certs', 'server', '--dir', d, '--host', 'tlslp.example'],
    );
    expect(await read(d, CERT_FILE_NAMES.serverCert)).toBe(before);

    const out = await ok(
      ...[
        'certs',
        'server',
        '--dir',
        d,
        '--host',
        'tlslp.example',
        '*.tlslp.example',
        '127.0.0.1',
        '::1',
      ],
      ...['--key-type', 'ec', '--days', '30', '--force'],
    );
    expect(out).toContain('SANs:    DNS:tlslp.example, DNS:*.tlslp.example, IP:127.0.0.1, IP:::1');
    // SIGHUP reloads it: no restart needed.
    expect(out).toMatch(/^a running tlslp-server serves it after SIGHUP/m);
    expect(out).not.toContain('restart');
    const c = await cert(d, CERT_FILE_NAMES.serverCert);
    expect(c.subject).toBe('CN=tlslp.example');
    expect(c.subjectAltName).toBe(
      'DNS:tlslp.example, DNS:*.tlslp.example, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1',
    );
    expect(c.checkHost('a.tlslp.example')).toBe('*.tlslp.example');
    expect(c.checkIP('::1')).toBe('::1');
    expect(c.checkHost('localhost')).toBeUndefined();
    expect(c.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    expect(c.verify((await cert(d, CERT_FILE_NAMES.caCert)).publicKey)).toBe(true);
    expect(Date.parse(c.validTo) - Date.parse(c.validFrom)).toBe(30 * DAY + SKEW);
    const key = createPrivateKey(await read(d, CERT_FILE_NAMES.serverKey));
    expect(key.asymmetricKeyType).toBe('ec');
    expect(c.checkPrivateKey(key)).toBe(true);
    expect(await mode(d, CERT_FILE_NAMES.serverKey)).toBe(0o600);

    await ok('certs', 'server', '--dir', d, '--force');
    const rsa = await cert(d, CERT_FILE_NAMES.serverCert);
    expect(rsa.subjectAltName).toBe('DNS:localhost, IP Address:127.0.0.1');
    expect(rsa.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    await refused(
      /server host "bad host" is neither a DNS name nor an IP address/,
      'certs',
      'server',
      '--dir',
      d,
      '--host',
      'bad host',
      '--force',
    );
  });
});

describe('tlslp certs show', () => {
  it('prints subject, SANs, issuer, serial, validity, key type and fingerprint', async () => {
    const c = await cert(dir, CERT_FILE_NAMES.serverCert);
    const out = await ok('certs', 'show', join(dir, CERT_FILE_NAMES.serverCert));
    const rows = Object.fromEntries(
      out
        .trimEnd()
        .split('\n')
        .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]),
    );
    expect(rows).toEqual({
      Subject: 'CN=localhost',
      SANs: 'DNS:localhost, IP:127.0.0.1',
      Issuer: 'CN=My Test CA',
      Serial: serialOf(c),
      Valid: `${new Date(c.validFrom).toISOString()} to ${new Date(c.validTo).toISOString()}`,
      Key: 'RSA-2048',
      Usage: 'serverAuth',
      'SHA-256': c.fingerprint256.toLowerCase(),
    });
  });

  it('--json prints one JSON object whose fields match node:crypto', async () => {
    const file = join(dir, 'jane_cert.pem');
    const c = await cert(dir, 'jane_cert.pem');
    const out = await ok('certs', 'show', file, '--json');
    expect(out.trimEnd().split('\n')).toHaveLength(1);
    const j = JSON.parse(out) as Record<string, unknown>;
    expect(j).toMatchObject({
      file,
      subject: { text: 'CN=jane, OU=ops', commonName: ['jane'], organizationalUnit: ['ops'] },
      issuer: { text: c.issuer, commonName: ['My Test CA'] },
      sans: { dns: [], ip: [], uri: [], email: [] },
      serial: serialOf(c),
      notBefore: new Date(c.validFrom).toISOString(),
      notAfter: new Date(c.validTo).toISOString(),
      keyType: 'EC P-256',
      extendedKeyUsage: ['clientAuth'],
      isCa: false,
      fingerprint256: c.fingerprint256.toLowerCase(),
    });
    const caJson: unknown = JSON.parse(
      await ok('certs', 'show', '--json', join(dir, CERT_FILE_NAMES.caCert)),
    );
    expect(caJson).toMatchObject({ isCa: true, keyType: 'RSA-2048', serial: serialOf(ca) });
  });

  it('names the file that is missing or not a certificate', async () => {
    await refused(/^tlslp: error: nope\.pem: not found$/, 'certs', 'show', 'nope.pem');
    await refused(
      /jane_key\.pem: not a PEM certificate$/,
      'certs',
      'show',
      join(dir, 'jane_key.pem'),
    );
    await refused(/missing required argument 'file'/, 'certs', 'show');
  });
});

describe('tlslp certs revoke', () => {
  it('revokes by --cert, creating the CRL, and by --serial; twice keeps one entry; a server with the CRL refuses the revoked client', async () => {
    const d = await copySharedCerts(await tempDir(), 'ec');
    for (const name of ['jane', 'john', 'kim'])
      await ok('certs', 'client', '--dir', d, '--name', name);
    const jane = await cert(d, 'jane_cert.pem');
    const john = await cert(d, 'john_cert.pem');
    const crlPath = join(d, CRL_FILE_NAME);

    const first = await ok('certs', 'revoke', '--dir', d, '--cert', join(d, 'jane_cert.pem'));
    expect(first).toContain(`revoked: serial ${serialOf(jane)} (CN=jane)`);
    expect(first).toContain(`CRL ${crlPath}: 1 entry, CRL number 1, signed by CN=My Test CA`);
    const again = await ok('certs', 'revoke', '--dir', d, '--cert', join(d, 'jane_cert.pem'));
    expect(again).toContain(`already revoked: serial ${serialOf(jane)}`);
    expect(again).toContain(`CRL ${crlPath}: 1 entry, CRL number 2`);

    // The serial as OpenSSL prints it: upper case, colons.
    const colons = (john.serialNumber.match(/../g) ?? []).join(':');
    const bySerial = await ok('certs', 'revoke', '--dir', d, '--serial', colons);
    expect(bySerial).toContain(`revoked: serial ${serialOf(john)}\n`);
    expect(bySerial).toContain('2 entries, CRL number 3');

    const crlPem = await read(d, CRL_FILE_NAME);
    expect(await verifyCrl(crlPem, await read(d, CERT_FILE_NAMES.caCert))).toBe(true);
    expect((await readCrl(crlPath)).serials).toEqual([serialOf(jane), serialOf(john)]);

    const server = await crlServer(d);
    const files = (name: string) => ({
      certPath: join(d, `${name}_cert.pem`),
      keyPath: join(d, `${name}_key.pem`),
    });
    try {
      expect(await server.attempt(files('kim'))).toEqual({ ok: true });
      expect(await server.attempt(files('jane'))).toEqual({
        ok: false,
        serverError: 'CERT_REVOKED',
      });
      expect((await server.attempt(files('john'))).ok).toBe(false);
    } finally {
      await server.close();
    }
  });

  it('refuses neither or both targets, a bad serial, a file that is not a certificate, and another CA’s certificate', async () => {
    const both =
      /give exactly one of the certificate to revoke \(--cert\) and its serial \(--serial\)/;
    await refused(both, 'certs', 'revoke', '--dir', dir);
    await refused(
      both,
      'certs',
      'revoke',
      '--dir',
      dir,
      '--serial',
      '01',
      '--cert',
      join(dir, 'jane_cert.pem'),
    );
    await refused(
      /--serial must be a positive hex number of at most 20 bytes/,
      'certs',
      'revoke',
      '--serial',
      'xyz',
    );
    await refused(/--serial must be a positive hex number/, 'certs', 'revoke', '--serial', '00');
    await refused(
      /--cert .*nope\.pem: not found/,
      'certs',
      'revoke',
      '--dir',
      dir,
      '--cert',
      join(dir, 'nope.pem'),
    );
    await refused(
      /--cert .*jane_key\.pem: not a PEM certificate/,
      'certs',
      'revoke',
      '--dir',
      dir,
      '--cert',
      join(dir, 'jane_key.pem'),
    );
    // Another CA's set.
    const other = await copySharedCerts(await tempDir(), 'foreign');
    await refused(
      /CN=client is not issued by the CA CN=My Test CA; revoke it with the CA that issued it/,
      ...['certs', 'revoke', '--dir', dir, '--cert', join(other, CERT_FILE_NAMES.clientCert)],
    );
    await expect(stat(join(dir, CRL_FILE_NAME))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('tlslp certs --key-type', () => {
  it('ec makes an EC P-256 server key; the default stays RSA 2048', async () => {
    const d = await tempDir();
    const out = await ok('certs', '--dir', d, '--key-type', 'ec');
    expect(out).toContain('server certificate (key EC P-256) valid for: localhost, 127.0.0.1');
    const key = createPrivateKey(await read(d, CERT_FILE_NAMES.serverKey));
    expect(key.asymmetricKeyType).toBe('ec');
    expect(key.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    const c = await cert(d, CERT_FILE_NAMES.serverCert);
    expect(c.checkPrivateKey(key)).toBe(true);
    expect(c.subjectAltName).toBe('DNS:localhost, IP Address:127.0.0.1');
    expect((await cert(d, CERT_FILE_NAMES.caCert)).publicKey.asymmetricKeyType).toBe('rsa');
    const byDefault = await tempDir();
    expect(await ok('certs', '--dir', byDefault)).toMatch(/certificates written to/);
    const rsa = await cert(byDefault, CERT_FILE_NAMES.serverCert);
    expect(rsa.publicKey.asymmetricKeyType).toBe('rsa');
    expect(rsa.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    await refused(/--key-type must be one of ec, rsa/, 'certs', '--dir', d, '--key-type', 'dsa');
  });
});

describe('the tlslp bin, a process', () => {
  it('prints what the command prints in-process, exit 0; a refusal is one error line, exit 2, no stack', async () => {
    const file = join(dir, CERT_FILE_NAMES.serverCert);
    expect(await succeeded(tlslpProcess('certs', 'show', file))).toBe(
      await ok('certs', 'show', file),
    );
    await failed(/^tlslp: error: nope\.pem: not found$/, tlslpProcess('certs', 'show', 'nope.pem'));
  });
});
