// @ts-check
/**
 * Certificates for the attack harness (bench/attack.mjs) and bench/server.mjs: a crafted chain
 * that is as costly to verify as OpenSSL allows, a weak-key client certificate from the
 * server's own CA (or one that only claims to be: forged), and a CRL of many entries.
 *
 * The crafted chain: a self-made root and N intermediates, all with one RSA-3072 key whose
 * public exponent is about 3070 bits (OpenSSL caps exponents at 64 bits only above 3072-bit
 * moduli), so each signature in the chain costs the verifier a full-size modular
 * exponentiation (about 5 ms here) while the attacker signs with a small private exponent.
 * The leaf has a P-256 key, so the attacker's own CertificateVerify is cheap. Nothing in it
 * is signed by the server's CA.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import crypto, { webcrypto } from 'node:crypto';

x509.cryptoProvider.set(webcrypto);

const RSA_SIGN = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
const EC = { name: 'ECDSA', namedCurve: 'P-256' };
const DAY = 86_400_000;

function b64u(x) {
  let h = x.toString(16);
  if (h.length % 2) h = `0${h}`;
  return Buffer.from(h, 'hex').toString('base64url');
}

/**
 * @param {bigint} a
 * @param {bigint} m
 */
function modInverse(a, m) {
  let [r0, r1, s0, s1] = [((a % m) + m) % m, m, 1n, 0n];
  while (r1) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  return r0 === 1n ? ((s0 % m) + m) % m : null;
}

/** An RSA-3072 key with a small private and a ~3070-bit public exponent, as a JWK. */
function bigExponentJwk() {
  const p = crypto.generatePrimeSync(1536, { bigint: true });
  const q = crypto.generatePrimeSync(1536, { bigint: true });
  const phi = (p - 1n) * (q - 1n);
  for (;;) {
    const d = BigInt(`0x${crypto.randomBytes(32).toString('hex')}`) | 1n;
    const e = modInverse(d, phi);
    if (!e || e.toString(2).length < 3060) continue;
    return {
      kty: 'RSA',
      n: b64u(p * q),
      e: b64u(e),
      d: b64u(d),
      p: b64u(p),
      q: b64u(q),
      dp: b64u(d % (p - 1n)),
      dq: b64u(d % (q - 1n)),
      qi: b64u(modInverse(q, p)),
    };
  }
}

/** The run's big-exponent key, made on first use (its primes take about 0.1 s). */
let bigKey = null;

const serial = () =>
  crypto
    .randomBytes(8)
    .toString('hex')
    .replace(/^[89a-f]/, '1');
const pem = (cert) => cert.toString('pem');
const pkcs8 = async (key) =>
  crypto.KeyObject.from(key).export({ type: 'pkcs8', format: 'pem' }).toString();

/**
 * A crafted chain of `intermediates` CA certificates under a self-made root.
 * @returns {Promise<{ cert: string, key: string, bytes: number, certificates: number }>}
 *   `cert` is leaf + intermediates + root (PEM), `key` the leaf's private key
 */
export async function craftedChain(intermediates) {
  // One key serves every chain of the run: the cost is in verifying, not in the key's variety.
  bigKey ??= bigExponentJwk();
  const jwk = bigKey;
  const signingKey = await webcrypto.subtle.importKey('jwk', jwk, RSA_SIGN, true, ['sign']);
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub } = jwk;
  const publicKey = await webcrypto.subtle.importKey('jwk', pub, RSA_SIGN, true, ['verify']);
  const notBefore = new Date(Date.now() - DAY);
  const notAfter = new Date(Date.now() + 30 * DAY);
  const caExt = [
    new x509.BasicConstraintsExtension(true, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true),
  ];
  const issue = (subject, issuer, key) =>
    x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject,
      issuer,
      notBefore,
      notAfter,
      signingAlgorithm: RSA_SIGN,
      publicKey: key,
      signingKey,
      extensions: caExt,
    });
  const certs = [];
  certs.push(await issue('CN=Crafted Root', 'CN=Crafted Root', publicKey));
  for (let i = intermediates; i >= 1; i--)
    certs.push(
      await issue(
        `CN=Crafted ${i}`,
        i === intermediates ? 'CN=Crafted Root' : `CN=Crafted ${i + 1}`,
        publicKey,
      ),
    );
  const leafKeys = await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify']);
  const leaf = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: 'CN=attacker',
    issuer: intermediates > 0 ? 'CN=Crafted 1' : 'CN=Crafted Root',
    notBefore,
    notAfter,
    signingAlgorithm: RSA_SIGN,
    publicKey: leafKeys.publicKey,
    signingKey,
    extensions: [
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
    ],
  });
  const chain = [leaf, ...certs.reverse()];
  const cert = chain.map(pem).join('\n');
  return {
    cert,
    key: await pkcs8(leafKeys.privateKey),
    bytes: chain.reduce((n, c) => n + c.rawData.byteLength, 0),
    certificates: chain.length,
  };
}

/**
 * A client certificate with an RSA key of `bits` bits and subject CN `commonName`, issued by
 * the set's CA (so it passes OpenSSL's verification: only the server's key-strength rule, or
 * with a strong key its allow-lists, can refuse it). With `forged`, it names the CA as its
 * issuer but is signed by another key: OpenSSL looks its revocation up before it finds the
 * signature bad, which is what made a big CRL cost every stranger's handshake.
 */
export async function weakClientCert(set, bits = 1024, commonName = 'weak client', forged = false) {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: bits });
  const publicKey = new x509.PublicKey(
    crypto.createPublicKey(privateKey).export({ type: 'spki', format: 'der' }),
  );
  const signer = forged
    ? crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey
    : crypto.createPrivateKey(set.caKey);
  const caKey = await webcrypto.subtle.importKey(
    'pkcs8',
    signer.export({ type: 'pkcs8', format: 'der' }),
    RSA_SIGN,
    false,
    ['sign'],
  );
  const ca = new x509.X509Certificate(set.caCert);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${commonName}`,
    issuer: ca.subject,
    notBefore: new Date(Date.now() - DAY),
    notAfter: new Date(Date.now() + DAY),
    signingAlgorithm: RSA_SIGN,
    publicKey,
    signingKey: caKey,
    extensions: [
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
    ],
  });
  return { cert: pem(cert), key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

/** A DER element: tag, length, content. */
function der(tag, ...parts) {
  return derOf(tag, parts);
}

/** {@link der} with the parts as an array (a spread of 200k arguments overflows the stack). */
function derOf(tag, parts) {
  const body = Buffer.concat(parts);
  const n = body.length;
  const len =
    n < 0x80
      ? Buffer.from([n])
      : n < 0x100
        ? Buffer.from([0x81, n])
        : n < 0x10000
          ? Buffer.from([0x82, n >> 8, n & 0xff])
          : Buffer.from([0x83, n >> 16, (n >> 8) & 0xff, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), len, body]);
}

/** UTCTime of `date` (years 1950..2049). */
const utcTime = (date) =>
  der(0x17, Buffer.from(`${date.toISOString().slice(2, 19).replace(/[-T:]/g, '')}Z`, 'latin1'));

/**
 * A CRL of the set's CA listing `count` made-up serial numbers (none of the set's own), signed
 * with the CA's key: written as DER by hand, since @peculiar/x509 takes about a second per
 * thousand entries. About 36 bytes of DER per entry (200k: about 9.7 MB as PEM).
 * @param {{ caCert: string, caKey: string }} set
 * @param {number} count
 * @param {{ nextUpdate?: Date }} [options]
 */
export function bigCrl(set, count, options = {}) {
  const key = crypto.createPrivateKey(set.caKey);
  const sigAlg =
    key.asymmetricKeyType === 'ec'
      ? der(0x30, der(0x06, Buffer.from('2a8648ce3d040302', 'hex')))
      : der(0x30, der(0x06, Buffer.from('2a864886f70d01010b', 'hex')), Buffer.from([5, 0]));
  const issuer = Buffer.from(new x509.X509Certificate(set.caCert).subjectName.toArrayBuffer());
  const now = Date.now();
  const revokedAt = utcTime(new Date(now - DAY));
  const entries = [];
  for (let i = 0; i < count; i++) {
    // 10-byte serials, high bit clear (a positive INTEGER needs no sign byte).
    const serialBytes = Buffer.alloc(10);
    serialBytes.writeUInt32BE(0x7e000000 + i, 0);
    serialBytes.writeUInt32BE(0x5eed0000 + (i % 65536), 6);
    entries.push(der(0x30, der(0x02, serialBytes), revokedAt));
  }
  const tbs = der(
    0x30,
    der(0x02, Buffer.from([1])),
    sigAlg,
    issuer,
    utcTime(new Date(now - 60_000)),
    utcTime(options.nextUpdate ?? new Date(now + 30 * DAY)),
    ...(count > 0 ? [derOf(0x30, entries)] : []),
  );
  const signature = crypto.sign('sha256', tbs, key);
  const crl = der(0x30, tbs, sigAlg, der(0x03, Buffer.from([0]), signature));
  const b64 = crl.toString('base64').replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN X509 CRL-----\n${b64}-----END X509 CRL-----\n`;
}
