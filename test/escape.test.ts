import { describe, expect, it } from 'vitest';
import { escapeControl, escapeJsonText, hasControl } from '../src/text/escape.js';

describe('escapeControl', () => {
  it('keeps clean text, non-ASCII letters included', () => {
    expect(escapeControl('Jane Doe — Zürich 東京')).toBe('Jane Doe — Zürich 東京');
    expect(hasControl('plain')).toBe(false);
  });

  it('escapes C0, ESC sequences and DEL', () => {
    expect(escapeControl('a\nb\rc\td')).toBe('a\\nb\\rc\\td');
    expect(escapeControl('\x1b]0;pwned\x07')).toBe('\\x1b]0;pwned\\x07');
    expect(escapeControl('\x1b[2J')).toBe('\\x1b[2J');
    expect(escapeControl('x\x7fy\x00')).toBe('x\\x7fy\\x00');
  });

  it('escapes C1 controls (CSI U+009B, NEL U+0085)', () => {
    expect(escapeControl('a\u009b2Jb')).toBe('a\\x9b2Jb');
    expect(escapeControl('line\u0085break')).toBe('line\\x85break');
    for (let c = 0x80; c <= 0x9f; c++) expect(hasControl(String.fromCharCode(c))).toBe(true);
    expect(hasControl('\u00a0')).toBe(false);
  });

  it('escapes bidi overrides, isolates and line separators', () => {
    expect(escapeControl('abc\u202Etxt.exe')).toBe('abc\\u202etxt.exe');
    expect(escapeControl('\u2066x\u2069')).toBe('\\u2066x\\u2069');
    expect(escapeControl('a\u2028b\u2029c')).toBe('a\\u2028b\\u2029c');
    expect(escapeControl('\u200f\u061c')).toBe('\\u200f\\u061c');
  });
});

describe('escapeJsonText', () => {
  it('writes what JSON.stringify leaves raw as \\u escapes that parse back', () => {
    const value = { msg: 'a\u0085b\u202Ec\u009bd\x7f' };
    const text = escapeJsonText(JSON.stringify(value));
    expect(hasControl(text)).toBe(false);
    expect(JSON.parse(text)).toEqual(value);
  });
});
