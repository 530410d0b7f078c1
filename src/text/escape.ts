/**
 * Escaping of text that came from a peer (a FAIL reason, a client's answer, a server line)
 * before it reaches a terminal or a log file. A hostile peer can send C0 controls (ESC starts
 * CSI/OSC sequences that clear the screen or set the window title), DEL, C1 controls (U+009B is
 * a one-byte CSI, U+0085 is a line break to some log readers), Unicode line separators and
 * bidirectional overrides (U+202E reverses what follows). Every one of them is written as a
 * visible escape, so a record stays on one line and shows what was really sent.
 * @module
 */

// C0 (tab included), DEL, C1, U+061C ALM, U+200E/F LRM/RLM, U+2028/9 separators,
// U+202A–U+202E embeddings/overrides, U+2066–U+2069 isolates, U+FEFF BOM/ZWNBSP.
const CLASS =
  '[\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u2028-\\u202e\\u2066-\\u2069\\ufeff]';
const UNSAFE = new RegExp(CLASS);
const UNSAFE_ALL = new RegExp(CLASS, 'g');

function escapeOne(c: string): string {
  if (c === '\n') return '\\n';
  if (c === '\r') return '\\r';
  if (c === '\t') return '\\t';
  const code = c.charCodeAt(0);
  return code > 0xff
    ? `\\u${code.toString(16).padStart(4, '0')}`
    : `\\x${code.toString(16).padStart(2, '0')}`;
}

/** True when `s` holds a character that {@link escapeControl} would rewrite. */
export function hasControl(s: string): boolean {
  return UNSAFE.test(s);
}

/**
 * `s` with every control character (C0, DEL, C1), line separator and bidirectional
 * formatting character written as `\n`, `\r`, `\t`, `\xHH` or `\uHHHH`. Printable text,
 * including non-ASCII letters, is kept as it is; a clean string is returned without a copy.
 */
export function escapeControl(s: string): string {
  if (!UNSAFE.test(s)) return s;
  return s.replace(UNSAFE_ALL, escapeOne);
}

/**
 * Make a serialized JSON text safe for a terminal or log reader: JSON.stringify leaves C1
 * controls, DEL, separators and bidi characters raw; this writes them as `\uHHHH`, which any
 * JSON parser reads back as the same string.
 */
export function escapeJsonText(json: string): string {
  if (!UNSAFE.test(json)) return json;
  return json.replace(UNSAFE_ALL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
