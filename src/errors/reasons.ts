/**
 * The `reason` labels of the server's failure metrics: bounded, listed sets (a Prometheus
 * label must not take whatever text a peer or OpenSSL produces). Anything not listed is
 * counted as `other`; the log line keeps the detail.
 * @module
 */
import { ERROR_CATALOG, type ErrorCode } from './catalog.js';

/** The catch-all label. */
export const OTHER_REASON = 'other';

const SESSION_REASONS = {
  bad_hello: 'the answer to HELLO was not HELLOBACK',
  bad_suffix: 'the answer to WORK was malformed or did not solve it',
  bad_checksum: 'a body reply had a malformed or wrong checksum',
  bad_ok: 'the answer to DONE was not OK',
  line_too_long: 'a line passed the length limit',
  invalid_utf8: 'a line was not valid UTF-8',
  flood: 'the client sent lines it was not asked for',
  timeout: 'the client did not answer within the step timeout',
  closed: 'the client closed the connection early',
  not_reading: 'the client stopped reading',
  aborted: 'the server shut down during the session',
  connection_reset: 'the client reset the connection',
  broken_pipe: 'the client went away while a line was written',
  not_authorized: 'the certificate is on no allow-list (before HELLO)',
  max_per_identity: 'the certificate already had maxPerIdentity sessions',
  [OTHER_REASON]: 'any other failure (the WARNING log line has the detail)',
} as const;

/**
 * `tlslp_sessions_failed_total{reason}` (and `server.stats.failedByReason`): the session
 * outcome's catalog code without `TLSLP_ERR_`, lowercased, and what each label means. Typed
 * as a mapped type (as `ERROR_CATALOG` is) so the labels stay exact without the API
 * reference listing each one as an undocumented property.
 */
export const SESSION_FAILURE_REASONS: {
  readonly [R in keyof typeof SESSION_REASONS]: (typeof SESSION_REASONS)[R];
} = SESSION_REASONS;

/** A label of {@link SESSION_FAILURE_REASONS}. */
export type SessionFailureReason = keyof typeof SESSION_FAILURE_REASONS;

const HANDSHAKE_REASONS = {
  handshake_timeout: 'no TLS handshake within the (possibly shrunk) handshake deadline',
  handshake_too_large: 'the client sent more than maxHandshakeBytes without finishing',
  closed_early: 'the client closed the connection during the handshake',
  proxy_header_untrusted: 'a PROXY protocol header came from a source not in proxyFrom',
  no_client_cert: 'the client sent no certificate',
  chain_too_deep: 'the client chain has more certificates than maxChainDepth',
  weak_client_key: 'the client key is below RSA-2048 or EC P-256',
  cert_has_expired: 'the client certificate has expired',
  cert_not_yet_valid: 'the client certificate is not valid yet',
  revoked: 'the client certificate is revoked: the CRL (--crl) lists it',
  crl_expired:
    "the server's CRL (--crl) is past its nextUpdate: every client is refused until it is re-signed (the server's problem, not the client's)",
  crl_has_expired:
    "OpenSSL's verdict for a CRL past its nextUpdate (the server checks its CRL itself: crl_expired)",
  unable_to_get_crl: 'no CRL of the CA that issued a certificate of the client chain',
  cert_signature_failure: 'a signature in the client chain does not verify',
  cert_untrusted: 'the client chain is not trusted',
  cert_rejected: 'the client chain is rejected',
  invalid_purpose: 'the client certificate is not for client authentication',
  unable_to_verify_leaf_signature: 'the client certificate is not issued by our CA',
  unable_to_get_issuer_cert: 'the issuer of a client certificate is unknown',
  unable_to_get_issuer_cert_locally: 'the issuer of the client certificate is not our CA',
  self_signed_cert_in_chain: 'the client chain ends in a root that is not ours',
  depth_zero_self_signed_cert: 'the client certificate is self-signed',
  cert_chain_too_long: "the client chain passes OpenSSL's depth limit",
  unauthorized: 'OpenSSL refused the client certificate without a reason',
  econnreset: 'the client reset the connection during the handshake',
  epipe: 'the client went away while the server wrote',
  ssl_wrong_version_number: 'the client does not speak TLS',
  ssl_http_request: 'the client spoke HTTP to the TLS port',
  ssl_unsupported_protocol: 'the client offers no TLS version the server accepts',
  ssl_no_shared_cipher: 'the client offers no cipher the server accepts',
  ssl_packet_length_too_long: 'the client sent a record that is not TLS',
  ssl_wrong_curve: "the client certificate's curve is outside OpenSSL's groups (EC P-224, …)",
  ssl_no_suitable_signature_algorithm: 'the client offers no signature scheme in common',
  ssl_unexpected_message: 'the client sent a handshake message out of order',
  ssl_unexpected_eof_while_reading: 'the client closed the connection mid-record',
  ssl_tlsv1_alert_unknown_ca: "the client does not trust the server's CA",
  ssl_sslv3_alert_bad_certificate: 'the client rejected the server certificate',
  ssl_sslv3_alert_certificate_unknown: 'the client rejected the server certificate',
  tls_handshake_timeout: "Node's own handshake timeout fired",
  [OTHER_REASON]: 'any other TLS error (the DEBUG log has its code and text)',
} as const;

/**
 * `tlslp_handshake_failures_total{reason}` (and `server.stats.handshakeFailuresByReason`):
 * the server's own verdicts, OpenSSL's verify codes for a refused client certificate, and
 * the usual socket and TLS errors, each lowercased with `ERR_` dropped as before; and what
 * each label means. A mapped type, as {@link SESSION_FAILURE_REASONS} is.
 */
export const HANDSHAKE_FAILURE_REASONS: {
  readonly [R in keyof typeof HANDSHAKE_REASONS]: (typeof HANDSHAKE_REASONS)[R];
} = HANDSHAKE_REASONS;

/** A label of {@link HANDSHAKE_FAILURE_REASONS}. */
export type HandshakeFailureReason = keyof typeof HANDSHAKE_FAILURE_REASONS;

const PREFIX = 'TLSLP_ERR_';

/** Codes counted under a label other than their own lowercased name. */
const RENAMED: Readonly<Record<string, HandshakeFailureReason>> = { cert_revoked: 'revoked' };

/** The label a failed session's catalog code is counted under. */
export function sessionFailureReason(code: ErrorCode | undefined): SessionFailureReason {
  if (code === undefined || !Object.hasOwn(ERROR_CATALOG, code)) return OTHER_REASON;
  const label = code.slice(PREFIX.length).toLowerCase();
  return Object.hasOwn(SESSION_FAILURE_REASONS, label)
    ? (label as SessionFailureReason)
    : OTHER_REASON;
}

/**
 * The label a failed handshake is counted under, from the server's verdict (`CHAIN_TOO_DEEP`)
 * or Node's / OpenSSL's code (`CERT_HAS_EXPIRED`, `ECONNRESET`, `ERR_SSL_…`); `CERT_REVOKED`
 * is counted as `revoked`.
 */
export function handshakeFailureReason(code: string | undefined): HandshakeFailureReason {
  if (!code) return OTHER_REASON;
  const label = code.toLowerCase().replace(/^err_/, '');
  const renamed = RENAMED[label];
  if (renamed) return renamed;
  return Object.hasOwn(HANDSHAKE_FAILURE_REASONS, label)
    ? (label as HandshakeFailureReason)
    : OTHER_REASON;
}
