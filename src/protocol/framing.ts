/**
 * Line framing (docs/protocol.md §2): one UTF-8 line per message, terminated by `\n`, at most
 * 1000 bytes including the `\n`. Pure: knows nothing of sockets.
 * @module
 */
import { ProtocolError } from '../errors/index.js';

/** Largest line in bytes, counting its terminating `\n`. */
export const MAX_LINE_BYTES = 1000;

const NEWLINE = 0x0a;

/**
 * A streaming line decoder. Feed it chunks as they arrive; it returns the complete lines
 * (without `\n`) and keeps the unfinished rest, which never grows past the line limit.
 *
 * @example
 * ```ts
 * const d = new LineDecoder();
 * d.push(Buffer.from('HEL'));          // []
 * d.push(Buffer.from('LO\nWORK a 1\n')); // ['HELLO', 'WORK a 1']
 * ```
 */
export class LineDecoder {
  private readonly maxLineBytes: number;
  // ignoreBOM: a leading U+FEFF belongs to the line; dropping it would let `\uFEFFHELLOBACK` pass as HELLOBACK.
  private readonly utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(maxLineBytes = MAX_LINE_BYTES) {
    this.maxLineBytes = maxLineBytes;
  }

  /** Bytes held that do not yet form a complete line. */
  get buffered(): number {
    return this.pendingBytes;
  }

  /**
   * Add a chunk; return the lines it completes.
   * @throws ProtocolError `LINE_TOO_LONG` or `INVALID_UTF8`.
   */
  push(chunk: Uint8Array): string[] {
    const lines: string[] = [];
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(NEWLINE, start);
      if (nl === -1) break;
      const piece = chunk.subarray(start, nl);
      // The limit counts the `\n`, so content may be at most max - 1 bytes.
      if (this.pendingBytes + piece.length + 1 > this.maxLineBytes)
        throw tooLong(this.maxLineBytes);
      const bytes = this.pendingBytes === 0 ? piece : Buffer.concat([...this.pending, piece]);
      this.pending = [];
      this.pendingBytes = 0;
      lines.push(this.decode(bytes));
      start = nl + 1;
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      // A line that already holds max bytes without `\n` can only end over the limit:
      // refuse it now instead of buffering more.
      if (this.pendingBytes + rest.length >= this.maxLineBytes) throw tooLong(this.maxLineBytes);
      this.pending.push(Buffer.from(rest));
      this.pendingBytes += rest.length;
    }
    return lines;
  }

  private decode(bytes: Uint8Array): string {
    try {
      return this.utf8.decode(bytes);
    } catch {
      throw new ProtocolError('TLSLP_ERR_INVALID_UTF8');
    }
  }
}

function tooLong(max: number): ProtocolError {
  return new ProtocolError('TLSLP_ERR_LINE_TOO_LONG', { max });
}

/**
 * Encode one message as a line.
 * @throws ProtocolError when the text holds a `\n` or the line would pass the limit.
 */
export function encodeLine(text: string, maxLineBytes = MAX_LINE_BYTES): Buffer {
  if (text.includes('\n')) throw new ProtocolError('TLSLP_ERR_NEWLINE_IN_MESSAGE');
  const line = Buffer.from(`${text}\n`, 'utf8');
  if (line.length > maxLineBytes) throw tooLong(maxLineBytes);
  return line;
}
