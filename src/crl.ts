/**
 * Certificate revocation lists (RFC 5280 §5) as the server takes them: PEM, one CRL per CA,
 * checked before OpenSSL gets them. OpenSSL checks the CRL of every certificate of a client
 * chain once a CRL is loaded, so a CRL it cannot use (another CA's, a bad signature, past its
 * nextUpdate) refuses every client: such a file is refused here instead, with its reason.
 *
 * A small DER reader rather than the X.509 library: it runs on every start and reload, and
 * the library costs every bin a third of a second to load.
 * @module
 */
import { verify, type X509Certificate } from 'node:crypto';

/** One CRL of a file, read. */
export interface CrlInfo {
  /** The CRL as PEM, under the label OpenSSL reads (`X509 CRL`). */
  pem: string;
  /** The CA certificate that issued it (its subject is the CRL's issuer and its key signed it). */
  issuer: X509Certificate;
  /** When it was issued. */
  thisUpdate: Date;
  /** When the next one is due; OpenSSL refuses every client past it. */
  nextUpdate?: Date;
  /** Serial numbers of the revoked certificates, uppercase hex as `X509Certificate.serialNumber` gives them. */
  revoked: string[];
}

/** Why a CRL file cannot be used, in words for `{file}: {problem}`. */
export class CrlProblem extends Error {}

interface Tlv {
  tag: number;
  /** Where the element starts (its tag byte). */
  start: number;
  /** Where its content starts. */
  body: number;
  /** Where it ends. */
  end: number;
}

/** Read the DER element at `at` within `der`, ending no later than `limit`. */
function tlv(der: Buffer, at: number, limit: number): Tlv {
  if (at + 2 > limit) throw new CrlProblem('not a CRL (truncated)');
  const tag = der[at] as number;
  let len = der[at + 1] as number;
  let body = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || body + n > limit) throw new CrlProblem('not a CRL (bad length)');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (der[body + i] as number);
    body += n;
  }
  const end = body + len;
  if (end > limit) throw new CrlProblem('not a CRL (truncated)');
  return { tag, start: at, body, end };
}

/** The elements inside a constructed element. */
function children(der: Buffer, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let at = parent.body; at < parent.end;) {
    const child = tlv(der, at, parent.end);
    out.push(child);
    at = child.end;
  }
  return out;
}

const SEQUENCE = 0x30;
const INTEGER = 0x02;
const UTC_TIME = 0x17;
const GENERALIZED_TIME = 0x18;

function time(der: Buffer, t: Tlv): Date {
  const s = der.toString('latin1', t.body, t.end);
  const m =
    t.tag === UTC_TIME
      ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s)
      : /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) throw new CrlProblem('not a CRL (bad time)');
  const [y = 0, mo = 1, d = 1, h = 0, mi = 0, se = 0] = m.slice(1).map(Number);
  const year = t.tag === UTC_TIME ? (y < 50 ? 2000 : 1900) + y : y;
  return new Date(Date.UTC(year, mo - 1, d, h, mi, se));
}

function isTime(t: Tlv | undefined): t is Tlv {
  return t !== undefined && (t.tag === UTC_TIME || t.tag === GENERALIZED_TIME);
}

/** The DER of a certificate's subject name (tbsCertificate's sixth field, after the version). */
function subjectDer(cert: X509Certificate): Buffer {
  const der = cert.raw;
  const tbs = children(der, tlv(der, 0, der.length))[0];
  if (!tbs) return Buffer.alloc(0);
  const fields = children(der, tbs);
  const skip = fields[0]?.tag === 0xa0 ? 1 : 0;
  const subject = fields[skip + 4];
  return subject ? der.subarray(subject.start, subject.end) : Buffer.alloc(0);
}

/** The dotted form of the OID whose content is `body`. */
function oid(body: Buffer): string {
  const parts: number[] = [];
  let n = 0;
  for (const byte of body) {
    n = n * 128 + (byte & 0x7f);
    if (byte & 0x80) continue;
    if (parts.length === 0) parts.push(n < 80 ? Math.floor(n / 40) : 2, n < 80 ? n % 40 : n - 80);
    else parts.push(n);
    n = 0;
  }
  return parts.join('.');
}

/** The digest `crypto.verify` takes for a signature algorithm (null: the key decides, as Ed25519). */
const SIGNATURE_DIGESTS: Record<string, string | null> = {
  '1.2.840.113549.1.1.5': 'sha1',
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
  '1.3.101.112': null,
  '1.3.101.113': null,
};

/** Serial number as `X509Certificate.serialNumber` gives it: uppercase hex, no sign byte. */
function serialHex(der: Buffer, t: Tlv): string {
  let body = der.subarray(t.body, t.end);
  while (body.length > 1 && body[0] === 0) body = body.subarray(1);
  return body.toString('hex').toUpperCase();
}

/** Read one CRL (DER) and find the CA of `cas` that issued it. */
function readCrl(der: Buffer, cas: readonly X509Certificate[]): Omit<CrlInfo, 'pem'> {
  const top = tlv(der, 0, der.length);
  if (top.tag !== SEQUENCE) throw new CrlProblem('not a CRL');
  const [tbs, sigAlg, sig] = children(der, top);
  if (tbs?.tag !== SEQUENCE || sigAlg?.tag !== SEQUENCE || sig?.tag !== 0x03)
    throw new CrlProblem('not a CRL');
  const fields = children(der, tbs);
  let i = fields[0]?.tag === INTEGER ? 1 : 0;
  i++; // the signature algorithm, again
  const issuer = fields[i++];
  const thisUpdate = fields[i++];
  if (issuer?.tag !== SEQUENCE || !isTime(thisUpdate)) throw new CrlProblem('not a CRL');
  const next = isTime(fields[i]) ? fields[i++] : undefined;
  const list = fields[i]?.tag === SEQUENCE ? fields[i] : undefined;
  const revoked: string[] = [];
  for (const entry of list ? children(der, list) : []) {
    const serial = children(der, entry)[0];
    if (serial?.tag !== INTEGER) throw new CrlProblem('not a CRL (bad revoked entry)');
    revoked.push(serialHex(der, serial));
  }
  const issuerDer = der.subarray(issuer.start, issuer.end);
  const named = cas.filter((ca) => subjectDer(ca).equals(issuerDer));
  if (named.length === 0)
    throw new CrlProblem(
      'not issued by the CA: its issuer is none of the CA certificates (OpenSSL would refuse every client)',
    );
  const algOid = children(der, sigAlg)[0];
  const digest =
    algOid?.tag === 0x06
      ? SIGNATURE_DIGESTS[oid(der.subarray(algOid.body, algOid.end))]
      : undefined;
  // Another algorithm (RSA-PSS, …): OpenSSL checks the signature itself.
  const ca =
    digest === undefined
      ? named[0]
      : named.find((c) => {
          try {
            return verify(
              digest,
              der.subarray(tbs.start, tbs.end),
              c.publicKey,
              der.subarray(sig.body + 1, sig.end),
            );
          } catch {
            return false;
          }
        });
  if (!ca)
    throw new CrlProblem(
      "its signature does not verify with the CA's key (OpenSSL would refuse every client)",
    );
  return {
    issuer: ca,
    thisUpdate: time(der, thisUpdate),
    ...(next ? { nextUpdate: time(der, next) } : {}),
    revoked,
  };
}

const BLOCK = /-----BEGIN (X509 )?CRL-----([\s\S]*?)-----END (X509 )?CRL-----/g;

/**
 * Read a CRL file (one or more PEM CRLs, labelled `X509 CRL` or `CRL`) and check each against
 * the CA certificates: issued by one of them, signed by its key, not past its nextUpdate.
 * @throws CrlProblem saying what is wrong
 */
export function readCrls(
  text: string,
  cas: readonly X509Certificate[],
  now: Date = new Date(),
): CrlInfo[] {
  const out: CrlInfo[] = [];
  for (const m of text.matchAll(BLOCK)) {
    const der = Buffer.from((m[2] ?? '').replace(/\s+/g, ''), 'base64');
    const crl = readCrl(der, cas);
    if (crl.nextUpdate && crl.nextUpdate < now)
      throw new CrlProblem(
        `its nextUpdate (${crl.nextUpdate.toISOString()}) has passed: OpenSSL would refuse every client; publish a new CRL`,
      );
    if (crl.thisUpdate > now)
      throw new CrlProblem(
        `it is not valid before ${crl.thisUpdate.toISOString()} (check the clock)`,
      );
    const body = der.toString('base64').replace(/.{1,64}/g, '$&\n');
    out.push({ pem: `-----BEGIN X509 CRL-----\n${body}-----END X509 CRL-----\n`, ...crl });
  }
  if (out.length === 0) throw new CrlProblem('holds no CRL (-----BEGIN X509 CRL-----)');
  return out;
}
