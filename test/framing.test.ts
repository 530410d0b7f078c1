import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../src/errors/index.js';
import { LineDecoder, MAX_LINE_BYTES, encodeLine } from '../src/protocol/framing.js';

const b = (s: string | number[]): Buffer =>
  typeof s === 'string' ? Buffer.from(s, 'utf8') : Buffer.from(s);

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ProtocolError);
    return (err as ProtocolError).code;
  }
  return undefined;
}

describe('LineDecoder', () => {
  it('joins a line split over many reads', () => {
    const d = new LineDecoder();
    expect(d.push(b('HEL'))).toEqual([]);
    expect(d.push(b('LO'))).toEqual([]);
    expect(d.buffered).toBe(5);
    expect(d.push(b('\n'))).toEqual(['HELLO']);
    expect(d.buffered).toBe(0);
  });

  it('splits several lines arriving in one read, keeping the rest', () => {
    const d = new LineDecoder();
    expect(d.push(b('HELLO\nWORK abc 4\nDO'))).toEqual(['HELLO', 'WORK abc 4']);
    expect(d.push(b('NE\n'))).toEqual(['DONE']);
  });

  it('delivers empty lines', () => {
    expect(new LineDecoder().push(b('\n\nX\n'))).toEqual(['', '', 'X']);
  });

  it('feeds byte by byte', () => {
    const d = new LineDecoder();
    const out: string[] = [];
    for (const byte of b('FULL_NAME LGTk\nOK\n')) out.push(...d.push(Uint8Array.of(byte)));
    expect(out).toEqual(['FULL_NAME LGTk', 'OK']);
  });

  it('accepts a line of exactly 1000 bytes including its newline', () => {
    const text = 'a'.repeat(MAX_LINE_BYTES - 1);
    expect(new LineDecoder().push(b(`${text}\n`))).toEqual([text]);
    // The same, split across reads.
    const d = new LineDecoder();
    expect(d.push(b(text))).toEqual([]);
    expect(d.push(b('\n'))).toEqual([text]);
  });

  it('rejects a line of 1001 bytes including its newline', () => {
    const text = 'a'.repeat(MAX_LINE_BYTES);
    expect(code(() => new LineDecoder().push(b(`${text}\n`)))).toBe('TLSLP_ERR_LINE_TOO_LONG');
    const d = new LineDecoder();
    d.push(b(text.slice(0, 500)));
    expect(code(() => d.push(b(`${text.slice(500)}\n`)))).toBe('TLSLP_ERR_LINE_TOO_LONG');
  });

  it('stops buffering once a line cannot end within the limit', () => {
    const d = new LineDecoder();
    d.push(b('a'.repeat(999)));
    expect(code(() => d.push(b('a')))).toBe('TLSLP_ERR_LINE_TOO_LONG');
    // A huge chunk without a newline is refused at once, not buffered.
    expect(code(() => new LineDecoder().push(Buffer.alloc(100_000, 0x61)))).toBe(
      'TLSLP_ERR_LINE_TOO_LONG',
    );
  });

  it('counts bytes, not characters', () => {
    const text = 'é'.repeat(500); // 1000 bytes
    expect(code(() => new LineDecoder().push(b(`${text}\n`)))).toBe('TLSLP_ERR_LINE_TOO_LONG');
    expect(new LineDecoder().push(b(`${'é'.repeat(499)}a\n`))).toEqual([`${'é'.repeat(499)}a`]);
  });

  it('rejects invalid UTF-8', () => {
    expect(code(() => new LineDecoder().push(b([0x48, 0xff, 0x0a])))).toBe(
      'TLSLP_ERR_INVALID_UTF8',
    );
    // A truncated multi-byte sequence before the newline.
    expect(code(() => new LineDecoder().push(b([0xc3, 0x0a])))).toBe('TLSLP_ERR_INVALID_UTF8');
    // An overlong encoding of '/'.
    expect(code(() => new LineDecoder().push(b([0xc0, 0xaf, 0x0a])))).toBe(
      'TLSLP_ERR_INVALID_UTF8',
    );
  });

  it('accepts a multi-byte character split across reads', () => {
    const d = new LineDecoder();
    const bytes = b('café\n');
    expect(d.push(bytes.subarray(0, 4))).toEqual([]);
    expect(d.push(bytes.subarray(4))).toEqual(['café']);
  });

  it('honours a custom limit', () => {
    const d = new LineDecoder(4);
    expect(d.push(b('abc\n'))).toEqual(['abc']);
    expect(code(() => d.push(b('abcd\n')))).toBe('TLSLP_ERR_LINE_TOO_LONG');
  });
});

describe('encodeLine', () => {
  it('adds the newline', () => {
    expect(encodeLine('HELLO').toString()).toBe('HELLO\n');
  });
  it('refuses embedded newlines and overlong lines', () => {
    expect(code(() => encodeLine('a\nb'))).toBe('TLSLP_ERR_NEWLINE_IN_MESSAGE');
    expect(code(() => encodeLine('a'.repeat(1000)))).toBe('TLSLP_ERR_LINE_TOO_LONG');
    expect(encodeLine('a'.repeat(999)).length).toBe(1000);
  });
});
