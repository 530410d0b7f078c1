/**
 * What a certificate says, as a plain object (for `--json`) and as a few aligned lines.
 * @module
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { X509Certificate as NodeCertificate } from 'node:crypto';
import { ConfigError } from '../errors/index.js';
import { escapeControl } from '../text/escape.js';

/** A distinguished name: its usual text and the attributes most asked for. */
export interface NameDescription {
  /** The name as text, e.g. `CN=jane, OU=ops`. */
  text: string;
  /** Common names (CN), usually one. */
  commonName: string[];
  /** Organizational units (OU). */
  organizationalUnit: string[];
  /** Organizations (O). */
  organization: string[];
  /** Every attribute in order. */
  attributes: Array<{
    /** Short type name (`CN`, `OU`, `O`, `C`, …) or the OID of a type without one. */
    type: string;
    /** The attribute's value as text. */
    value: string;
  }>;
}

/** The fields of a certificate an operator looks at. */
export interface CertificateDescription {
  /** Whom the certificate names. */
  subject: NameDescription;
  /** Who signed it (the CA's subject). */
  issuer: NameDescription;
  /** Subject alternative names by kind. */
  sans: {
    /** DNS names. */
    dns: string[];
    /** IP addresses as text. */
    ip: string[];
    /** URIs. */
    uri: string[];
    /** E-mail addresses. */
    email: string[];
  };
  /** Serial number, lower-case hex without leading zeros (as a CRL lists it). */
  serial: string;
  /** Start of validity. */
  notBefore: Date;
  /** End of validity. */
  notAfter: Date;
  /** e.g. `RSA-2048`, `EC P-256`, `Ed25519`. */
  keyType: string;
  /** Extended key usages by name (`clientAuth`, `serverAuth`) or OID. */
  extendedKeyUsage: string[];
  /** Whether it is a CA (basicConstraints CA:true). */
  isCa: boolean;
  /**
   * SHA-256 fingerprint, colon-separated lower-case hex: the case of the logs' `fp`, so one
   * can be searched for with the other.
   */
  fingerprint256: string;
  /** The first 16 hex digits of the fingerprint: the `fp` of the server's log records. */
  fingerprintShort: string;
}

/** WebCrypto's names of the curves OpenSSL names otherwise. */
export const CURVE_NAMES: Record<string, string> = {
  prime256v1: 'P-256',
  secp384r1: 'P-384',
  secp521r1: 'P-521',
};

const EKU_NAMES: Record<string, string> = {
  [x509.ExtendedKeyUsage.serverAuth]: 'serverAuth',
  [x509.ExtendedKeyUsage.clientAuth]: 'clientAuth',
  [x509.ExtendedKeyUsage.codeSigning]: 'codeSigning',
  [x509.ExtendedKeyUsage.emailProtection]: 'emailProtection',
  [x509.ExtendedKeyUsage.timeStamping]: 'timeStamping',
  [x509.ExtendedKeyUsage.ocspSigning]: 'OCSPSigning',
};

/**
 * Describe the first certificate of a PEM text.
 * @param source what the text is, for the error (a file name; default `the certificate`)
 * @throws ConfigError `TLSLP_ERR_CERT_FILE` when it holds no readable certificate.
 */
export function describeCertificate(
  pem: string,
  source = 'the certificate',
): CertificateDescription {
  let cert: x509.X509Certificate;
  let node: NodeCertificate;
  try {
    cert = new x509.X509Certificate(pem);
    node = new NodeCertificate(Buffer.from(cert.rawData));
  } catch (err) {
    throw new ConfigError('TLSLP_ERR_CERT_FILE', { file: source, notCert: true }, { cause: err });
  }
  const sans: CertificateDescription['sans'] = { dns: [], ip: [], uri: [], email: [] };
  for (const n of cert.getExtension(x509.SubjectAlternativeNameExtension)?.names.items ?? []) {
    if (n.type === 'dns') sans.dns.push(n.value);
    else if (n.type === 'ip') sans.ip.push(n.value);
    else if (n.type === 'url') sans.uri.push(n.value);
    else if (n.type === 'email') sans.email.push(n.value);
  }
  const eku = cert.getExtension(x509.ExtendedKeyUsageExtension)?.usages ?? [];
  const fingerprint256 = node.fingerprint256.toLowerCase();
  return {
    subject: describeName(cert.subjectName),
    issuer: describeName(cert.issuerName),
    sans,
    serial: normalizeSerial(cert.serialNumber),
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    keyType: keyType(node),
    extendedKeyUsage: eku.map((u) => EKU_NAMES[String(u)] ?? String(u)),
    isCa: node.ca,
    fingerprint256,
    fingerprintShort: fingerprint256.replace(/:/g, '').slice(0, 16),
  };
}

/**
 * A certificate description as aligned lines (no trailing newline), every value from the
 * certificate escaped so a crafted name cannot drive the terminal.
 */
export function formatCertificate(desc: CertificateDescription): string {
  const sans = [
    ...desc.sans.dns.map((v) => `DNS:${v}`),
    ...desc.sans.ip.map((v) => `IP:${v}`),
    ...desc.sans.uri.map((v) => `URI:${v}`),
    ...desc.sans.email.map((v) => `email:${v}`),
  ];
  const rows: Array<[string, string]> = [
    ['Subject', desc.subject.text],
    ['SANs', sans.length > 0 ? sans.join(', ') : '(none)'],
    ['Issuer', desc.issuer.text],
    ['Serial', desc.serial],
    ['Valid', `${desc.notBefore.toISOString()} to ${desc.notAfter.toISOString()}`],
    ['Key', desc.keyType],
    [
      'Usage',
      [desc.isCa ? 'CA' : '', ...desc.extendedKeyUsage].filter(Boolean).join(', ') || '(any)',
    ],
    ['SHA-256', desc.fingerprint256],
  ];
  const width = Math.max(...rows.map(([k]) => k.length)) + 1;
  return rows.map(([k, v]) => `${`${k}:`.padEnd(width)} ${escapeControl(v)}`).join('\n');
}

/** A serial as lower-case hex without leading zeros, the one form serials are compared in. */
export function normalizeSerial(hex: string): string {
  const s = hex.toLowerCase().replace(/^0+/, '');
  return s === '' ? '0' : s;
}

function describeName(name: x509.Name): NameDescription {
  const attributes: Array<{ type: string; value: string }> = [];
  for (const rdn of name.toJSON()) {
    for (const [type, values] of Object.entries(rdn)) {
      for (const value of values) attributes.push({ type, value });
    }
  }
  const of = (t: string): string[] => attributes.filter((a) => a.type === t).map((a) => a.value);
  return {
    text: name.toString(),
    commonName: of('CN'),
    organizationalUnit: of('OU'),
    organization: of('O'),
    attributes,
  };
}

function keyType(cert: NodeCertificate): string {
  const key = cert.publicKey;
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return `RSA-${details.modulusLength ?? '?'}`;
    case 'rsa-pss':
      return `RSA-PSS-${details.modulusLength ?? '?'}`;
    case 'ec':
      return `EC ${CURVE_NAMES[details.namedCurve ?? ''] ?? details.namedCurve ?? '?'}`;
    case 'ed25519':
      return 'Ed25519';
    case 'ed448':
      return 'Ed448';
    default:
      return key.asymmetricKeyType ?? 'unknown';
  }
}
