/**
 * Revocation: the CA's certificate revocation list `ca_crl.pem`, a v2 CRL the server loads
 * (`tls` option `crl`) so that it refuses a revoked client certificate (`revoked`).
 * @module
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CERT_FILE_NAMES, DAY_MS } from './generate.js';
import { ConfigError } from '../errors/index.js';
import { CERTS_REVOKE_OPTIONS, serialDigits } from '../options/certs.js';
import { checkValue } from '../options/core.js';
import { loadCa, type LoadedCa } from './ca.js';
import { writeAtomically, writeNewFiles } from './files.js';
import { normalizeSerial } from './inspect.js';
import { escapeControl } from '../text/escape.js';

/** File name of the CRL in a certificate folder. */
export const CRL_FILE_NAME = 'ca_crl.pem';

/** Why a certificate was revoked (RFC 5280 reason codes). */
export type RevocationReason = Exclude<keyof typeof x509.X509CrlReason, number>;

/** Options of {@link revokeCertificate}. */
export interface RevokeOptions {
  /** The folder with the CA; the CRL is `<dir>/ca_crl.pem`. */
  dir: string;
  /** The certificate to revoke (PEM); it must be issued by this CA. */
  certPem?: string;
  /** Or its serial number, hex (colons and a `0x` prefix allowed). */
  serialHex?: string;
  /** Reason code written to the entry (default: none, which means unspecified). */
  reason?: RevocationReason;
  /** The time of revocation and of the CRL's thisUpdate (default now). */
  now?: Date;
  /**
   * Days until the CRL's nextUpdate (default 365). A server refuses every client once its
   * CRL is past its nextUpdate (`crl_expired`), so re-sign it in time ({@link refreshCrl}).
   */
  nextUpdateDays?: number;
}

/** What {@link revokeCertificate} did. */
export interface RevokeResult {
  /** Path of the CRL written. */
  crlPath: string;
  /** The serial revoked (normalized hex). */
  serial: string;
  /** True when the serial was already on the list (the CRL is re-signed, the entry kept once). */
  alreadyRevoked: boolean;
  /** The CRL as read back. */
  crl: CrlInfo;
}

/** A CRL's contents. */
export interface CrlInfo {
  /** Issuer name as text, e.g. `CN=My Test CA`. */
  issuer: string;
  /** When the CRL was signed. */
  thisUpdate: Date;
  /** Absent when the CRL sets none. */
  nextUpdate?: Date;
  /** The CRL number (increases with every CRL the CA signs), when present. */
  crlNumber?: bigint;
  /** Revoked serial numbers, normalized hex, in list order. */
  serials: string[];
  /** The entries in list order: serial, date of revocation, and reason when one is given. */
  entries: CrlEntry[];
}

/** One revoked certificate of a CRL. */
export interface CrlEntry {
  /** Its serial number, normalized hex. */
  serial: string;
  /** When it was revoked. */
  revocationDate: Date;
  /** The reason code, when the entry carries one. */
  reason?: RevocationReason;
}

const CRL_NUMBER_OID = '2.5.29.20';
/** The PEM label of a CRL (RFC 7468), the one OpenSSL reads. */
const CRL_PEM_LABEL = 'X509 CRL';
const DEFAULT_NEXT_UPDATE_DAYS = 365;

/**
 * Add a certificate to the CRL of `dir`, creating the CRL if there is none. Revoking a serial
 * twice keeps one entry. Every call signs a new CRL with the next CRL number, written
 * atomically, so a server reloading it reads either the old list or the new one.
 * @throws ConfigError `TLSLP_ERR_REVOKE_TARGET` (neither or both of `certPem`/`serialHex`),
 *   `TLSLP_ERR_BAD_OPTION` (a bad serial or `nextUpdateDays`), `TLSLP_ERR_CERT_FILE` (the
 *   certificate is not PEM), `TLSLP_ERR_NOT_OUR_CERT` (it is from another CA),
 *   `TLSLP_ERR_CRL_FILE`/`TLSLP_ERR_BAD_CRL` (the existing CRL is unreadable or not signed by
 *   this CA), and the CA loading errors (`TLSLP_ERR_CERT_SET_READ`, `TLSLP_ERR_CERT_FILE`,
 *   `TLSLP_ERR_KEY_MISMATCH`, `TLSLP_ERR_CA_KEY_TYPE`).
 */
export async function revokeCertificate(options: RevokeOptions): Promise<RevokeResult> {
  const ca = await loadCa(options.dir);
  const serial = await targetSerial(options, ca);
  const now = options.now ?? new Date();
  const crlPath = join(options.dir, CRL_FILE_NAME);
  const old = await loadOwnCrl(crlPath, ca);
  const entries = old?.entries ?? [];
  const alreadyRevoked = entries.some((e) => e.serialNumber === serial);
  if (!alreadyRevoked) {
    entries.push({
      serialNumber: serial,
      revocationDate: now,
      ...(options.reason === undefined ? {} : { reason: x509.X509CrlReason[options.reason] }),
    });
  }
  const crl = await signCrl(ca, entries, (old?.number ?? 0n) + 1n, now, options.nextUpdateDays);
  await writeAtomically(crlPath, crl, 0o644);
  return { crlPath, serial, alreadyRevoked, crl: parseCrl(crl, crlPath) };
}

/** Options of {@link initCrl}. */
export interface InitCrlOptions {
  /** The folder with the CA; the CRL is `<dir>/ca_crl.pem`. */
  dir: string;
  /** Replace an existing CRL (its entries are dropped); without it one is never overwritten. */
  force?: boolean;
  /** The CRL's thisUpdate (default now). */
  now?: Date;
  /** Days until the CRL's nextUpdate (default 365), as {@link RevokeOptions.nextUpdateDays}. */
  nextUpdateDays?: number;
}

/** A CRL file and what it says. */
export interface WrittenCrl {
  /** Path of the CRL (`<dir>/ca_crl.pem`). */
  crlPath: string;
  /** The CRL as read back. */
  crl: CrlInfo;
}

/** What {@link listCrl} read. */
export interface ListedCrl extends WrittenCrl {
  /** Whether the CA certificate of the folder signed it; null without a readable one. */
  verified: boolean | null;
}

/**
 * Write an empty CRL signed by the CA of `dir`, for a server's `--crl` before anything is
 * revoked. With `force` an existing CRL is replaced atomically; its CRL number is carried on
 * when it is this CA's, so the new list still counts up.
 * @throws ConfigError `TLSLP_ERR_CERT_EXISTS` (a CRL is there and `force` is not set), the CA
 *   loading errors, `TLSLP_ERR_BAD_OPTION` (a bad `nextUpdateDays`), `TLSLP_ERR_CERT_WRITE`.
 */
export async function initCrl(options: InitCrlOptions): Promise<WrittenCrl> {
  const ca = await loadCa(options.dir);
  const crlPath = join(options.dir, CRL_FILE_NAME);
  const old = options.force ? await loadOwnCrl(crlPath, ca).catch(() => null) : null;
  const number = (old?.number ?? 0n) + 1n;
  const now = options.now ?? new Date();
  const crl = await signCrl(ca, [], number, now, options.nextUpdateDays);
  if (options.force) await writeAtomically(crlPath, crl, 0o644);
  else await writeNewFiles([{ path: crlPath, data: crl, mode: 0o644 }], { forceable: true });
  return { crlPath, crl: parseCrl(crl, crlPath) };
}

/**
 * Re-sign the CRL of `dir` with the same entries, a fresh thisUpdate/nextUpdate and the next
 * CRL number: what to run before nextUpdate comes. When there is no CRL, an empty one is made,
 * unless `mustExist` is set (`tlslp certs crl --refresh`: a missing CRL is a wrong folder).
 * @throws ConfigError as {@link revokeCertificate}, and `TLSLP_ERR_CERT_FILE` for a missing CRL
 *   with `mustExist`.
 */
export async function refreshCrl(options: {
  dir: string;
  now?: Date;
  nextUpdateDays?: number;
  mustExist?: boolean;
}): Promise<CrlInfo> {
  const ca = await loadCa(options.dir);
  const crlPath = join(options.dir, CRL_FILE_NAME);
  const old = await loadOwnCrl(crlPath, ca);
  if (!old && options.mustExist)
    throw new ConfigError(
      'TLSLP_ERR_CERT_FILE',
      { file: crlPath, missing: true, initDir: options.dir },
      { option: 'dir' },
    );
  const crl = await signCrl(
    ca,
    old?.entries ?? [],
    (old?.number ?? 0n) + 1n,
    options.now ?? new Date(),
    options.nextUpdateDays,
  );
  await writeAtomically(crlPath, crl, 0o644);
  return parseCrl(crl, crlPath);
}

/**
 * Read a CRL file (PEM or DER).
 * @throws ConfigError `TLSLP_ERR_CRL_FILE` when it cannot be read, `TLSLP_ERR_BAD_CRL` when it is
 *   not a CRL.
 */
export async function readCrl(path: string): Promise<CrlInfo> {
  return describeCrl(await readCrlBytes(path), path);
}

/**
 * What a CRL says, from its PEM text or its DER bytes.
 * @param source what it is, for the error (a file name)
 * @throws ConfigError `TLSLP_ERR_BAD_CRL` when it is not a CRL.
 */
export function describeCrl(data: string | Uint8Array, source = 'the CRL'): CrlInfo {
  return parseCrl(crlInput(data), source);
}

/** A CRL file's contents as @peculiar/x509 reads them: PEM text, or else the DER bytes. */
function crlInput(data: string | Uint8Array): string | Uint8Array {
  if (typeof data === 'string') return data;
  const text = Buffer.from(data).toString('latin1');
  return text.includes('-----BEGIN ') ? text : data;
}

/** Whether `data` (a file's bytes) holds a CRL: a PEM one, or DER that parses as one. */
export function isCrl(data: Uint8Array): boolean {
  const text = Buffer.from(data).toString('latin1');
  if (text.includes('-----BEGIN ')) return /-----BEGIN (X509 )?CRL-----/.test(text);
  try {
    new x509.X509Crl(data);
    return true;
  } catch {
    return false;
  }
}

/**
 * A CRL as aligned lines (no trailing newline): issuer, updates, number, then one line per
 * revoked serial with its date and reason. Values from the CRL are escaped for the terminal.
 */
export function formatCrl(info: CrlInfo): string {
  const rows: Array<[string, string]> = [
    ['Issuer', info.issuer],
    ['This update', info.thisUpdate.toISOString()],
    ['Next update', info.nextUpdate?.toISOString() ?? '(none)'],
    ['CRL number', info.crlNumber?.toString() ?? '(none)'],
    ['Revoked', String(info.entries.length)],
  ];
  const width = Math.max(...rows.map(([k]) => k.length)) + 1;
  const lines = rows.map(([k, v]) => `${`${k}:`.padEnd(width)} ${escapeControl(v)}`);
  const serialWidth = Math.max(0, ...info.entries.map((e) => e.serial.length));
  for (const e of info.entries) {
    const reason = e.reason === undefined ? '' : `  ${e.reason}`;
    lines.push(`  ${e.serial.padEnd(serialWidth)}  ${e.revocationDate.toISOString()}${reason}`);
  }
  return lines.join('\n');
}

/** A CRL as JSON (`--json`): dates as ISO text, the CRL number as a decimal string. */
export function crlJson(info: CrlInfo): Record<string, unknown> {
  return {
    type: 'crl',
    issuer: info.issuer,
    thisUpdate: info.thisUpdate.toISOString(),
    nextUpdate: info.nextUpdate?.toISOString() ?? null,
    crlNumber: info.crlNumber?.toString() ?? null,
    entries: info.entries.map((e) => ({
      serial: e.serial,
      revocationDate: e.revocationDate.toISOString(),
      reason: e.reason ?? null,
    })),
  };
}

/** The CA certificate of `dir` (`ca_cert.pem`), or null when it cannot be read. */
async function caCertOf(dir: string): Promise<x509.X509Certificate | null> {
  try {
    return new x509.X509Certificate(await readFile(join(dir, CERT_FILE_NAMES.caCert), 'utf8'));
  } catch {
    return null;
  }
}

/**
 * Read the CRL of `dir` and check its signature against the CA certificate there
 * (`verified`: null when there is no readable CA certificate): `tlslp certs crl --list`.
 * @throws ConfigError `TLSLP_ERR_CERT_FILE` when there is no CRL (naming the fix),
 *   `TLSLP_ERR_CRL_FILE`/`TLSLP_ERR_BAD_CRL` when it is unreadable or not a CRL.
 */
export async function listCrl(dir: string): Promise<ListedCrl> {
  const crlPath = join(dir, CRL_FILE_NAME);
  const data = await readCrlBytes(crlPath).catch((err: unknown) => {
    if (err instanceof ConfigError && err.params.errno === 'ENOENT')
      throw new ConfigError(
        'TLSLP_ERR_CERT_FILE',
        { file: crlPath, missing: true, initDir: dir },
        { cause: err, option: 'dir' },
      );
    throw err;
  });
  const input = crlInput(data);
  const crl = parseCrl(input, crlPath);
  const ca = await caCertOf(dir);
  const verified = ca ? await crlSignedBy(openCrl(input, crlPath), ca) : null;
  return { crlPath, crl, verified };
}

async function readCrlBytes(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new ConfigError(
      'TLSLP_ERR_CRL_FILE',
      { path, errno: (err as NodeJS.ErrnoException).code ?? 'error' },
      { cause: err, option: 'crl' },
    );
  }
}

/**
 * Whether `crlPem` is signed by the key of the CA certificate `caCertPem`. A CRL of another CA
 * is `false`, whatever its key type (a key of another type or size makes the check fail, not throw).
 * @throws ConfigError `TLSLP_ERR_BAD_CRL` when `crlPem` is not a PEM CRL, `TLSLP_ERR_CERT_FILE`
 *   when `caCertPem` is not a PEM certificate.
 */
export async function verifyCrl(crlPem: string, caCertPem: string): Promise<boolean> {
  const crl = openCrl(crlPem, 'the CRL');
  let caCert: x509.X509Certificate;
  try {
    caCert = new x509.X509Certificate(caCertPem);
  } catch (err) {
    throw new ConfigError(
      'TLSLP_ERR_CERT_FILE',
      { file: 'the CA certificate', notCert: true },
      { cause: err },
    );
  }
  return crlSignedBy(crl, caCert);
}

function crlSignedBy(crl: x509.X509Crl, caCert: x509.X509Certificate): Promise<boolean> {
  return falseOnThrow(() => crl.verify({ publicKey: caCert }));
}

/**
 * A signature check that says false where @peculiar/x509 throws: a key of another type than the
 * signature's (`Unable to use this key to verify`) or an RSA signature against an EC key
 * (`Too big integer`) is a mismatch, like a wrong key of the right type.
 */
async function falseOnThrow(check: () => Promise<boolean>): Promise<boolean> {
  try {
    return await check();
  } catch {
    return false;
  }
}

function parseCrl(data: string | Uint8Array, path: string): CrlInfo {
  const crl = openCrl(data, path);
  const number = crlNumber(crl, path);
  const entries = crl.entries.map((e) => ({
    serial: normalizeSerial(e.serialNumber),
    revocationDate: e.revocationDate,
    ...(e.reason === undefined ? {} : { reason: x509.X509CrlReason[e.reason] as RevocationReason }),
  }));
  return {
    issuer: crl.issuer,
    thisUpdate: crl.thisUpdate,
    ...(crl.nextUpdate ? { nextUpdate: crl.nextUpdate } : {}),
    ...(number === undefined ? {} : { crlNumber: number }),
    serials: entries.map((e) => e.serial),
    entries,
  };
}

function openCrl(data: string | Uint8Array, path: string): x509.X509Crl {
  try {
    return new x509.X509Crl(typeof data === 'string' ? data : Uint8Array.from(data));
  } catch (err) {
    throw new ConfigError(
      'TLSLP_ERR_BAD_CRL',
      typeof data === 'string' ? { path, notPem: true } : { path, notCrl: true },
      { cause: err, option: 'crl' },
    );
  }
}

/** The existing CRL's entries and number, or null when there is no CRL yet. */
async function loadOwnCrl(
  path: string,
  ca: LoadedCa,
): Promise<{ entries: x509.X509CrlEntryParams[]; number: bigint } | null> {
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new ConfigError(
      'TLSLP_ERR_CRL_FILE',
      { path, errno: (err as NodeJS.ErrnoException).code ?? 'error' },
      { cause: err, option: 'dir' },
    );
  }
  const crl = openCrl(pem, path);
  // Entries are carried over into a list the CA signs again: only the CA's own list may be.
  if (!(await crlSignedBy(crl, ca.cert))) {
    throw new ConfigError('TLSLP_ERR_BAD_CRL', { path, foreign: true }, { option: 'dir' });
  }
  const entries = crl.entries.map((e) => ({
    serialNumber: normalizeSerial(e.serialNumber),
    revocationDate: e.revocationDate,
    ...(e.reason === undefined ? {} : { reason: e.reason }),
  }));
  return { entries, number: crlNumber(crl, path) ?? 0n };
}

async function signCrl(
  ca: LoadedCa,
  entries: x509.X509CrlEntryParams[],
  number: bigint,
  now: Date,
  nextUpdateDays = DEFAULT_NEXT_UPDATE_DAYS,
): Promise<string> {
  checkValue('nextUpdateDays', CERTS_REVOKE_OPTIONS.nextUpdateDays, nextUpdateDays);
  const crl = await x509.X509CrlGenerator.create({
    // The CA's subject object itself: OpenSSL matches a CRL to its CA by the encoded name.
    issuer: ca.cert.subjectName,
    thisUpdate: now,
    nextUpdate: new Date(now.getTime() + nextUpdateDays * DAY_MS),
    signingAlgorithm: ca.signingAlgorithm,
    signingKey: ca.signingKey,
    // The generator strips leading zeros of a serial and adds the one DER needs itself.
    entries,
    extensions: [ca.aki, new x509.Extension(CRL_NUMBER_OID, false, derInteger(number))],
  });
  // Not crl.toString('pem'): that labels it `CRL`, and OpenSSL (so Node's tls `crl`) reads
  // only `X509 CRL` ("Failed to parse CRL").
  return x509.PemConverter.encode(crl.rawData, CRL_PEM_LABEL) + '\n';
}

/** The serial to revoke, normalized, from `certPem` or `serialHex` (exactly one). */
async function targetSerial(options: RevokeOptions, ca: LoadedCa): Promise<string> {
  const { certPem, serialHex } = options;
  if ((certPem === undefined) === (serialHex === undefined)) {
    throw new ConfigError('TLSLP_ERR_REVOKE_TARGET', {
      option: 'certPem',
      serialOption: 'serialHex',
    });
  }
  if (serialHex !== undefined) {
    checkValue('serialHex', CERTS_REVOKE_OPTIONS.serialHex, serialHex);
    return normalizeSerial(serialDigits(serialHex));
  }
  let cert: x509.X509Certificate;
  try {
    cert = new x509.X509Certificate(certPem);
  } catch (err) {
    throw new ConfigError(
      'TLSLP_ERR_CERT_FILE',
      { file: 'the certificate to revoke', notCert: true },
      { cause: err, option: 'certPem' },
    );
  }
  // A CRL lists serials of its own CA's certificates; another CA's serial would mean nothing.
  if (!(await falseOnThrow(() => cert.verify({ publicKey: ca.cert, signatureOnly: true })))) {
    throw new ConfigError(
      'TLSLP_ERR_NOT_OUR_CERT',
      { subject: cert.subject, ca: ca.cert.subject },
      { option: 'certPem' },
    );
  }
  return normalizeSerial(cert.serialNumber);
}

/** DER of a non-negative INTEGER (the CRL number's extension value): minimal, positive. */
function derInteger(n: bigint): ArrayBuffer {
  const digits = n.toString(16);
  const even = digits.length % 2 === 1 ? `0${digits}` : digits;
  // A leading 00 when the top bit is set, or the INTEGER would read as negative.
  const body = Buffer.from(parseInt(even.slice(0, 2), 16) >= 0x80 ? `00${even}` : even, 'hex');
  // CRL numbers are at most 20 octets (RFC 5280 5.2.3), so the short length form suffices.
  return new Uint8Array([0x02, body.length, ...body]).buffer;
}

function crlNumber(crl: x509.X509Crl, path: string): bigint | undefined {
  const ext = crl.getExtension(CRL_NUMBER_OID);
  if (!ext) return undefined;
  const der = new Uint8Array(ext.value);
  const len = der[1] ?? 0;
  if (der[0] !== 0x02 || len < 1 || len > 20 || der.length !== len + 2) {
    throw new ConfigError('TLSLP_ERR_BAD_CRL', { path, badNumber: true }, { option: 'crl' });
  }
  return BigInt(`0x${Buffer.from(der.subarray(2)).toString('hex')}`);
}
