/**
 * What a refused client learns, with real TLS (docs/guide.md "What a refused client sees"):
 * no certificate gets OpenSSL's alert (certificate_required in TLS 1.3, handshake_failure in
 * 1.2); a chain OpenSSL cannot verify gets a close at the end of the handshake, which
 * runClient names; the server's own verdicts get a FAIL line before HELLO. The server logs
 * and counts each refusal by its reason as before.
 */
import { spawn, spawnSync } from 'node:child_process';
import tls from 'node:tls';
import { beforeAll, describe, expect, it } from 'vitest';
import { runClient } from '../src/client/client.js';
import type { TlslpError } from '../src/errors/index.js';
import type { CertificateSet } from '../src/pki/generate.js';
import { X509Certificate } from 'node:crypto';
import { testCerts, until, useServers, within, type TestServer } from './helpers.js';
import { issueClientCert, issueCrl } from './issue-cert.js';

let certs: CertificateSet;
beforeAll(async () => {
  certs = await testCerts();
}, 60_000);
const { server } = useServers(() => certs, { nBits: 1 });

/** The error code a raw TLS client without a certificate ends with. */
function noCertCode(port: number, maxVersion: tls.SecureVersion): Promise<string> {
  return new Promise((resolve) => {
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      ca: certs.caCert,
      servername: 'localhost',
      maxVersion,
    });
    socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
    socket.on('close', () => resolve('closed'));
  });
}

/** What runClient rejects with, with this client certificate and key. */
async function rejection(port: number, cert: string, key: string): Promise<TlslpError> {
  const err: unknown = await runClient({
    host: '127.0.0.1',
    ports: [port],
    tls: { ca: certs.caCert, cert, key },
    otherTimeoutMs: 5000,
    solverOptions: { threads: 1 },
  }).then(
    () => new Error('the session ran'),
    (e: unknown) => e,
  );
  return err as TlslpError;
}

/** Once the refusal is counted: the one handshake-failure reason. */
async function counted(s: TestServer): Promise<string> {
  await until(() => s.server.stats.handshakeFailures === 1, 'the refusal to be counted');
  return Object.keys(s.server.stats.handshakeFailuresByReason).join(',');
}

describe('a client without a certificate', () => {
  it('gets the certificate_required alert over TLS 1.3, counted as no_client_cert', async () => {
    const s = await server();
    expect(await noCertCode(s.port, 'TLSv1.3')).toBe('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED');
    expect(await counted(s)).toBe('no_client_cert');
  });

  it('gets the handshake_failure alert over TLS 1.2', async () => {
    const s = await server();
    expect(await noCertCode(s.port, 'TLSv1.2')).toBe('ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE');
    expect(await counted(s)).toBe('no_client_cert');
  });

  const openssl = spawnSync('openssl', ['version']).status === 0;
  it.skipIf(!openssl)('openssl s_client sees the alert, not an unexpected eof', async () => {
    const s = await server();
    // Not spawnSync: the server runs in this process's event loop.
    const child = spawn(
      'openssl',
      [
        's_client',
        '-connect',
        `127.0.0.1:${s.port}`,
        '-tls1_3',
        '-servername',
        'localhost',
        '-ign_eof',
      ],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stdin.end();
    await within(
      new Promise((resolve) => child.on('close', resolve)),
      10_000,
      'openssl s_client to end',
    );
    expect(out).toMatch(/alert certificate required/);
    expect(out).not.toMatch(/unexpected eof/);
    expect(await counted(s)).toBe('no_client_cert');
  });
  if (!openssl)
    console.warn('test/refusal-alerts.test.ts: openssl not installed, s_client case skipped');
});

describe('a certificate OpenSSL cannot verify', () => {
  it('of an unknown issuer: runClient says the server closed at the end of the handshake', async () => {
    // Signed by an intermediate the server does not know, sent without it.
    const unknown = await issueClientCert(certs, { ca: true, commonName: 'Unknown CA' });
    const other = await issueClientCert(certs, { issuer: unknown, commonName: 'stranger' });
    const s = await server();
    const err = await rejection(s.port, other.cert, other.key);
    expect(err.code).toBe('TLSLP_ERR_CLOSED_BEFORE_HELLO');
    expect(err.message).toContain('"stranger"');
    expect(await counted(s)).toMatch(/^unable_to_(get_issuer_cert|verify_leaf_signature)/);
  });

  it('expired: the same close, counted as cert_has_expired', async () => {
    const day = 86_400_000;
    const expired = await issueClientCert(certs, {
      notBefore: new Date(Date.now() - 3 * day),
      notAfter: new Date(Date.now() - day),
      commonName: 'expired',
    });
    const s = await server();
    expect((await rejection(s.port, expired.cert, expired.key)).code).toBe(
      'TLSLP_ERR_CLOSED_BEFORE_HELLO',
    );
    expect(await counted(s)).toBe('cert_has_expired');
  });
});

describe("the server's own verdicts: a FAIL line before HELLO", () => {
  it('revoked by the CRL: TLSLP_ERR_CERT_REFUSED, FAIL Certificate revoked.', async () => {
    const client = await issueClientCert(certs, { commonName: 'revoked-client' });
    const serial = new X509Certificate(client.cert).serialNumber;
    const crl = await issueCrl(certs, { revoked: [serial] });
    const s = await server({
      tls: { cert: certs.serverCert, key: certs.serverKey, ca: certs.caCert, crl },
    });
    const err = await rejection(s.port, client.cert, client.key);
    expect(err.code).toBe('TLSLP_ERR_CERT_REFUSED');
    expect(err.message).toBe(
      `server refused client certificate "revoked-client" (fp ${fingerprint(client.cert)}) (FAIL Certificate revoked.)`,
    );
    expect(await counted(s)).toBe('revoked');
  });

  it('a chain past maxChainDepth: FAIL Certificate chain too long.', async () => {
    const s = await server({ maxChainDepth: 1 });
    const err = await rejection(s.port, certs.clientCert, certs.clientKey);
    expect(err.code).toBe('TLSLP_ERR_CERT_REFUSED');
    expect(err.message).toContain('(FAIL Certificate chain too long.)');
    expect(await counted(s)).toBe('chain_too_deep');
  });
});

/** The short fingerprint the client's messages name a certificate by. */
function fingerprint(pem: string): string {
  return new X509Certificate(pem).fingerprint256.replace(/:/g, '').slice(0, 16).toLowerCase();
}
