/**
 * Throwaway certificates for mutual TLS: a CA, a server certificate and a client certificate,
 * made in pure TypeScript (@peculiar/x509 over Node's WebCrypto), no openssl CLI needed.
 * @module
 */
// @peculiar/x509 resolves its algorithm providers through tsyringe, which needs the Reflect
// metadata polyfill loaded before the library itself.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { KeyObject, webcrypto } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { lstat, mkdir, open, readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { ConfigError } from '../errors/index.js';
import { DAY_MS } from '../util/time.js';

// The DOM lib is not loaded; Node's own WebCrypto typings stand in for it.
type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

// Node's WebCrypto is a complete provider for everything below.
x509.cryptoProvider.set(webcrypto);

/** A CA, a server and a client certificate with their private keys, all as PEM strings. */
export interface CertificateSet {
  /** The CA certificate (trust anchor for both sides). */
  caCert: string;
  /** The CA private key (PKCS#8 PEM). Only needed to issue more certificates. */
  caKey: string;
  /** The server certificate, issued by the CA. */
  serverCert: string;
  /** The server private key (PKCS#8 PEM, RSA 2048 or EC P-256: `serverKeyType`). */
  serverKey: string;
  /** The client certificate, issued by the CA. */
  clientCert: string;
  /** The client private key (PKCS#8 PEM, EC P-256). */
  clientKey: string;
}

/** Options of {@link generateCertificateSet}. */
export interface GenerateOptions {
  /**
   * Names the server certificate is valid for: DNS names and IPv4/IPv6 addresses, written to the
   * subjectAltName. Default `['localhost', '127.0.0.1']`; an empty list also means the default.
   */
  serverHosts?: string[];
  /** Common name of the CA. Default `My Test CA`. */
  caCommonName?: string;
  /** Common name of the client certificate. Default `client`. */
  clientCommonName?: string;
  /** Common name of the server certificate. Default: the first of `serverHosts` (`localhost`). */
  serverCommonName?: string;
  /** The time the certificates are made at (validity is computed from it). Default: now. */
  now?: Date;
  /** The server key: `rsa` (RSA 2048, the default, as the original) or `ec` (EC P-256). */
  serverKeyType?: 'rsa' | 'ec';
}

/** File names {@link writeCertificateSet} uses, the same as the original project's. */
export const CERT_FILE_NAMES = {
  /** The CA certificate. */
  caCert: 'ca_cert.pem',
  /** The CA private key (mode 0600). */
  caKey: 'ca_key.pem',
  /** The server certificate. */
  serverCert: 'server-cert.pem',
  /** The server private key (mode 0600). */
  serverKey: 'server-key.pem',
  /** The client certificate. */
  clientCert: 'client_cert.pem',
  /** The client private key (mode 0600). */
  clientKey: 'ec_private_key.pem',
} as const satisfies Record<keyof CertificateSet, string>;

/** Where {@link writeCertificateSet} put the files. */
export interface WrittenCertificates {
  /** The folder the files are in. */
  dir: string;
  /** Full path of each file. */
  paths: Record<keyof CertificateSet, string>;
}

const DEFAULT_SERVER_HOSTS = ['localhost', '127.0.0.1'];
/** @internal */
export { DAY_MS };
/** Backdating notBefore lets a peer whose clock runs a little behind accept a fresh certificate. */
/** @internal */
export const CLOCK_SKEW_MS = 60 * 1000;
const CA_DAYS = 3650;
const LEAF_DAYS = 365;
const PRIVATE_KEYS: ReadonlySet<keyof CertificateSet> = new Set([
  'caKey',
  'serverKey',
  'clientKey',
]);

/** @internal */
export const RSA_ALG: webcrypto.RsaHashedKeyGenParams = {
  name: 'RSASSA-PKCS1-v1_5',
  hash: 'SHA-256',
  publicExponent: new Uint8Array([1, 0, 1]),
  modulusLength: 2048,
};
/** @internal */
export const EC_ALG: webcrypto.EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };

/**
 * Make a fresh certificate set: an RSA 2048 CA (10 years), an RSA 2048 (or EC P-256) server certificate for
 * `serverHosts` (1 year, serverAuth) and an EC P-256 client certificate (1 year, clientAuth),
 * both issued by the CA. Serial numbers are random; notBefore is one minute in the past.
 * @throws ConfigError when a server host is neither a DNS name nor an IP address.
 */
export async function generateCertificateSet(
  options: GenerateOptions = {},
): Promise<CertificateSet> {
  const hosts = normalizeHosts(options.serverHosts);
  const now = options.now ?? new Date();
  const notBefore = new Date(now.getTime() - CLOCK_SKEW_MS);
  const caName = dn(options.caCommonName ?? 'My Test CA');

  // The two RSA keys are the slow part; make all three keys at once.
  const [caKeys, serverKeys, clientKeys] = await Promise.all([
    generateKeyPair(RSA_ALG),
    generateKeyPair(options.serverKeyType === 'ec' ? EC_ALG : RSA_ALG),
    generateKeyPair(EC_ALG),
  ]);

  const caSki = await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey);
  const caCert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: caName,
    notBefore,
    notAfter: new Date(now.getTime() + CA_DAYS * DAY_MS),
    signingAlgorithm: RSA_ALG,
    keys: caKeys,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      caSki,
    ],
  });
  // The AKI carries the CA's own SKI so chain builders match issuer and subject by key id.
  const aki = new x509.AuthorityKeyIdentifierExtension(caSki.keyId);

  const leaf = async (
    keys: CryptoKeyPair,
    commonName: string,
    keyUsage: x509.KeyUsageFlags,
    eku: x509.ExtendedKeyUsage,
    extra: x509.Extension[],
  ): Promise<x509.X509Certificate> =>
    x509.X509CertificateGenerator.create({
      serialNumber: randomSerial(),
      subject: dn(commonName),
      // The very same name object as the CA's subject, so the encodings match byte for byte.
      issuer: caName,
      notBefore,
      notAfter: new Date(now.getTime() + LEAF_DAYS * DAY_MS),
      publicKey: keys.publicKey,
      signingKey: caKeys.privateKey,
      signingAlgorithm: RSA_ALG,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(keyUsage, true),
        new x509.ExtendedKeyUsageExtension([eku], false),
        ...extra,
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
        aki,
      ],
    });

  const serverCert = await leaf(
    serverKeys,
    options.serverCommonName ?? hosts[0] ?? 'localhost',
    leafKeyUsage(options.serverKeyType ?? 'rsa'),
    x509.ExtendedKeyUsage.serverAuth,
    [new x509.SubjectAlternativeNameExtension(hosts.map(toGeneralName), false)],
  );
  const clientCert = await leaf(
    clientKeys,
    options.clientCommonName ?? 'client',
    x509.KeyUsageFlags.digitalSignature,
    x509.ExtendedKeyUsage.clientAuth,
    [],
  );

  return {
    caCert: caCert.toString('pem') + '\n',
    caKey: pkcs8Pem(caKeys.privateKey),
    serverCert: serverCert.toString('pem') + '\n',
    serverKey: pkcs8Pem(serverKeys.privateKey),
    clientCert: clientCert.toString('pem') + '\n',
    clientKey: pkcs8Pem(clientKeys.privateKey),
  };
}

/**
 * Write a certificate set into `dir` (created if missing) under {@link CERT_FILE_NAMES}.
 * Private keys get mode 0600, certificates 0644.
 * @param options.force overwrite existing files; without it nothing is written if any target exists.
 * @throws ConfigError naming the existing file(s) when one exists and `force` is not set.
 */
export async function writeCertificateSet(
  dir: string,
  set: CertificateSet,
  options: { force?: boolean } = {},
): Promise<WrittenCertificates> {
  const paths = certificatePaths(dir);
  try {
    await mkdir(dir, { recursive: true });
  } catch (err) {
    throw new ConfigError(
      'TLSLP_ERR_CERT_DIR',
      { dir, reason: (err as Error).message },
      { cause: err },
    );
  }
  // Check every target before writing anything, so a refusal leaves the folder as it was.
  if (!options.force) await refuseExisting(paths);
  for (const k of SET_KEYS) {
    const mode = PRIVATE_KEYS.has(k) ? 0o600 : 0o644;
    try {
      await writePrivately(paths[k], set[k], mode);
    } catch (err) {
      throw new ConfigError(
        'TLSLP_ERR_CERT_WRITE',
        { path: paths[k], reason: (err as Error).message },
        { cause: err },
      );
    }
  }
  return { dir, paths };
}

/**
 * Generate a certificate set and write it into `dir`: {@link generateCertificateSet} followed by
 * {@link writeCertificateSet}.
 * @throws ConfigError on a bad host name, an existing file without `force`, or a write failure.
 */
export async function makeCertificates(
  dir: string,
  options: GenerateOptions & { force?: boolean } = {},
): Promise<WrittenCertificates> {
  const { force, ...generate } = options;
  // Refuse before spending time on RSA key generation; writeCertificateSet checks again.
  if (!force) await refuseExisting(certificatePaths(dir));
  const set = await generateCertificateSet(generate);
  return writeCertificateSet(dir, set, { force });
}

const SET_KEYS = Object.keys(CERT_FILE_NAMES) as Array<keyof CertificateSet>;

/**
 * Read a set written by {@link writeCertificateSet} (or `tlslp certs`) back from `dir`.
 * @throws ConfigError naming the first file that cannot be read.
 */
export async function readCertificateSet(dir: string): Promise<CertificateSet> {
  const paths = certificatePaths(dir);
  // One after the other: the error names the first missing file in the set's order.
  const entries: (readonly [string, string])[] = [];
  for (const k of SET_KEYS) {
    try {
      entries.push([k, await readFile(paths[k], 'utf8')] as const);
    } catch (err) {
      throw new ConfigError(
        'TLSLP_ERR_CERT_SET_READ',
        { path: paths[k], errno: (err as NodeJS.ErrnoException).code ?? 'error', dir },
        { cause: err },
      );
    }
  }
  return Object.fromEntries(entries) as unknown as CertificateSet;
}

function certificatePaths(dir: string): Record<keyof CertificateSet, string> {
  return Object.fromEntries(SET_KEYS.map((k) => [k, join(dir, CERT_FILE_NAMES[k])])) as Record<
    keyof CertificateSet,
    string
  >;
}

async function refuseExisting(paths: Record<keyof CertificateSet, string>): Promise<void> {
  const existing: string[] = [];
  for (const k of SET_KEYS) if (await exists(paths[k])) existing.push(paths[k]);
  if (existing.length > 0) {
    throw new ConfigError('TLSLP_ERR_CERT_EXISTS', {
      option: 'force',
      files: existing.join(', '),
      several: existing.length > 1,
    });
  }
}

/**
 * Write `data` to `path` with `mode`. The mode is set on the open descriptor before any byte is
 * written: an existing, world-readable key file is tightened first, not after. O_NOFOLLOW makes a
 * symlink planted at the target an error instead of a redirect.
 * @param options.exclusive fail with EEXIST instead of replacing an existing file (O_EXCL)
 * @param options.sync flush to disk before closing (before a rename over another file)
 * @internal
 */
export async function writePrivately(
  path: string,
  data: string,
  mode: number,
  options: { exclusive?: boolean; sync?: boolean } = {},
): Promise<void> {
  const flags =
    fsConstants.O_WRONLY |
    fsConstants.O_CREAT |
    (options.exclusive ? fsConstants.O_EXCL : fsConstants.O_TRUNC) |
    fsConstants.O_NOFOLLOW;
  const fh = await open(path, flags, mode);
  try {
    // open's mode only applies when it creates the file (and umask trims it).
    await fh.chmod(mode);
    await fh.writeFile(data, 'utf8');
    if (options.sync) await fh.sync();
  } finally {
    await fh.close();
  }
}

/** @internal */
export async function generateKeyPair(
  alg: webcrypto.RsaHashedKeyGenParams | webcrypto.EcKeyGenParams,
): Promise<CryptoKeyPair> {
  // Extractable, so the private key can be exported as PKCS#8.
  return webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
}

/** @internal */
export function pkcs8Pem(key: CryptoKey): string {
  return KeyObject.from(key).export({ type: 'pkcs8', format: 'pem' }) as string;
}

/** 16 random bytes with the top bit clear (RFC 5280: positive, at most 20 octets) and never zero. */
/** @internal */
export function randomSerial(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x40;
  return Buffer.from(bytes).toString('hex');
}

/**
 * Key usage of a leaf: an RSA key also enciphers (RSA key transport); an EC key only signs.
 * @internal
 */
export function leafKeyUsage(keyType: 'rsa' | 'ec'): x509.KeyUsageFlags {
  return keyType === 'rsa'
    ? x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment
    : x509.KeyUsageFlags.digitalSignature;
}

/** A distinguished name with only a CN, built as JSON so commas or `=` in the name need no escaping. */
function dn(commonName: string): x509.JsonName {
  return [{ CN: [commonName] }];
}

const DNS_NAME = /^(\*\.)?(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*\.?$/;

/** @internal */
export function normalizeHosts(hosts: string[] | undefined): string[] {
  const list = hosts && hosts.length > 0 ? hosts : DEFAULT_SERVER_HOSTS;
  const out: string[] = [];
  for (const raw of list) {
    const host = raw.trim();
    const version = isIP(host);
    if (version === 0 && (!DNS_NAME.test(host) || host.length > 253)) {
      throw new ConfigError(
        'TLSLP_ERR_BAD_HOST',
        { host: JSON.stringify(raw) },
        { option: 'serverHosts' },
      );
    }
    if (!out.includes(host)) out.push(host);
  }
  return out;
}

/** @internal */
export function toGeneralName(host: string): x509.JsonGeneralName {
  const version = isIP(host);
  if (version === 4) return { type: 'ip', value: host };
  if (version === 6) {
    // The library's IPv6 parser takes hex groups only; the URL parser rewrites forms such as
    // `::ffff:127.0.0.1` into them (and rejects zone ids, which a certificate cannot hold).
    let canonical: string;
    try {
      canonical = new URL(`http://[${host}]/`).hostname.slice(1, -1);
    } catch {
      throw new ConfigError(
        'TLSLP_ERR_BAD_HOST',
        { host: JSON.stringify(host), ipv6: true },
        { option: 'serverHosts' },
      );
    }
    return { type: 'ip', value: canonical };
  }
  return { type: 'dns', value: host };
}

/** @internal */
export async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new ConfigError(
      'TLSLP_ERR_CERT_WRITE',
      { check: true, path, reason: (err as Error).message },
      { cause: err },
    );
  }
}
