/**
 * The texts after `FAIL ` that the server sends (docs/protocol.md): part of the wire contract,
 * so both sides read them from here (the client tells a protocol FAIL from a drawn one by them).
 * @module
 */

/** The FAIL reasons a client may see (short, no secrets). The first two are the original's. */
export const FAIL_REASONS = {
  /** The WORK answer is malformed or does not have enough trailing zero bits. */
  badSuffix: 'Invalid suffix returned from client.',
  /** A body reply does not start with the right SHA-256 checksum. */
  badChecksum: 'Invalid checksum received.',
  /** The answer to HELLO was not `HELLOBACK`. */
  badHello: 'Expected HELLOBACK.',
  /** The answer to DONE was not `OK`. */
  badOk: 'Expected OK.',
  /** A line passed the 1000-byte limit. */
  lineTooLong: 'Line too long.',
  /** A line was not valid UTF-8. */
  invalidUtf8: 'Invalid UTF-8.',
  /** The client sent lines it was not asked for. */
  flood: 'Unexpected lines.',
  /** The client did not answer within the step's timeout. */
  timeout: 'Timed out.',
  /** Any other malformed reply. */
  badReply: 'Malformed reply.',
  /** The client certificate is on none of the allow-lists (sent before HELLO). */
  notAuthorized: 'Not authorized.',
  /** The client certificate already has `maxPerIdentity` sessions (sent before HELLO). */
  maxPerIdentity: 'Too many sessions for this certificate.',
  /** The client certificate is revoked: the CRL lists it (sent before HELLO). */
  certRevoked: 'Certificate revoked.',
  /** The client chain is longer than `maxChainDepth` (sent before HELLO). */
  chainTooDeep: 'Certificate chain too long.',
  /** The client key is weaker than RSA-2048 or EC P-256 (sent before HELLO). */
  weakKey: 'Certificate key too weak.',
  /** The server's CRL cannot say (past its nextUpdate, or none of the issuing CA): before HELLO. */
  revocationUnknown: 'Certificate revocation status unknown.',
  /** Any other refusal of the certificate after the handshake (sent before HELLO). */
  certRefused: 'Certificate refused.',
} as const;
