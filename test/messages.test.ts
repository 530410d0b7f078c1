import { describe, expect, it } from 'vitest';
import { ProtocolError, ServerFailError } from '../src/errors/index.js';
import { MAX_LINE_BYTES } from '../src/protocol/framing.js';
import {
  BODY_COMMANDS,
  formatBodyReply,
  formatServerMessage,
  isValidArg,
  isValidToken,
  parseBodyReply,
  parseServerMessage,
  parseSuffixReply,
  splitCommand,
  type ServerMessage,
} from '../src/protocol/messages.js';
import { drawBodyCommand, randomToken } from '../src/protocol/random.js';
import { T } from './fixtures/vectors.js';
import { codeOf as codeOfType } from './helpers.js';

/** The ProtocolError code `fn` throws (the shared helper, bound to the class). */
const codeOf = (fn: () => unknown): string | undefined => codeOfType(fn, ProtocolError);

describe('parseServerMessage', () => {
  it('parses every valid message and formats it back', () => {
    const lines = [
      'HELLO',
      `WORK ${T} 28`,
      'WORK a 0',
      'WORK a 64',
      'DONE',
      'FAIL Invalid checksum received.',
      'FAIL ',
    ];
    for (const c of BODY_COMMANDS) lines.push(`${c} LGTk`);
    for (const line of lines) {
      const m = parseServerMessage(line);
      expect(formatServerMessage(m)).toBe(line);
    }
    expect(parseServerMessage(`WORK ${T} 28`)).toEqual({ type: 'WORK', token: T, nBits: 28 });
    expect(parseServerMessage('EMAIL1 LGTk')).toEqual({
      type: 'BODY',
      command: 'EMAIL1',
      arg: 'LGTk',
    });
    expect(parseServerMessage('FAIL some reason here')).toEqual({
      type: 'FAIL',
      reason: 'some reason here',
    });
    expect(parseServerMessage('FAIL')).toEqual({ type: 'FAIL', reason: '' });
  });

  it('rejects unknown and malformed commands', () => {
    expect(codeOf(() => parseServerMessage('HELO'))).toBe('TLSLP_ERR_UNKNOWN_COMMAND');
    expect(codeOf(() => parseServerMessage(''))).toBe('TLSLP_ERR_UNKNOWN_COMMAND');
    expect(codeOf(() => parseServerMessage('hello'))).toBe('TLSLP_ERR_UNKNOWN_COMMAND');
    expect(codeOf(() => parseServerMessage('RM -rf'))).toBe('TLSLP_ERR_UNKNOWN_COMMAND');
    expect(codeOf(() => parseServerMessage('HELLO there'))).toBe('TLSLP_ERR_BAD_MESSAGE');
    expect(codeOf(() => parseServerMessage('DONE '))).toBe('TLSLP_ERR_BAD_MESSAGE');
  });

  it('validates WORK tokens', () => {
    expect(codeOf(() => parseServerMessage('WORK 28'))).toBe('TLSLP_ERR_BAD_WORK');
    expect(codeOf(() => parseServerMessage('WORK'))).toBe('TLSLP_ERR_BAD_WORK');
    expect(codeOf(() => parseServerMessage('WORK a  28'))).toBe('TLSLP_ERR_BAD_WORK');
    expect(codeOf(() => parseServerMessage('WORK a 28 x'))).toBe('TLSLP_ERR_BAD_WORK');
    expect(codeOf(() => parseServerMessage('WORK a;rm 28'))).toBe('TLSLP_ERR_BAD_WORK_TOKEN');
    expect(codeOf(() => parseServerMessage('WORK ../x 28'))).toBe('TLSLP_ERR_BAD_WORK_TOKEN');
    expect(codeOf(() => parseServerMessage(`WORK ${'a'.repeat(129)} 28`))).toBe(
      'TLSLP_ERR_BAD_WORK_TOKEN',
    );
    expect(parseServerMessage(`WORK ${'a'.repeat(128)} 1`)).toMatchObject({ type: 'WORK' });
    expect(codeOf(() => parseServerMessage('WORK tökén 8'))).toBe('TLSLP_ERR_BAD_WORK_TOKEN');
  });

  it('validates WORK n_bits: integers 0..64 only', () => {
    for (const bad of ['65', '-1', '1.5', '', 'x', '028', '1e1', '999999999999', ' 8']) {
      expect(
        codeOf(() => parseServerMessage(`WORK abc ${bad}`)),
        bad,
      ).toMatch(/BAD_N_BITS|BAD_WORK/);
    }
  });

  it('validates body arguments', () => {
    expect(codeOf(() => parseServerMessage('EMAIL1'))).toBe('TLSLP_ERR_BAD_ARGUMENT');
    expect(codeOf(() => parseServerMessage('EMAIL1 '))).toBe('TLSLP_ERR_BAD_ARGUMENT');
    expect(codeOf(() => parseServerMessage('EMAIL1 a b'))).toBe('TLSLP_ERR_BAD_ARGUMENT');
    expect(codeOf(() => parseServerMessage('EMAIL1 a\tb'))).toBe('TLSLP_ERR_BAD_ARGUMENT');
    expect(codeOf(() => parseServerMessage('EMAIL1 a\u0085b'))).toBe('TLSLP_ERR_BAD_ARGUMENT');
  });

  it('takes a body argument of any length the framing allows', () => {
    const arg = 'x'.repeat(MAX_LINE_BYTES - 'EMAIL1 \n'.length);
    expect(parseServerMessage(`EMAIL1 ${arg}`)).toEqual({ type: 'BODY', command: 'EMAIL1', arg });
    expect(isValidArg('a'.repeat(129))).toBe(true);
  });
});

describe('client replies', () => {
  it('parses suffixes', () => {
    expect(parseSuffixReply('TlVR_')).toBe('TlVR_');
    for (const bad of ['', 'a b', 'a+b', 'é', 'a'.repeat(129)])
      expect(codeOf(() => parseSuffixReply(bad))).toBe('TLSLP_ERR_BAD_SUFFIX');
  });

  it('parses body replies, splitting at the first space only', () => {
    const sum = '28295607f05351eb24707046f3fa046e8a7afdabb32e6f0fba3de596cbf7c27b';
    expect(parseBodyReply(`${sum} jane@example.com`)).toEqual({
      checksum: sum,
      value: 'jane@example.com',
    });
    expect(parseBodyReply(`${sum} Jane  Doe `)).toEqual({ checksum: sum, value: 'Jane  Doe ' });
    expect(parseBodyReply(sum)).toEqual({ checksum: sum, value: '' });
    expect(formatBodyReply(sum, 'Jane Doe')).toBe(`${sum} Jane Doe`);
    expect(codeOf(() => parseBodyReply(`${sum.toUpperCase()} x`))).toBe(
      'TLSLP_ERR_BAD_CHECKSUM_FORMAT',
    );
    expect(codeOf(() => parseBodyReply(`${sum.slice(1)} x`))).toBe('TLSLP_ERR_BAD_CHECKSUM_FORMAT');
    expect(codeOf(() => parseBodyReply(''))).toBe('TLSLP_ERR_BAD_CHECKSUM_FORMAT');
  });

  it('splits at the first space', () => {
    expect(splitCommand('A B C')).toEqual({ command: 'A', arg: 'B C' });
    expect(splitCommand('A')).toEqual({ command: 'A', arg: undefined });
  });
});

describe('random tokens and draws', () => {
  it('makes valid tokens of the asked length, different each time', () => {
    const a = randomToken(64);
    const b = randomToken(64);
    expect(a).toHaveLength(64);
    expect(isValidToken(a)).toBe(true);
    expect(a).not.toBe(b);
    expect(isValidArg(randomToken(8))).toBe(true);
  });

  it('draws every command and FAIL, and no FAIL when asked', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) seen.add(drawBodyCommand());
    expect([...seen].sort()).toEqual([...BODY_COMMANDS, 'FAIL'].sort());
    for (let i = 0; i < 500; i++) expect(drawBodyCommand(false)).not.toBe('FAIL');
  });

  it('formats every message kind', () => {
    const all: ServerMessage[] = [
      { type: 'HELLO' },
      { type: 'DONE' },
      { type: 'FAIL', reason: 'x' },
    ];
    expect(all.map(formatServerMessage)).toEqual(['HELLO', 'DONE', 'FAIL x']);
  });
});

describe('ServerFailError', () => {
  it('names the reason, and leaves no dangling colon for a bare FAIL', () => {
    expect(new ServerFailError('OkQ6Cbyz').message).toBe('server sent FAIL: OkQ6Cbyz');
    expect(new ServerFailError('').message).toBe('server sent FAIL');
    expect(parseServerMessage('FAIL')).toEqual({ type: 'FAIL', reason: '' });
  });
});
