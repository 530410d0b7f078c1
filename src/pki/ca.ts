/**
 * The CA of a certificate folder, loaded for signing: its certificate, its private key as a
 * WebCrypto key, and the signature algorithm that key makes.
 * @module
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { createPrivateKey, createPublicKey, webcrypto, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CERT_FILE_NAMES } from './generate.js';
import { ConfigError } from '../errors/index.js';
import { CURVE_NAMES } from './inspect.js';

/** A CA ready to sign certificates and CRLs. */
export interface LoadedCa {
  /** The CA certificate. */
  cert: x509.X509Certificate;
  /** The CA private key, usable for signing only. */
  signingKey: webcrypto.CryptoKey;
  /** The signature algorithm of that key (SHA-256 based). */
  signingAlgorithm: webcrypto.RsaHashedImportParams | webcrypto.EcdsaParams;
  /** The authority key identifier every certificate or CRL it signs carries. */
  aki: x509.AuthorityKeyIdentifierExtension;
}

/**
 * Load the CA certificate and key of `dir` (the names in {@link CERT_FILE_NAMES}).
 * @throws ConfigError `TLSLP_ERR_CERT_SET_READ` when a file cannot be read, `TLSLP_ERR_CERT_FILE`
 *   when one is not PEM, `TLSLP_ERR_KEY_MISMATCH` when the key is not the certificate's,
 *   `TLSLP_ERR_CA_KEY_TYPE` when it cannot sign.
 */
export async function loadCa(dir: string): Promise<LoadedCa> {
  const certPath = join(dir, CERT_FILE_NAMES.caCert);
  const keyPath = join(dir, CERT_FILE_NAMES.caKey);
  // One after the other: with both missing, the error names the certificate, every time.
  const certPem = await readText(certPath, dir);
  const keyPem = await readText(keyPath, dir);

  let cert: x509.X509Certificate;
  let key: KeyObject;
  try {
    cert = new x509.X509Certificate(certPem);
  } catch (err) {
    throw new ConfigError(
      'TLSLP_ERR_CERT_FILE',
      { file: certPath, notCert: true },
      { cause: err, option: 'dir' },
    );
  }
  try {
    key = createPrivateKey(keyPem);
  } catch (err) {
    throw new ConfigError(
      'TLSLP_ERR_CERT_FILE',
      { file: keyPath, notKey: true },
      { cause: err, option: 'dir' },
    );
  }
  // A key that is not the certificate's would sign certificates nobody can verify.
  const certSpki = Buffer.from(cert.publicKey.rawData);
  const keySpki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  if (!certSpki.equals(keySpki)) {
    throw new ConfigError(
      'TLSLP_ERR_KEY_MISMATCH',
      { key: keyPath, cert: certPath },
      { option: 'dir' },
    );
  }

  const signingAlgorithm = signatureAlgorithm(key, keyPath);
  const signingKey = await webcrypto.subtle.importKey(
    'pkcs8',
    key.export({ type: 'pkcs8', format: 'der' }),
    signingAlgorithm,
    false,
    ['sign'],
  );
  const ski = cert.getExtension(x509.SubjectKeyIdentifierExtension);
  const aki = ski
    ? new x509.AuthorityKeyIdentifierExtension(ski.keyId)
    : await x509.AuthorityKeyIdentifierExtension.create(cert.publicKey);
  return { cert, signingKey, signingAlgorithm, aki };
}

function signatureAlgorithm(
  key: KeyObject,
  keyPath: string,
): webcrypto.RsaHashedImportParams | webcrypto.EcdsaParams {
  if (key.asymmetricKeyType === 'rsa') return { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  const curve = CURVE_NAMES[key.asymmetricKeyDetails?.namedCurve ?? ''];
  if (key.asymmetricKeyType === 'ec' && curve) {
    // importKey wants the curve, sign wants the hash: one object carries both.
    return { name: 'ECDSA', namedCurve: curve, hash: 'SHA-256' } as webcrypto.EcdsaParams;
  }
  throw new ConfigError(
    'TLSLP_ERR_CA_KEY_TYPE',
    { key: keyPath, keyType: key.asymmetricKeyType ?? 'unknown' },
    { option: 'dir' },
  );
}

async function readText(path: string, dir: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError(
      'TLSLP_ERR_CERT_SET_READ',
      { path, errno: (err as NodeJS.ErrnoException).code ?? 'error', dir },
      { cause: err, option: 'dir' },
    );
  }
}
