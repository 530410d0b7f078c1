/**
 * Property tests (fast-check) of the line decoder and the message parsers: what must hold
 * for every input, not only for the examples in framing.test.ts and messages.test.ts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../src/errors/index.js';
import { LineDecoder, MAX_LINE_BYTES, encodeLine } from '../src/protocol/framing.js';
import {
  BODY_COMMANDS,
  MAX_N_BITS,
  formatBodyReply,
  formatServerMessage,
  isBodyCommand,
  isValidArg,
  isValidToken,
  parseBodyReply,
  parseServerMessage,
  parseSuffixReply,
  type ServerMessage,
} from '../src/protocol/messages.js';
import { codeOf as codeOfType } from './helpers.js';

const RUNS = { numRuns: 300 };
const MAX_CONTENT = MAX_LINE_BYTES - 1; // 999 bytes of content, then '\n'

const utf8Length = (s: string): number => Buffer.byteLength(s, 'utf8');

/** Characters of every UTF-8 length, and the ones that trip decoders up. */
const tricky = fc.constantFrom(
  'a',
  ' ',
  '\r',
  '\t',
  '\u0000',
  '\u007f',
  'é',
  '\u0080',
  '€',
  '\u2028',
  '\uffff',
  '😀',
  '\u{10ffff}',
  '\ufeff',
);

/**
 * A valid line: UTF-8 text without '\n', at most 999 bytes. A leading U+FEFF is left out
 * here: the decoder drops it (see the known-bug test below).
 */
const validLine: fc.Arbitrary<string> = fc
  .oneof(
    { weight: 4, arbitrary: fc.string({ unit: 'binary', maxLength: 60 }) },
    { weight: 2, arbitrary: fc.string({ unit: tricky, maxLength: 40 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 30 }) },
    // Lines at and near the limit, with multi-byte characters straddling it.
    {
      weight: 1,
      arbitrary: fc
        .tuple(
          fc.integer({ min: 900, max: MAX_CONTENT }),
          fc.constantFrom('a', 'é', '€', '😀'),
          fc.constantFrom('', 'é', '€', '😀', 'z'),
        )
        .map(([bytes, fill, tail]) => {
          const body = fill.repeat(Math.floor((bytes - utf8Length(tail)) / utf8Length(fill)));
          return body + tail;
        }),
    },
  )
  .map((s) => s.replace(/\n/g, ''))
  .filter((s) => utf8Length(s) <= MAX_CONTENT && !s.startsWith('\ufeff'));

/** Cut `bytes` at arbitrary points (inside multi-byte characters too). */
function chunked(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [
    ...new Set(cuts.map((c) => (bytes.length === 0 ? 0 : c % (bytes.length + 1)))),
  ].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const p of points) {
    chunks.push(bytes.subarray(from, p));
    from = p;
  }
  chunks.push(bytes.subarray(from));
  return chunks;
}

const cutPoints = fc.oneof(
  { weight: 6, arbitrary: fc.array(fc.nat(), { maxLength: 30 }) },
  // Sometimes every byte on its own.
  { weight: 1, arbitrary: fc.constant(Array.from({ length: 4000 }, (_, i) => i)) },
);

/** A cheap check for hot loops (expect() costs more than the decoder). */
function check(ok: boolean, what: () => string): void {
  if (!ok) throw new Error(what());
}

/** The ProtocolError code `fn` throws (the shared helper, bound to the class). */
const codeOf = (fn: () => unknown): string | undefined => codeOfType(fn, ProtocolError);

describe('LineDecoder (properties)', () => {
  it('yields exactly the lines sent, however the bytes are split', () => {
    fc.assert(
      fc.property(fc.array(validLine, { maxLength: 12 }), cutPoints, (lines, cuts) => {
        const bytes = Buffer.from(lines.map((l) => `${l}\n`).join(''), 'utf8');
        const decoder = new LineDecoder();
        const got: string[] = [];
        for (const chunk of chunked(bytes, cuts)) {
          got.push(...decoder.push(chunk));
          check(decoder.buffered < MAX_LINE_BYTES, () => `buffered ${decoder.buffered}`);
        }
        expect(got).toEqual(lines);
        expect(decoder.buffered).toBe(0);
      }),
      RUNS,
    );
  });

  it('encodeLine and the decoder agree on every valid line', () => {
    fc.assert(
      fc.property(validLine, (line) => {
        const encoded = encodeLine(line);
        expect(encoded.length).toBeLessThanOrEqual(MAX_LINE_BYTES);
        expect(new LineDecoder().push(encoded)).toEqual([line]);
      }),
      RUNS,
    );
  });

  it('rejects any line of more than 999 content bytes with LINE_TOO_LONG, newline or not', () => {
    const overlong = fc
      .tuple(
        fc.integer({ min: MAX_LINE_BYTES, max: 5000 }),
        fc.constantFrom('a', 'é', '€', '😀', 'x y'),
      )
      .map(([bytes, fill]) => fill.repeat(Math.ceil(bytes / utf8Length(fill))));
    fc.assert(
      fc.property(
        fc.array(validLine, { maxLength: 4 }),
        overlong,
        fc.boolean(),
        cutPoints,
        (before, long, newline, cuts) => {
          expect(utf8Length(long)).toBeGreaterThan(MAX_CONTENT);
          const text = before.map((l) => `${l}\n`).join('') + long + (newline ? '\n' : '');
          const decoder = new LineDecoder();
          const got: string[] = [];
          let code: string | undefined;
          for (const chunk of chunked(Buffer.from(text, 'utf8'), cuts)) {
            code = codeOf(() => got.push(...decoder.push(chunk)));
            if (code) break;
          }
          expect(code).toBe('TLSLP_ERR_LINE_TOO_LONG');
          // Lines completed before the long one came through (those of the failing chunk may not).
          expect(before.slice(0, got.length)).toEqual(got);
        },
      ),
      RUNS,
    );
  });

  it('byte soup: only ProtocolError is ever thrown, and never 1000 bytes are buffered', () => {
    const byte = fc.oneof(
      { weight: 1, arbitrary: fc.constant(0x0a) },
      { weight: 1, arbitrary: fc.integer({ min: 0x80, max: 0xff }) },
      { weight: 4, arbitrary: fc.integer({ min: 0, max: 0xff }) },
    );
    const soup = fc.oneof(
      fc.array(byte, { maxLength: 3000 }).map((b) => Buffer.from(b)),
      // Long runs without a newline.
      fc.integer({ min: 0, max: 4000 }).map((n) => Buffer.alloc(n, 0x41)),
    );
    fc.assert(
      fc.property(fc.array(soup, { minLength: 1, maxLength: 4 }), cutPoints, (parts, cuts) => {
        const decoder = new LineDecoder();
        // Keep pushing even after an error: the state must stay bounded whatever the caller does.
        for (const chunk of chunked(Buffer.concat(parts), cuts)) {
          const code = codeOf(() => decoder.push(chunk));
          check(
            code === undefined ||
              code === 'TLSLP_ERR_LINE_TOO_LONG' ||
              code === 'TLSLP_ERR_INVALID_UTF8',
            () => `unexpected code ${code}`,
          );
          check(
            decoder.buffered >= 0 && decoder.buffered < MAX_LINE_BYTES,
            () => `buffered ${decoder.buffered}`,
          );
        }
      }),
      RUNS,
    );
  });

  it('every line it yields is well-formed UTF-8 without a newline', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), cutPoints, (bytes, cuts) => {
        const decoder = new LineDecoder();
        for (const chunk of chunked(Buffer.from(bytes), cuts)) {
          let lines: string[] = [];
          if (codeOf(() => (lines = decoder.push(chunk))) !== undefined) return;
          for (const l of lines) {
            check(!l.includes('\n'), () => `newline in ${JSON.stringify(l)}`);
            check(
              Buffer.from(l, 'utf8').toString('utf8') === l,
              () => `not well-formed: ${JSON.stringify(l)}`,
            ); // no lone surrogates
            check(utf8Length(l) <= MAX_CONTENT, () => `line of ${utf8Length(l)} bytes`);
          }
        }
      }),
      RUNS,
    );
  });

  // Known bug (reported): TextDecoder's default ignoreBOM:false drops a leading U+FEFF from
  // every line, so "\uFEFFHELLOBACK" is accepted as "HELLOBACK". The fix is
  // `new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })`; then turn this into `it`
  // and drop the `!s.startsWith('\ufeff')` filter of validLine above.
  it('keeps a leading U+FEFF', () => {
    expect(new LineDecoder().push(Buffer.from('\ufeffHELLOBACK\n', 'utf8'))).toEqual([
      '\ufeffHELLOBACK',
    ]);
  });
});

// ---------------------------------------------------------------------------------------------

const token = fc.stringMatching(/^[A-Za-z0-9_-]{1,128}$/);
const arg = fc.string({ unit: 'binary', minLength: 1, maxLength: 128 }).filter(isValidArg);
const noNewline = (max: number): fc.Arbitrary<string> =>
  fc.string({ unit: 'binary', maxLength: max }).map((s) => s.replace(/\n/g, ''));

const serverMessage: fc.Arbitrary<ServerMessage> = fc.oneof(
  fc.constant<ServerMessage>({ type: 'HELLO' }),
  fc.constant<ServerMessage>({ type: 'DONE' }),
  fc.record({
    type: fc.constant('WORK' as const),
    token,
    nBits: fc.integer({ min: 0, max: MAX_N_BITS }),
  }),
  fc.record({
    type: fc.constant('BODY' as const),
    command: fc.constantFrom(...BODY_COMMANDS),
    arg,
  }),
  fc.record({ type: fc.constant('FAIL' as const), reason: noNewline(200) }),
);

/** Strings that look like server lines, broken in every way, plus plain noise. */
const lineish: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc.string({ unit: tricky, maxLength: 20 }),
  fc
    .tuple(
      fc.constantFrom(
        'HELLO',
        'DONE',
        'FAIL',
        'WORK',
        'work',
        'HELLOBACK',
        'OK',
        '',
        ' ',
        ...BODY_COMMANDS,
      ),
      fc.array(
        fc.oneof(
          token,
          fc.string({ unit: 'binary', maxLength: 10 }),
          fc.constantFrom(
            '',
            ' ',
            '0',
            '00',
            '07',
            '-1',
            '64',
            '65',
            '99',
            '100',
            '1e1',
            '0x10',
            '6.0',
            'NaN',
            'Infinity',
            '٣',
            '１',
          ),
          fc.integer({ min: -5, max: 200 }).map(String),
          fc.stringMatching(/^[A-Za-z0-9_-]{120,140}$/),
        ),
        { maxLength: 4 },
      ),
      fc.constantFrom(' ', '  ', '\t'),
    )
    .map(([cmd, parts, sep]) => [cmd, ...parts].join(sep)),
);

function parsesOrProtocolError<T>(parse: (line: string) => T, line: string): T | null {
  try {
    return parse(line);
  } catch (err) {
    expect(err).toBeInstanceOf(ProtocolError);
    return null;
  }
}

describe('message parsers (properties)', () => {
  it('parseServerMessage(formatServerMessage(m)) gives m back for every valid message', () => {
    fc.assert(
      fc.property(serverMessage, (m) => {
        const line = formatServerMessage(m);
        expect(parseServerMessage(line)).toEqual(m);
        // And every valid message fits on a line.
        expect(() => encodeLine(line)).not.toThrow();
      }),
      RUNS,
    );
  });

  it('parseBodyReply(formatBodyReply(c, v)) gives c and v back', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[0-9a-f]{64}$/), noNewline(300), (checksum, value) => {
        expect(parseBodyReply(formatBodyReply(checksum, value))).toEqual({ checksum, value });
      }),
      RUNS,
    );
  });

  it('parseSuffixReply accepts exactly the valid suffixes', () => {
    fc.assert(
      fc.property(fc.oneof(token, lineish), (s) => {
        const got = parsesOrProtocolError(parseSuffixReply, s);
        expect(got === s).toBe(isValidToken(s));
      }),
      RUNS,
    );
  });

  it('parseServerMessage: any string parses to a valid message or throws ProtocolError', () => {
    fc.assert(
      fc.property(lineish, (line) => {
        const m = parsesOrProtocolError(parseServerMessage, line);
        if (m === null) return;
        switch (m.type) {
          case 'HELLO':
          case 'DONE':
            expect(line).toBe(m.type);
            break;
          case 'WORK':
            expect(isValidToken(m.token)).toBe(true);
            expect(Number.isInteger(m.nBits)).toBe(true);
            expect(m.nBits).toBeGreaterThanOrEqual(0);
            expect(m.nBits).toBeLessThanOrEqual(MAX_N_BITS);
            break;
          case 'BODY':
            expect(isBodyCommand(m.command)).toBe(true);
            expect(isValidArg(m.arg)).toBe(true);
            break;
          case 'FAIL':
            expect(line.startsWith('FAIL')).toBe(true);
            break;
        }
        // What parses is canonical: formatting and parsing again changes nothing.
        expect(parseServerMessage(formatServerMessage(m))).toEqual(m);
      }),
      { numRuns: 500 },
    );
  });

  it('a parsed WORK always has a valid token and 0 <= n_bits <= 64', () => {
    const bits = fc.oneof(
      fc.integer({ min: -100, max: 200 }).map(String),
      fc.constantFrom('', '00', '07', '1e1', '0x10', '6.0', '+6', ' 6', '6 ', '٣', 'NaN'),
      fc.string({ maxLength: 4 }),
    );
    const tok = fc.oneof(
      token,
      fc.string({ unit: 'binary', maxLength: 140 }),
      fc.stringMatching(/^[A-Za-z0-9_-]{125,135}$/),
    );
    fc.assert(
      fc.property(tok, bits, (t, b) => {
        const m = parsesOrProtocolError(parseServerMessage, `WORK ${t} ${b}`);
        if (m === null) return;
        expect(m.type).toBe('WORK');
        if (m.type !== 'WORK') return;
        expect(isValidToken(m.token)).toBe(true);
        expect(m.token).toBe(t);
        expect(Number.isInteger(m.nBits) && m.nBits >= 0 && m.nBits <= MAX_N_BITS).toBe(true);
        expect(String(m.nBits)).toBe(b);
      }),
      RUNS,
    );
  });

  it('parseBodyReply: any string parses (64 lowercase hex, then the rest) or throws ProtocolError', () => {
    const reply = fc.oneof(
      lineish,
      fc
        .tuple(
          fc.stringMatching(/^[0-9a-fA-F]{62,66}$/),
          fc.constantFrom(' ', '', '  ', '\t'),
          noNewline(40),
        )
        .map(([c, s, v]) => c + s + v),
    );
    fc.assert(
      fc.property(reply, (line) => {
        const r = parsesOrProtocolError(parseBodyReply, line);
        if (r === null) return;
        expect(r.checksum).toMatch(/^[0-9a-f]{64}$/);
        expect(formatBodyReply(r.checksum, r.value) === line || line === r.checksum).toBe(true);
      }),
      RUNS,
    );
  });
});
