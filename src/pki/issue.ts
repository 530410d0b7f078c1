/**
 * Issuing more certificates from the CA of an existing folder: one per client (so the server can
 * tell clients apart and revoke one), and a new server certificate.
 * @module
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { join } from 'node:path';
import {
  CERT_FILE_NAMES,
  CLOCK_SKEW_MS,
  DAY_MS,
  EC_ALG,
  RSA_ALG,
  generateKeyPair,
  leafKeyUsage,
  normalizeHosts,
  pkcs8Pem,
  randomSerial,
  toGeneralName,
} from './generate.js';
import { CERTS_CLIENT_OPTIONS, CERTS_SERVER_OPTIONS } from '../options/certs.js';
import { checkValue } from '../options/core.js';
import { loadCa } from './ca.js';
import { writeNewFiles } from './files.js';
import { describeCertificate, type CertificateDescription } from './inspect.js';

/** The key of an issued certificate: EC P-256 or RSA 2048. */
export type KeyType = 'ec' | 'rsa';

/** Options of {@link issueClientCertificate}. */
export interface IssueClientOptions {
  /** The folder with the CA (`ca_cert.pem`, `ca_key.pem`); the new files go there too. */
  dir: string;
  /** The client's name: the certificate's CN and the start of its file names. */
  name: string;
  /** Organizational unit written to the subject (e.g. a team), if any. */
  ou?: string;
  /** DNS subject alternative names (`tlslp-server --allow-dns` matches them). */
  dns?: readonly string[];
  /** URI subject alternative names, e.g. SPIFFE IDs (`--allow-uri` matches them). */
  uri?: readonly string[];
  /** Days of validity (default 365). */
  days?: number;
  /** The client's key (default `ec`, like the set's own client). */
  keyType?: KeyType;
  /** The time of issue (default now). */
  now?: Date;
}

/** Options of {@link issueServerCertificate}. */
export interface IssueServerOptions {
  /** The folder with the CA; the server certificate and key there are the ones written. */
  dir: string;
  /** DNS names and IP addresses the certificate is valid for (default localhost, 127.0.0.1). */
  hosts?: string[];
  /** Days of validity (default 365). */
  days?: number;
  /** The server's key (default `rsa`, as the original set's). */
  keyType?: KeyType;
  /** The time of issue (default now). */
  now?: Date;
  /** Replace an existing server certificate and key. */
  force?: boolean;
}

/** What an issue wrote. */
export interface IssuedCertificate {
  /** Path of the new certificate (PEM, mode 0644). */
  certPath: string;
  /** Path of its private key (PKCS#8 PEM, mode 0600). */
  keyPath: string;
  /** The certificate as PEM. */
  certPem: string;
  /** What the certificate says. */
  description: CertificateDescription;
}

const DEFAULT_DAYS = CERTS_CLIENT_OPTIONS.days.default;

/**
 * Issue a client certificate from the CA in `dir`: CN = `name` (and OU = `ou`, DNS and URI
 * SANs = `dns`, `uri`), clientAuth,
 * written as `<name>_cert.pem` and `<name>_key.pem` (mode 0600) beside the CA.
 * @throws ConfigError `TLSLP_ERR_BAD_OPTION` (name, ou, dns, uri, days, keyType), `TLSLP_ERR_CLIENT_CERT_EXISTS`
 *   (never overwrites), the CA loading errors (`TLSLP_ERR_CERT_SET_READ`, `TLSLP_ERR_CERT_FILE`,
 *   `TLSLP_ERR_KEY_MISMATCH`, `TLSLP_ERR_CA_KEY_TYPE`), `TLSLP_ERR_CERT_WRITE`.
 */
export async function issueClientCertificate(
  options: IssueClientOptions,
): Promise<IssuedCertificate> {
  const { dir, name } = options;
  // The entries of `tlslp certs client`: a name is a safe file name, an OU printable.
  checkValue('name', CERTS_CLIENT_OPTIONS.name, name);
  if (options.ou !== undefined) checkValue('ou', CERTS_CLIENT_OPTIONS.ou, options.ou);
  const subject: x509.JsonName = [{ CN: [name] }];
  if (options.ou !== undefined) subject.push({ OU: [options.ou] });
  const dns = options.dns ?? [];
  const uri = options.uri ?? [];
  if (dns.length > 0) checkValue('dns', CERTS_CLIENT_OPTIONS.dns, dns);
  if (uri.length > 0) checkValue('uri', CERTS_CLIENT_OPTIONS.uri, uri);
  const sans: x509.JsonGeneralName[] = [
    ...dns.map((value) => ({ type: 'dns' as const, value })),
    ...uri.map((value) => ({ type: 'url' as const, value })),
  ];
  return issueLeaf({
    dir,
    subject,
    keyType: options.keyType ?? 'ec',
    days: options.days,
    now: options.now,
    eku: x509.ExtendedKeyUsage.clientAuth,
    extra: sans.length > 0 ? [new x509.SubjectAlternativeNameExtension(sans, false)] : [],
    certPath: join(dir, `${name}_cert.pem`),
    keyPath: join(dir, `${name}_key.pem`),
    force: false,
    forceable: false,
  });
}

/**
 * Issue a new server certificate from the CA in `dir` for `hosts` (DNS/IP SANs, serverAuth),
 * written to the set's server file names (`server-cert.pem`, `server-key.pem`).
 * @throws ConfigError `TLSLP_ERR_BAD_HOST`, `TLSLP_ERR_BAD_OPTION` (days, keyType),
 *   `TLSLP_ERR_CERT_EXISTS` (unless `force`), the CA loading errors, `TLSLP_ERR_CERT_WRITE`.
 */
export async function issueServerCertificate(
  options: IssueServerOptions,
): Promise<IssuedCertificate> {
  const hosts = normalizeHosts(options.hosts);
  return issueLeaf({
    dir: options.dir,
    subject: [{ CN: [hosts[0] ?? 'localhost'] }],
    keyType: options.keyType ?? 'rsa',
    days: options.days,
    now: options.now,
    eku: x509.ExtendedKeyUsage.serverAuth,
    extra: [new x509.SubjectAlternativeNameExtension(hosts.map(toGeneralName), false)],
    certPath: join(options.dir, CERT_FILE_NAMES.serverCert),
    keyPath: join(options.dir, CERT_FILE_NAMES.serverKey),
    force: options.force === true,
    forceable: true,
  });
}

interface LeafRequest {
  dir: string;
  subject: x509.JsonName;
  keyType: KeyType;
  days: number | undefined;
  now: Date | undefined;
  eku: x509.ExtendedKeyUsage;
  extra: x509.Extension[];
  certPath: string;
  keyPath: string;
  force: boolean;
  /** Whether the caller offers `force` (a refusal then says so). */
  forceable: boolean;
}

async function issueLeaf(req: LeafRequest): Promise<IssuedCertificate> {
  const days = req.days ?? DEFAULT_DAYS;
  checkValue('days', CERTS_SERVER_OPTIONS.days, days);
  checkValue('keyType', CERTS_SERVER_OPTIONS.keyType, req.keyType);
  const now = req.now ?? new Date();
  const ca = await loadCa(req.dir);
  const keys = await generateKeyPair(req.keyType === 'rsa' ? RSA_ALG : EC_ALG);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: req.subject,
    // The CA's own subject object, so the issuer encoding matches it byte for byte.
    issuer: ca.cert.subjectName,
    notBefore: new Date(now.getTime() - CLOCK_SKEW_MS),
    notAfter: new Date(now.getTime() + days * DAY_MS),
    publicKey: keys.publicKey,
    signingKey: ca.signingKey,
    signingAlgorithm: ca.signingAlgorithm,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(leafKeyUsage(req.keyType), true),
      new x509.ExtendedKeyUsageExtension([req.eku], false),
      ...req.extra,
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ca.aki,
    ],
  });
  const certPem = cert.toString('pem') + '\n';
  // The key first: a certificate without its key is useless, a key alone is harmless.
  await writeNewFiles(
    [
      { path: req.keyPath, data: pkcs8Pem(keys.privateKey), mode: 0o600 },
      { path: req.certPath, data: certPem, mode: 0o644 },
    ],
    { force: req.force, forceable: req.forceable },
  );
  return {
    certPath: req.certPath,
    keyPath: req.keyPath,
    certPem,
    description: describeCertificate(certPem),
  };
}
