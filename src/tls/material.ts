/**
 * TLS settings for both sides (docs/protocol.md §1): mutual TLS by default, insecure mode only on
 * loopback, certificate files read with errors that name the flag to fix.
 * @module
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { basename, dirname } from 'node:path';
import { checkDates, CrlProblem, readCrls, type CrlInfo } from './crl.js';
import { ConfigError, ERROR_CATALOG, renderMessage } from '../errors/index.js';
import { DAY_MS, HOUR_MS } from '../util/time.js';

/** PEM material for one side. */
export interface TlsMaterial {
  /** CA certificate(s) trusted for the peer's certificate. */
  ca?: string | Buffer;
  /** This side's certificate chain. */
  cert?: string | Buffer;
  /** This side's private key. */
  key?: string | Buffer;
  /**
   * Server only: certificate revocation list(s) of the CA (PEM, one per CA of `ca`); a client
   * certificate listed in it fails its handshake (`revoked`).
   */
  crl?: string | Buffer;
}

/** True for `localhost` and loopback addresses (127.0.0.0/8, ::1). */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || /^::ffff:127\./.test(h);
  return false;
}

/**
 * Insecure mode is for local development only.
 * @throws ConfigError for any host other than localhost / loopback.
 */
export function assertInsecureAllowed(host: string): void {
  if (!isLoopbackHost(host)) {
    throw new ConfigError('TLSLP_ERR_INSECURE_NOT_LOOPBACK', {
      option: 'insecure',
      host: JSON.stringify(host),
    });
  }
}

/** One file to read, and the flag that names it (for the error message). */
export interface PemFile {
  /** Where the file is. */
  path: string;
  /** The flag that set it, e.g. `--ca-cert`, named in error messages. */
  flag: string;
}

/** Why a file could not be read, in words: `not found`, `is a folder`, … */
export function unreadable(err: unknown): string {
  // The catalog's words for it (TLSLP_ERR_CERT_FILE's message without the file's name).
  const template = ERROR_CATALOG.TLSLP_ERR_CERT_FILE.message.replace(/^\{file\}: /, '');
  return renderMessage(template, readFailure(err));
}

/** Why a file could not be read, as the parameters of `TLSLP_ERR_CERT_FILE`. */
export function readFailure(
  err: unknown,
): { missing: true } | { denied: true } | { folder: true } | { errno: string } {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return { missing: true };
  if (code === 'EACCES') return { denied: true };
  if (code === 'EISDIR') return { folder: true };
  return { errno: code ?? 'error' };
}

/** What to do about a missing file: the default, the caller's `fix`, or make the CRL. */
type Remedy = { setFix: true } | { fix: string } | { crlFix: string; crlElsewhere?: true };

/** What makes the file a missing `--crl` names: `tlslp certs crl --init` writes `ca_crl.pem`. */
function crlFix(path: string): Remedy {
  return basename(path) === 'ca_crl.pem'
    ? { crlFix: dirname(path) }
    : { crlFix: '<CA folder>', crlElsewhere: true };
}

/**
 * Read a PEM file.
 * @param fix what to do when it is missing, for the error (default: make a set with
 *   `tlslp certs`)
 * @throws ConfigError naming the flag when it is missing, unreadable or not PEM.
 */
export async function readPem(file: PemFile, fix?: string): Promise<Buffer> {
  return readPemFile(file, fix === undefined ? { setFix: true } : { fix });
}

async function readPemFile(file: PemFile, remedy: Remedy): Promise<Buffer> {
  let data: Buffer;
  try {
    data = await readFile(file.path);
  } catch (err) {
    throw new ConfigError(
      'TLSLP_ERR_CERT_FILE',
      { file: `${file.flag} ${file.path}`, ...readFailure(err), ...remedy },
      { cause: err },
    );
  }
  if (!data.includes('-----BEGIN ')) {
    throw new ConfigError('TLSLP_ERR_CERT_FILE', {
      file: `${file.flag} ${file.path}`,
      notPem: true,
    });
  }
  return data;
}

/** Read the files of one side; entries left undefined are skipped. */
export async function readTlsFiles(files: {
  ca?: PemFile;
  cert?: PemFile;
  key?: PemFile;
  crl?: PemFile;
}): Promise<TlsMaterial> {
  const out: TlsMaterial = {};
  if (files.ca) out.ca = await readPem(files.ca);
  if (files.cert) out.cert = await readPem(files.cert);
  if (files.key) out.key = await readPem(files.key);
  if (files.crl) out.crl = await readPemFile(files.crl, crlFix(files.crl.path));
  return out;
}

/** Names to use for the three server files in error messages (flags in the CLI). */
export interface ServerTlsLabels {
  /** The certificate, e.g. `--server-cert certificates/server-cert.pem`. */
  cert: string;
  /** The key, e.g. `--server-key certificates/server-key.pem`. */
  key: string;
  /** The CA bundle, e.g. `--ca-cert certificates/ca_cert.pem`. */
  ca: string;
  /** The CRL file, e.g. `--crl certificates/ca_crl.pem` (default `tls.crl`). */
  crl?: string;
}

const DEFAULT_LABELS: ServerTlsLabels = { cert: 'tls.cert', key: 'tls.key', ca: 'tls.ca' };

/** Days before the server certificate's end at which {@link checkServerTls} warns. */
export const EXPIRY_WARNING_DAYS = 14;

/** What {@link checkServerTls} found that is worth a warning but not a refusal. */
export interface ServerTlsCheck {
  /** The server certificate's subject and validity end. */
  notAfter: Date;
  /** Warnings, e.g. the certificate expires within 14 days, the CRL's nextUpdate within 7. */
  warnings: string[];
  /** The certificates of the CA bundle, parsed (empty without a CA). */
  caCerts: X509Certificate[];
  /** The server certificate, parsed. */
  cert: X509Certificate;
  /** The CRLs of `material.crl`, checked and indexed (empty without one). */
  crls: CrlInfo[];
}

/** Options of {@link checkServerTls}. */
export interface ServerTlsCheckOptions {
  /** Largest CRL accepted, in bytes (the server's `maxCrlBytes`); unset: any size. */
  maxCrlBytes?: number;
  /**
   * The CRLs of `material.crl` already read (by `readCrlsOffThread`, or the ones in use when
   * the file has not changed), or why they could not be: used instead of reading them again
   * here (their dates are checked again).
   */
  crls?: CrlInfo[] | CrlProblem;
}

function pemText(value: string | Buffer): string {
  return typeof value === 'string' ? value : value.toString('utf8');
}

/**
 * Check the server's certificate, key and CA before serving, so that what would fail every
 * handshake later (and show clients a raw OpenSSL alert) fails at start-up with one line:
 * a key that does not match the certificate (OpenSSL silently drops such a key), a private
 * key given as the CA, a certificate that has expired or is not valid yet.
 * @throws ConfigError naming the file and the fix.
 */
export function checkServerTls(
  material: TlsMaterial,
  labels: ServerTlsLabels = DEFAULT_LABELS,
  now: Date = new Date(),
  options: ServerTlsCheckOptions = {},
): ServerTlsCheck {
  if (!material.cert || !material.key)
    throw new ConfigError(
      'TLSLP_ERR_NO_CERT',
      { server: true, cert: labels.cert, key: labels.key },
      { option: material.cert ? 'tls.key' : 'tls.cert' },
    );
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(material.cert);
  } catch {
    throw new ConfigError(
      'TLSLP_ERR_CERT_FILE',
      { file: labels.cert, notCert: true },
      { option: 'tls.cert' },
    );
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(material.key);
  } catch {
    throw new ConfigError(
      'TLSLP_ERR_CERT_FILE',
      { file: labels.key, notKey: true },
      { option: 'tls.key' },
    );
  }
  if (!cert.checkPrivateKey(key))
    throw new ConfigError(
      'TLSLP_ERR_KEY_MISMATCH',
      { key: labels.key, cert: labels.cert },
      { option: 'tls.key' },
    );
  const from = new Date(cert.validFrom);
  const to = new Date(cert.validTo);
  if (now < from)
    throw new ConfigError(
      'TLSLP_ERR_CERT_NOT_YET_VALID',
      { cert: labels.cert, date: from.toISOString() },
      { option: 'tls.cert' },
    );
  if (now > to)
    throw new ConfigError(
      'TLSLP_ERR_CERT_EXPIRED',
      { cert: labels.cert, date: to.toISOString() },
      { option: 'tls.cert' },
    );
  const warnings: string[] = [];
  const caCerts: X509Certificate[] = [];
  const daysLeft = (to.getTime() - now.getTime()) / DAY_MS;
  if (daysLeft < EXPIRY_WARNING_DAYS)
    warnings.push(
      `${labels.cert} expires on ${to.toISOString()} (in ${Math.max(0, Math.floor(daysLeft))} days); issue a new one before then`,
    );
  if (material.ca) caCerts.push(...caBundle(material.ca, labels));
  const crls: CrlInfo[] = [];
  if (material.crl !== undefined) {
    const crlLabel = labels.crl ?? 'tls.crl';
    if (caCerts.length === 0)
      throw new ConfigError(
        'TLSLP_ERR_CERT_FILE',
        { file: crlLabel, noCa: true },
        { option: 'tls.crl' },
      );
    checkCrlSize(material.crl, crlLabel, options.maxCrlBytes);
    try {
      const read = options.crls ?? readCrls(pemText(material.crl), caCerts, now);
      if (read instanceof CrlProblem) throw read;
      // CRLs read before (in a worker, or the ones in use) are checked against `now` here.
      if (options.crls) for (const crl of read) checkDates(crl, now);
      crls.push(...read);
    } catch (err) {
      if (!(err instanceof CrlProblem)) throw err;
      throw new ConfigError(
        'TLSLP_ERR_CERT_FILE',
        { file: crlLabel, reason: err.message },
        { option: 'tls.crl' },
      );
    }
    const next = crlNextUpdate(crls);
    if (next && next.getTime() - now.getTime() < CRL_WARNING_DAYS * DAY_MS)
      warnings.push(crlExpiryWarning(crlLabel, next, now));
  }
  return { notAfter: to, warnings, caCerts, cert, crls };
}

/** Days before a CRL's nextUpdate at which the server warns. */
export const CRL_WARNING_DAYS = 7;

/** The earliest nextUpdate of `crls` (undefined: none has one). */
export function crlNextUpdate(crls: readonly CrlInfo[]): Date | undefined {
  let min: Date | undefined;
  for (const c of crls) if (c.nextUpdate && (!min || c.nextUpdate < min)) min = c.nextUpdate;
  return min;
}

/** The WARNING for a CRL whose nextUpdate is near. */
export function crlExpiryWarning(label: string, next: Date, now: Date): string {
  const hours = Math.max(0, (next.getTime() - now.getTime()) / HOUR_MS);
  const left = hours >= 48 ? `${Math.floor(hours / 24)} days` : `${Math.floor(hours)} hours`;
  return `${label}: the CRL's nextUpdate is ${next.toISOString()} (in ${left}); past it every client is refused: re-sign it (tlslp certs crl --refresh) and reload before then`;
}

/**
 * Refuse a CRL bigger than `max` bytes (the `maxCrlBytes` option) before it is parsed.
 * @param crl the CRL, or its size in bytes
 * @throws ConfigError `TLSLP_ERR_CRL_TOO_BIG`
 */
export function checkCrlSize(
  crl: string | Buffer | number,
  label: string,
  max: number | undefined,
): void {
  const bytes = typeof crl === 'number' ? crl : Buffer.byteLength(crl);
  if (max !== undefined && bytes > max)
    throw new ConfigError(
      'TLSLP_ERR_CRL_TOO_BIG',
      { file: label, bytes: String(bytes), max: String(max), limitOption: 'maxCrlBytes' },
      { option: 'maxCrlBytes' },
    );
}

/**
 * The certificates of a CA bundle, each parsed (not only the first).
 * @throws ConfigError naming the file when it holds no certificate or one does not parse
 */
export function caBundle(
  ca: string | Buffer,
  labels: Pick<ServerTlsLabels, 'ca'>,
): X509Certificate[] {
  const caCerts: X509Certificate[] = [];
  const text = pemText(ca);
  if (!text.includes('-----BEGIN CERTIFICATE-----'))
    throw new ConfigError(
      /PRIVATE KEY-----/.test(text) ? 'TLSLP_ERR_CA_IS_KEY' : 'TLSLP_ERR_CA_NOT_CERT',
      { ca: labels.ca },
      { option: 'tls.ca' },
    );
  try {
    // Every certificate of the bundle must parse, not only the first.
    for (const block of text.match(
      /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g,
    ) ?? [])
      caCerts.push(new X509Certificate(block));
  } catch {
    throw new ConfigError(
      'TLSLP_ERR_CERT_FILE',
      { file: labels.ca, badCert: true },
      { option: 'tls.ca' },
    );
  }
  return caCerts;
}
