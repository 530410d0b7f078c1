/**
 * A test-only certificate issuer: client certificates (and intermediate CAs) signed by a
 * set's CA or by another issuer, with a chosen subject (CN, OUs) and DNS/URI SANs, and with
 * the faults the server's gate must refuse: expired, a weak key, the wrong extended key
 * usage, a chain deeper than the limit.
 */
// @peculiar/x509 resolves its algorithm providers through tsyringe, which needs the Reflect
// metadata polyfill loaded before the library itself.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { createPrivateKey, generateKeyPairSync, KeyObject, webcrypto } from 'node:crypto';
import type { CertificateSet } from '../src/pki/generate.js';

type CryptoKey = webcrypto.CryptoKey;

x509.cryptoProvider.set(webcrypto);

/** Key types {@link issueClientCert} can make. */
export type IssuedKeyType = 'ec-p256' | 'ec-p224' | 'rsa-1024' | 'rsa-2048';

/** Options of {@link issueClientCert}. */
export interface IssueOptions {
  /** The new certificate's key (default `ec-p256`). `ec-p224` keys cannot issue certificates. */
  key?: IssuedKeyType;
  /** Default: one minute ago. */
  notBefore?: Date;
  /** Default: one day from now. */
  notAfter?: Date;
  /** The one extended key usage of a leaf (default `clientAuth`); a CA gets none. */
  eku?: 'clientAuth' | 'serverAuth';
  /** Who signs it (default: the set's CA). An intermediate made here with `ca: true` works. */
  issuer?: { cert: string; key: string };
  /** Make a CA certificate (basicConstraints CA:true, keyCertSign) instead of a leaf. */
  ca?: boolean;
  /** Subject CN (default `client`, or `intermediate` for a CA); `null`: no CN at all. */
  commonName?: string | null;
  /** DNS names and IP addresses for a subjectAltName (a server certificate: `eku: 'serverAuth'`). */
  hosts?: string[];
  /** Subject OUs, in order. (Quotes and backslashes in names are taken as DN syntax by @peculiar/x509: avoid them.) */
  organizationalUnits?: readonly string[];
  /** DNS subject alternative names. */
  dnsNames?: readonly string[];
  /** URI subject alternative names. */
  uris?: readonly string[];
}

const RSA_SIGN = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
const EC_SIGN = { name: 'ECDSA', hash: 'SHA-256' };

/** A fresh key pair: the public half as x509 wants it, the private half as PKCS#8 PEM. */
async function newKey(type: IssuedKeyType): Promise<{
  publicKey: CryptoKey | x509.PublicKey;
  pkcs8: string;
}> {
  if (type === 'ec-p224') {
    // WebCrypto knows only P-256, P-384 and P-521; OpenSSL makes the P-224 key.
    const pair = generateKeyPairSync('ec', { namedCurve: 'secp224r1' });
    const spki = pair.publicKey.export({ type: 'spki', format: 'der' });
    return {
      publicKey: new x509.PublicKey(new Uint8Array(spki)),
      pkcs8: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    };
  }
  const alg =
    type === 'ec-p256'
      ? { name: 'ECDSA', namedCurve: 'P-256' }
      : {
          ...RSA_SIGN,
          publicExponent: new Uint8Array([1, 0, 1]),
          modulusLength: type === 'rsa-1024' ? 1024 : 2048,
        };
  const pair = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  return {
    publicKey: pair.publicKey,
    pkcs8: KeyObject.from(pair.privateKey).export({ type: 'pkcs8', format: 'pem' }) as string,
  };
}

/** The issuer's private key as a WebCrypto signing key, and the algorithm it signs with. */
async function signingKey(pem: string): Promise<{ key: CryptoKey; alg: typeof RSA_SIGN }> {
  const keyObject = createPrivateKey(pem);
  const der = keyObject.export({ type: 'pkcs8', format: 'der' });
  const type = keyObject.asymmetricKeyType;
  if (type === 'rsa') {
    const key = await webcrypto.subtle.importKey('pkcs8', der, RSA_SIGN, false, ['sign']);
    return { key, alg: RSA_SIGN };
  }
  const curve = keyObject.asymmetricKeyDetails?.namedCurve;
  const named = curve === 'prime256v1' ? 'P-256' : curve === 'secp384r1' ? 'P-384' : null;
  if (type !== 'ec' || !named)
    throw new Error(`cannot sign with a ${type ?? '?'} ${curve ?? ''} issuer key`);
  const key = await webcrypto.subtle.importKey(
    'pkcs8',
    der,
    { name: 'ECDSA', namedCurve: named },
    false,
    ['sign'],
  );
  return { key, alg: EC_SIGN };
}

function randomSerial(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x40;
  return Buffer.from(bytes).toString('hex');
}

/**
 * Issue a certificate signed by the set's CA (or `opts.issuer`): a client leaf by default, or
 * an intermediate CA with `ca: true`.
 * @returns the certificate (PEM) and its private key (PKCS#8 PEM)
 */
export async function issueClientCert(
  certs: CertificateSet,
  opts: IssueOptions = {},
): Promise<{ cert: string; key: string }> {
  const issuerPem = opts.issuer ?? { cert: certs.caCert, key: certs.caKey };
  const issuer = new x509.X509Certificate(issuerPem.cert);
  const signer = await signingKey(issuerPem.key);
  const subjectKey = await newKey(opts.key ?? 'ec-p256');
  const now = Date.now();
  const issuerSki = issuer.getExtension(x509.SubjectKeyIdentifierExtension);
  const aki = issuerSki
    ? new x509.AuthorityKeyIdentifierExtension(issuerSki.keyId)
    : await x509.AuthorityKeyIdentifierExtension.create(issuer.publicKey);
  const extensions: x509.Extension[] = opts.ca
    ? [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.keyCertSign |
            x509.KeyUsageFlags.cRLSign |
            x509.KeyUsageFlags.digitalSignature,
          true,
        ),
      ]
    : [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension(
          [
            opts.eku === 'serverAuth'
              ? x509.ExtendedKeyUsage.serverAuth
              : x509.ExtendedKeyUsage.clientAuth,
          ],
          false,
        ),
      ];
  const san = [
    ...(opts.hosts ?? []).map((value) => ({
      type: /^[\d.]+$|:/.test(value) ? ('ip' as const) : ('dns' as const),
      value,
    })),
    ...(opts.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(opts.uris ?? []).map((value) => ({ type: 'url' as const, value })),
  ];
  if (san.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(san, false));
  extensions.push(await x509.SubjectKeyIdentifierExtension.create(subjectKey.publicKey), aki);
  const cn =
    opts.commonName === undefined ? (opts.ca ? 'intermediate' : 'client') : opts.commonName;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: [
      ...(cn === null ? [] : [{ CN: [cn] }]),
      ...(opts.organizationalUnits ?? []).map((ou) => ({ OU: [ou] })),
    ],
    // The issuer's own encoded name, so subject and issuer match byte for byte.
    issuer: issuer.subjectName,
    notBefore: opts.notBefore ?? new Date(now - 60_000),
    notAfter: opts.notAfter ?? new Date(now + 24 * 60 * 60 * 1000),
    publicKey: subjectKey.publicKey,
    signingKey: signer.key,
    signingAlgorithm: signer.alg,
    extensions,
  });
  return { cert: cert.toString('pem') + '\n', key: subjectKey.pkcs8 };
}

/** Options of {@link issueCrl}. */
export interface CrlOptions {
  /** Serial numbers (hex, as `X509Certificate.serialNumber` gives them) to list as revoked. */
  revoked?: string[];
  /** Who signs it (default: the set's CA). */
  issuer?: { cert: string; key: string };
  /** Default: one minute ago. */
  thisUpdate?: Date;
  /** Default: seven days from now. */
  nextUpdate?: Date;
}

/**
 * A CRL signed by the set's CA (or `opts.issuer`), as PEM under the label OpenSSL reads
 * (`X509 CRL`; @peculiar/x509 writes `CRL`).
 */
export async function issueCrl(certs: CertificateSet, opts: CrlOptions = {}): Promise<string> {
  const issuerPem = opts.issuer ?? { cert: certs.caCert, key: certs.caKey };
  const issuer = new x509.X509Certificate(issuerPem.cert);
  const signer = await signingKey(issuerPem.key);
  const now = Date.now();
  const crl = await x509.X509CrlGenerator.create({
    issuer: issuer.subjectName,
    thisUpdate: opts.thisUpdate ?? new Date(now - 60_000),
    nextUpdate: opts.nextUpdate ?? new Date(now + 7 * 24 * 60 * 60 * 1000),
    signingKey: signer.key,
    signingAlgorithm: signer.alg,
    entries: (opts.revoked ?? []).map((serialNumber) => ({
      serialNumber,
      revocationDate: new Date(now - 30_000),
    })),
  });
  return crl.toString('pem').replace(/-----(BEGIN|END) CRL-----/g, '-----$1 X509 CRL-----') + '\n';
}
