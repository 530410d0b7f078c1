/**
 * What the server accepts as a client certificate once OpenSSL has checked it: issued by our
 * CA (OpenSSL's verdict), a chain no deeper than the limit, no certificate of it revoked by
 * the CRLs (looked up in their index here, not by OpenSSL), and a key no weaker than RSA-2048
 * or EC P-256. Each refusal has a stable code, used as the log reason and the metric label.
 * @module
 */
import { X509Certificate } from 'node:crypto';
import type { DetailedPeerCertificate, PeerCertificate, TLSSocket } from 'node:tls';
import type { CrlInfo } from '../tls/crl.js';
import { FAIL_REASONS } from '../protocol/fail-reasons.js';

/** Why a client certificate was refused. */
export interface CertRefusal {
  /** Stable code: OpenSSL's verify code (`CERT_HAS_EXPIRED`, …), `NO_CLIENT_CERT`, `CHAIN_TOO_DEEP` or `WEAK_CLIENT_KEY`. */
  code: string;
  /** What it means, for the log. */
  text: string;
  /**
   * The refusal is the server's doing (its CRL is out of date), not the client's: it spends
   * none of the client's failure budget.
   */
  serverFault?: boolean;
}

/** The CRLs client chains are checked against: one object for a server's life, `crls` swapped on reload. */
export interface Revocation {
  crls: readonly CrlInfo[];
}

/** Plain words for the verify codes a client certificate commonly fails with. */
const VERIFY_TEXT: Record<string, string> = {
  CERT_HAS_EXPIRED: 'the client certificate has expired',
  CERT_NOT_YET_VALID: 'the client certificate is not valid yet',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'the client certificate is not issued by our CA',
  UNABLE_TO_GET_ISSUER_CERT: 'the client certificate is not issued by our CA',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'the client certificate is not issued by our CA',
  SELF_SIGNED_CERT_IN_CHAIN: 'the client chain ends in a root that is not our CA',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'the client certificate is self-signed',
  CERT_SIGNATURE_FAILURE: 'the client certificate signature does not verify',
  INVALID_PURPOSE: 'the client certificate is not for client authentication (key usage)',
  CERT_REVOKED: 'the client certificate is revoked',
  CERT_CHAIN_TOO_LONG: 'the client chain is too long',
  EE_KEY_TOO_SMALL: 'the client key is too small',
  CA_KEY_TOO_SMALL: 'a CA key in the client chain is too small',
};

/** The smallest RSA modulus accepted, in bits. */
const MIN_RSA_BITS = 2048;

/**
 * The `FAIL` reason a client refused after its handshake is told (the server's own verdicts:
 * OpenSSL's end the handshake before a line can be sent).
 */
export function refusalReason(code: string): string {
  return Object.hasOwn(REFUSAL_REASONS, code)
    ? (REFUSAL_REASONS[code] as string)
    : FAIL_REASONS.certRefused;
}

const REFUSAL_REASONS: Readonly<Record<string, string>> = {
  CERT_REVOKED: FAIL_REASONS.certRevoked,
  CHAIN_TOO_DEEP: FAIL_REASONS.chainTooDeep,
  WEAK_CLIENT_KEY: FAIL_REASONS.weakKey,
  CRL_EXPIRED: FAIL_REASONS.revocationUnknown,
  UNABLE_TO_GET_CRL: FAIL_REASONS.revocationUnknown,
};

/**
 * The refusal behind a handshake that ended for the client certificate's sake, from the
 * `tlsClientError` Node reports it with: OpenSSL's for a client that sent no certificate
 * (it sent the client the `certificate_required` alert, TLS 1.3, or `handshake_failure`, TLS
 * 1.2), or Node's verdict on a chain OpenSSL could not verify (`authorizationError`; Node
 * then closes the connection without an alert). Null: not a certificate's fault.
 */
export function handshakeRefusal(err: Error, socket: TLSSocket): CertRefusal | null {
  if ((err as NodeJS.ErrnoException).code === 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE')
    return NO_CERT;
  const code = socket.authorizationError;
  if (code === undefined || code === null) return null;
  return verifyRefusal(typeof code === 'string' ? code : code.message);
}

/** OpenSSL's verify code as a refusal, in plain words when known. */
function verifyRefusal(code: string): CertRefusal {
  return {
    code,
    text: VERIFY_TEXT[code] ?? `the client certificate failed verification (${code})`,
  };
}

const NO_CERT: CertRefusal = { code: 'NO_CLIENT_CERT', text: 'the client sent no certificate' };

/** Curves at least as strong as P-256 (OpenSSL names). */
const STRONG_CURVES = new Set([
  'prime256v1',
  'secp384r1',
  'secp521r1',
  'brainpoolP256r1',
  'brainpoolP384r1',
  'brainpoolP512r1',
]);

/** The chain the client presented as verified, leaf first (the root, its own issuer, last). */
function chainOf(cert: DetailedPeerCertificate): DetailedPeerCertificate[] {
  const seen = new Set<DetailedPeerCertificate>();
  let c: DetailedPeerCertificate | undefined = cert;
  // A self-signed root is its own issuer; `seen` also ends any other loop.
  while (c && Object.keys(c).length > 0 && !seen.has(c)) {
    seen.add(c);
    c = c.issuerCertificate;
  }
  return [...seen];
}

/** Number of certificates in the chain the client presented, leaf included. */
export function chainLength(cert: DetailedPeerCertificate): number {
  return chainOf(cert).length;
}

/**
 * Whether a certificate of `chain` (leaf first, each followed by its issuer; the trust
 * anchor, whose revocation a CRL of its own does not decide, left out) is revoked by `crls`.
 * As OpenSSL's CRL check did: every certificate needs a CRL of its issuer, and a CRL past
 * its nextUpdate refuses everyone (fail closed), counted as the server's problem.
 */
export function revocationRefusal(
  chain: readonly X509Certificate[],
  crls: readonly CrlInfo[],
  now: Date = new Date(),
): CertRefusal | null {
  for (const [i, cert] of chain.entries()) {
    const crl = crls.find((c) => cert.checkIssued(c.issuer));
    if (!crl)
      return {
        code: 'UNABLE_TO_GET_CRL',
        text: `no CRL (--crl) of the CA that issued ${i === 0 ? 'the client certificate' : 'a CA certificate of the client chain'} (${cert.issuer.replace(/\n/g, ', ')})`,
      };
    if (crl.nextUpdate && crl.nextUpdate < now)
      return {
        code: 'CRL_EXPIRED',
        text: `the server's CRL is past its nextUpdate (${crl.nextUpdate.toISOString()}): every client is refused until it is re-signed and reloaded (the server's problem, not the client's)`,
        serverFault: true,
      };
    if (crl.revoked.has(cert.serialNumber))
      return {
        code: 'CERT_REVOKED',
        text:
          i === 0
            ? (VERIFY_TEXT.CERT_REVOKED as string)
            : 'a CA certificate of the client chain is revoked',
      };
  }
  return null;
}

/** Why the leaf key is too weak, or null. RSA needs 2048 bits, EC a curve like P-256 or stronger. */
export function weakKeyReason(leaf: X509Certificate): string | null {
  const key = leaf.publicKey;
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'rsa':
    case 'rsa-pss':
      return (details.modulusLength ?? 0) >= MIN_RSA_BITS
        ? null
        : `RSA-${details.modulusLength ?? '?'} (at least RSA-${MIN_RSA_BITS} is needed)`;
    case 'ec':
      return STRONG_CURVES.has(details.namedCurve ?? '')
        ? null
        : `EC ${details.namedCurve ?? '?'} (at least P-256 is needed)`;
    case 'ed25519':
    case 'ed448':
      return null;
    default:
      return `a ${key.asymmetricKeyType ?? 'unknown'} key (use RSA-${MIN_RSA_BITS}+ or EC P-256+)`;
  }
}

/** A verified client certificate, parsed, and what its key alone decides. */
interface ParsedLeaf {
  leaf: X509Certificate;
  /** {@link weakKeyReason} of it. */
  weak: string | null;
}

/** Parsed leaves by SHA-256 fingerprint, least recently used first. */
const leaves = new Map<string, ParsedLeaf>();

/** Leaves kept parsed: the clients that come back (a parse is most of a judgement's cost). */
const MAX_PARSED_LEAVES = 1024;

/**
 * The leaf of `plain` (a certificate OpenSSL verified), parsed once per certificate: a client
 * that reconnects with the same one costs a map lookup. Only what the certificate alone
 * decides is kept; its issuer and revocation are looked up on every handshake (a reload
 * changes them).
 */
function parsedLeaf(plain: PeerCertificate): ParsedLeaf {
  const key = plain.fingerprint256;
  const hit = leaves.get(key);
  if (hit) {
    leaves.delete(key);
    leaves.set(key, hit);
    return hit;
  }
  const leaf = new X509Certificate(plain.raw);
  const parsed = { leaf, weak: weakKeyReason(leaf) };
  if (leaves.size >= MAX_PARSED_LEAVES) leaves.delete(leaves.keys().next().value as string);
  leaves.set(key, parsed);
  return parsed;
}

/**
 * Judge the client certificate of a completed handshake.
 * @param trusted the CA certificates of the server's bundle: a leaf they issue directly is a
 *   chain of 2, known without the costly walk of `getPeerCertificate(true)` (about 0.2 ms)
 * @param plain the socket's `getPeerCertificate(false)`, when the caller already has it
 * @returns the refusal, or null when the client may go on
 */
export function judgeClientCert(
  socket: TLSSocket,
  maxChainDepth: number,
  trusted: readonly X509Certificate[] = [],
  // Not getPeerX509Certificate(): on a server socket it makes a later
  // getPeerCertificate(true) return the leaf alone (Node 20), which the depth check needs.
  plain: PeerCertificate = socket.getPeerCertificate(false),
  revocation?: Revocation,
): CertRefusal | null {
  if (!plain.raw) return NO_CERT;
  if (!socket.authorized) return verifyRefusal(String(socket.authorizationError ?? 'UNAUTHORIZED'));
  const { leaf, weak } = parsedLeaf(plain);
  const crls = revocation?.crls ?? [];
  let issuer: X509Certificate | null | undefined;
  let chain: DetailedPeerCertificate[] | undefined;
  const issuingCa = (): X509Certificate | null =>
    (issuer ??= trusted.find((ca) => leaf.checkIssued(ca)) ?? null);
  if (maxChainDepth > 0) {
    const depth =
      maxChainDepth >= 2 && issuingCa()
        ? 2
        : (chain ??= chainOf(socket.getPeerCertificate(true))).length;
    if (depth > maxChainDepth)
      return {
        code: 'CHAIN_TOO_DEEP',
        text: `the client chain has ${depth} certificates (at most ${maxChainDepth})`,
      };
  }
  if (crls.length > 0) {
    // Issued by a root of the bundle: the leaf is the only certificate to look up.
    const ca = issuingCa();
    const certs =
      ca && ca.checkIssued(ca)
        ? [leaf]
        : (chain ??= chainOf(socket.getPeerCertificate(true)))
            .slice(0, Math.max(1, chain.length - 1))
            .map((c, i) => (i === 0 ? leaf : new X509Certificate(c.raw)));
    const revoked = revocationRefusal(certs, crls);
    if (revoked) return revoked;
  }
  if (weak) return { code: 'WEAK_CLIENT_KEY', text: `the client key is too weak: ${weak}` };
  return null;
}
