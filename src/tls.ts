/**
 * TLS settings for both sides (PROTOCOL §1): mutual TLS by default, insecure mode only on
 * loopback, certificate files read with errors that name the flag to fix.
 * @module
 */
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { ConfigError } from './errors.js';

/** PEM material for one side. */
export interface TlsMaterial {
  /** CA certificate(s) trusted for the peer's certificate. */
  ca?: string | Buffer;
  /** This side's certificate chain. */
  cert?: string | Buffer;
  /** This side's private key. */
  key?: string | Buffer;
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
    throw new ConfigError(
      'INSECURE_NOT_LOOPBACK',
      `--insecure is only allowed with localhost or a loopback address, not ${JSON.stringify(host)}; drop --insecure and use certificates`,
    );
  }
}

/** One file to read, and the flag that names it (for the error message). */
export interface PemFile {
  /** Where the file is. */
  path: string;
  /** The flag that set it, e.g. `--ca-cert`, named in error messages. */
  flag: string;
}

/**
 * Read a PEM file.
 * @throws ConfigError naming the flag when it is missing, unreadable or not PEM.
 */
export async function readPem(file: PemFile): Promise<Buffer> {
  let data: Buffer;
  try {
    data = await readFile(file.path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'not found'
        : code === 'EACCES'
          ? 'not readable (check its permissions)'
          : code === 'EISDIR'
            ? 'is a folder'
            : `cannot be read (${code ?? 'error'})`;
    throw new ConfigError(
      'CERT_FILE',
      `${file.flag} ${file.path}: ${why}; pass the right path, or create a set with: tlslp certs`,
      { cause: err },
    );
  }
  if (!data.includes('-----BEGIN ')) {
    throw new ConfigError('CERT_FILE', `${file.flag} ${file.path}: not a PEM file`);
  }
  return data;
}

/** Read the files of one side; entries left undefined are skipped. */
export async function readTlsFiles(files: {
  ca?: PemFile;
  cert?: PemFile;
  key?: PemFile;
}): Promise<TlsMaterial> {
  const out: TlsMaterial = {};
  if (files.ca) out.ca = await readPem(files.ca);
  if (files.cert) out.cert = await readPem(files.cert);
  if (files.key) out.key = await readPem(files.key);
  return out;
}
