/**
 * `tlslp/protocol`: the wire format (docs/protocol.md): line framing, messages, the WORK hash
 * condition and the random draws, with no I/O.
 * @module
 */
export { LineDecoder, MAX_LINE_BYTES, encodeLine } from './framing.js';
export {
  BODY_COMMANDS,
  DONE_REPLY,
  HELLO_REPLY,
  MAX_N_BITS,
  MAX_TOKEN_LENGTH,
  formatBodyReply,
  formatServerMessage,
  isBodyCommand,
  isValidArg,
  isValidNBits,
  isValidSuffix,
  isValidToken,
  parseBodyReply,
  parseServerMessage,
  parseSuffixReply,
  splitCommand,
  type BodyCommand,
  type BodyReply,
  type ServerMessage,
} from './messages.js';
export { checksum, hasTrailingZeroBits, trailingZeroBits, verifyWork, workDigest } from './hash.js';
export { drawBodyCommand, randomToken, type BodyDraw } from './random.js';
