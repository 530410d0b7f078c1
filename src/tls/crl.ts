/**
 * Certificate revocation lists (RFC 5280 §5) as the server takes them: PEM, one CRL per CA,
 * checked at load (issued by a CA of the bundle, signed by its key, within its dates) and
 * turned into an index of revoked serial numbers that the server looks a client's chain up
 * in. OpenSSL never gets the CRL: it would scan it on every handshake, at a cost that grows
 * with the list (85 ms of CPU per handshake with 800k entries).
 *
 * A small DER reader rather than the X.509 library: it runs on every start and reload, and
 * the library costs every bin a third of a second to load.
 * @module
 */
import { verify, type X509Certificate } from 'node:crypto';
import { workerEntry } from '../util/worker-file.js';

/** One CRL of a file, read. */
export interface CrlInfo {
  /** The CA certificate that issued it (its subject is the CRL's issuer and its key signed it). */
  issuer: X509Certificate;
  /** When it was issued. */
  thisUpdate: Date;
  /** When the next one is due; past it the server refuses every client (fail closed). */
  nextUpdate?: Date;
  /** The serial numbers of the certificates it revokes. */
  revoked: RevokedSerials;
}

/** FNV-1a over `bytes[from, to)`. */
function hashBytes(bytes: Uint8Array, from: number, to: number): number {
  let h = 0x811c9dc5;
  for (let i = from; i < to; i++) h = Math.imul(h ^ (bytes[i] as number), 0x01000193);
  return h >>> 0;
}

/**
 * A set of serial numbers packed in two typed arrays (the serials' bytes, and an open
 * addressing table of their offsets): no object per entry, so 800k entries take about 20 MB,
 * build in one pass, cross a worker boundary without a copy, and are found in O(1).
 */
export class RevokedSerials {
  /** How many serial numbers it holds. */
  readonly size: number;
  /** Each serial as a length byte then its bytes (leading zero bytes dropped). */
  private readonly bytes: Uint8Array;
  /** Offsets into `bytes`, plus one (0 = empty slot); its length is a power of two. */
  private readonly slots: Uint32Array;

  /** @internal Use {@link RevokedSerials.build} or {@link RevokedSerials.of}. */
  constructor(parts: { size: number; bytes: Uint8Array; slots: Uint32Array }) {
    this.size = parts.size;
    this.bytes = parts.bytes;
    this.slots = parts.slots;
  }

  /** The arrays, to send to another thread (transfer their buffers). */
  parts(): { size: number; bytes: Uint8Array; slots: Uint32Array } {
    return { size: this.size, bytes: this.bytes, slots: this.slots };
  }

  /**
   * Index the serials `each` yields, as byte ranges of `source` (DER INTEGER contents).
   * @param capacity at least the sum of the ranges' lengths plus one per range
   */
  static build(
    source: Uint8Array,
    capacity: number,
    count: number,
    each: (add: (from: number, to: number) => void) => void,
  ): RevokedSerials {
    const bytes = new Uint8Array(capacity);
    let size = 0;
    let slotCount = 8;
    while (slotCount < count * 2) slotCount *= 2;
    const slots = new Uint32Array(slotCount);
    const mask = slotCount - 1;
    let at = 0;
    each((from, to) => {
      while (to - from > 1 && source[from] === 0) from++;
      const len = to - from;
      if (len > 255) throw new CrlProblem('not a CRL (serial number too long)');
      let slot = hashBytes(source, from, to) & mask;
      for (;;) {
        const o = slots[slot] as number;
        if (o === 0) break;
        if (sameSerial(bytes, o - 1, source, from, len)) return;
        slot = (slot + 1) & mask;
      }
      bytes[at] = len;
      bytes.set(source.subarray(from, to), at + 1);
      slots[slot] = at + 1;
      at += len + 1;
      size++;
    });
    // A copy of the used part: the rest of the capacity is not kept for the server's life.
    return new RevokedSerials({ size, bytes: bytes.slice(0, at), slots });
  }

  /** A set of the given serials (hex, as `X509Certificate.serialNumber` gives them). */
  static of(serials: readonly string[]): RevokedSerials {
    const parts = serials.map(serialBytes);
    const source = Buffer.concat(parts);
    const total = source.length + parts.length;
    return RevokedSerials.build(source, total, parts.length, (add) => {
      let at = 0;
      for (const p of parts) add(at, (at += p.length));
    });
  }

  /** Whether it holds `serial` (hex, any case, leading zeros or not). */
  has(serial: string): boolean {
    const b = serialBytes(serial);
    if (this.size === 0) return false;
    let from = 0;
    while (b.length - from > 1 && b[from] === 0) from++;
    const mask = this.slots.length - 1;
    for (let slot = hashBytes(b, from, b.length) & mask; ; slot = (slot + 1) & mask) {
      const o = this.slots[slot] as number;
      if (o === 0) return false;
      if (sameSerial(this.bytes, o - 1, b, from, b.length - from)) return true;
    }
  }
}

/** Whether the entry at `at` in `packed` is `len` bytes equal to `source[from…]`. */
function sameSerial(
  packed: Uint8Array,
  at: number,
  source: Uint8Array,
  from: number,
  len: number,
): boolean {
  if (packed[at] !== len) return false;
  for (let i = 0; i < len; i++) if (packed[at + 1 + i] !== source[from + i]) return false;
  return true;
}

/** The bytes of a hex serial number. */
function serialBytes(hex: string): Buffer {
  const h = hex.replace(/:/g, '');
  return Buffer.from(h.length % 2 ? `0${h}` : h, 'hex');
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

/** The revoked serials of the list `list` (the revokedCertificates SEQUENCE). */
function revokedOf(der: Buffer, list: Tlv | undefined): RevokedSerials {
  if (!list) return RevokedSerials.of([]);
  // One pass to count (each entry is at least 2 bytes of header), one to index; no arrays of
  // elements, which for 800k entries would be millions of objects.
  let count = 0;
  for (let at = list.body; at < list.end; at = tlv(der, at, list.end).end) count++;
  return RevokedSerials.build(der, list.end - list.body, count, (add) => {
    for (let at = list.body; at < list.end;) {
      const entry = tlv(der, at, list.end);
      const serial = entry.tag === SEQUENCE ? tlv(der, entry.body, entry.end) : undefined;
      if (serial?.tag !== INTEGER || serial.end === serial.body)
        throw new CrlProblem('not a CRL (bad revoked entry)');
      add(serial.body, serial.end);
      at = entry.end;
    }
  });
}

/** Read one CRL (DER) and find the CA of `cas` that issued it. */
function readCrl(der: Buffer, cas: readonly X509Certificate[]): CrlInfo {
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
  // RSA-PSS and the like take parameters this reader does not pass on: such a CRL is refused.
  const ca =
    digest === undefined
      ? undefined
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
      digest === undefined
        ? 'its signature algorithm is not one the server checks (use RSA PKCS#1 v1.5, ECDSA or Ed25519)'
        : "its signature does not verify with the CA's key",
    );
  return {
    issuer: ca,
    thisUpdate: time(der, thisUpdate),
    ...(next ? { nextUpdate: time(der, next) } : {}),
    revoked: revokedOf(der, list),
  };
}

const BLOCK = /-----BEGIN (X509 )?CRL-----([\s\S]*?)-----END (X509 )?CRL-----/g;

/** The DER of each PEM CRL in `text`. */
function crlBlocks(text: string): Buffer[] {
  const out: Buffer[] = [];
  // Base64 decoding skips the line breaks itself: no copy of a 38 MB text without them.
  for (const m of text.matchAll(BLOCK)) out.push(Buffer.from(m[2] ?? '', 'base64'));
  return out;
}

/**
 * Refuse a CRL outside its dates at `now`.
 * @throws CrlProblem saying which date
 */
export function checkDates(crl: CrlInfo, now: Date): void {
  if (crl.nextUpdate && crl.nextUpdate < now)
    throw new CrlProblem(
      `its nextUpdate (${crl.nextUpdate.toISOString()}) has passed: the server would refuse every client; re-sign it (tlslp certs crl --refresh, or the CA's own tool) and reload`,
    );
  if (crl.thisUpdate > now)
    throw new CrlProblem(
      `it is not valid before ${crl.thisUpdate.toISOString()} (check the clock)`,
    );
}

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
  for (const der of crlBlocks(text)) {
    const crl = readCrl(der, cas);
    checkDates(crl, now);
    out.push(crl);
  }
  if (out.length === 0) throw new CrlProblem('holds no CRL (-----BEGIN X509 CRL-----)');
  return out;
}

/** What a worker sends back for one CRL: its issuer by index into the CAs, and the index. */
export interface CrlTransfer {
  issuer: number;
  thisUpdate: number;
  nextUpdate?: number;
  size: number;
  bytes: Uint8Array;
  slots: Uint32Array;
}

/** {@link readCrls} without the date check, in a form a worker can send (see crl-worker.ts). */
export function readCrlsForTransfer(text: string, cas: readonly X509Certificate[]): CrlTransfer[] {
  return crlBlocks(text).map((der) => {
    const crl = readCrl(der, cas);
    return {
      issuer: cas.indexOf(crl.issuer),
      thisUpdate: crl.thisUpdate.getTime(),
      ...(crl.nextUpdate ? { nextUpdate: crl.nextUpdate.getTime() } : {}),
      ...crl.revoked.parts(),
    };
  });
}

/**
 * {@link readCrls} in a worker thread, so a big CRL (38 MB for 800k entries) is parsed and
 * indexed without stalling the event loop; the index comes back without a copy. Without a
 * worker (its file missing, or it failed), it reads the CRL here instead.
 * @throws CrlProblem saying what is wrong
 */
export async function readCrlsOffThread(
  text: string | Buffer,
  cas: readonly X509Certificate[],
  now: Date = new Date(),
): Promise<CrlInfo[]> {
  const here = (): CrlInfo[] =>
    readCrls(typeof text === 'string' ? text : text.toString('latin1'), cas, now);
  const entry = workerEntry('./crl-worker.js', import.meta.url);
  if (!entry.found) return here();
  const { Worker } = await import('node:worker_threads');
  const worker = new Worker(new URL(entry.found, 'file:///'), {
    workerData: { text, cas: cas.map((c) => c.raw) },
  });
  const reply = await new Promise<{ crls?: CrlTransfer[]; problem?: string } | null>((resolve) => {
    worker.once('message', resolve);
    worker.once('error', () => resolve(null));
    worker.once('exit', () => resolve(null));
  }).finally(() => void worker.terminate());
  if (reply?.problem !== undefined) throw new CrlProblem(reply.problem);
  if (!reply?.crls || reply.crls.some((t) => !cas[t.issuer])) return here();
  const out = reply.crls.map((t): CrlInfo => ({
    issuer: cas[t.issuer] as X509Certificate,
    thisUpdate: new Date(t.thisUpdate),
    ...(t.nextUpdate !== undefined ? { nextUpdate: new Date(t.nextUpdate) } : {}),
    revoked: new RevokedSerials(t),
  }));
  for (const crl of out) checkDates(crl, now);
  if (out.length === 0) throw new CrlProblem('holds no CRL (-----BEGIN X509 CRL-----)');
  return out;
}
