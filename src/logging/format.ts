/**
 * Formatting of one record as a line: the text format (`<timestamp> <LEVEL> <logger>: <message>`,
 * docs/protocol.md §7) or one JSON object. Escaping itself lives in text/escape.ts.
 * @module
 */
import type { LogLevel } from './levels.js';
import { escapeControl, escapeJsonText, hasControl } from '../text/escape.js';

/** `text`: the §7 line format; `json`: one JSON object per line. */
export type LogFormat = 'text' | 'json';

/** The timestamp tutorial mode writes on every line, so runs are byte-for-byte reproducible. */
export const TUTORIAL_TIMESTAMP = '2000-01-01T00:00:00+0100';

/**
 * ISO 8601 local time to the second with a numeric offset without colon, as Python's
 * `%Y-%m-%dT%H:%M:%S%z` writes it: `2024-05-01T14:03:09+0200`, `…-0530`, `…+0000`.
 */
export function formatTimestamp(date: Date): string {
  const offset = -date.getTimezoneOffset();
  const abs = Math.abs(offset);
  return (
    `${pad(date.getFullYear(), 4)}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}` +
    `${offset < 0 ? '-' : '+'}${pad(Math.floor(abs / 60))}${pad(abs % 60)}`
  );
}

/**
 * The time of a line of `format`: RFC 3339 in UTC with milliseconds for JSON
 * (`2026-12-07T22:51:31.123Z`, what log collectors parse), the §7 format for text.
 */
export function lineTimestamp(format: LogFormat, date: Date): string {
  return format === 'json' ? date.toISOString() : formatTimestamp(date);
}

/** What a line shows of a record, besides its time. */
export interface LineRecord {
  level: LogLevel;
  /** Logger name. */
  name: string;
  msg: string;
  fields: Record<string, unknown> | undefined;
}

/** One record as a line of `format`, ending in a newline. */
export function formatLine(format: LogFormat, time: string, record: LineRecord): string {
  return format === 'json' ? jsonLine(time, record) : textLine(time, record);
}

/** Keep a record on one line and free of terminal controls (C0, DEL, C1, bidi overrides). */
const escapeText = escapeControl;

/**
 * Fields that say where a record belongs (which session, which peer, what happened). JSON
 * lines carry them as keys; text lines, which predate them, show `session` and `peer` as the
 * `[#12 127.0.0.1:53122] ` prefix they always had, after a cluster worker's `[w1] `, and
 * leave the rest to the message (a `peer` without a `session` is an ordinary field).
 */
export const CONTEXT_FIELDS: ReadonlySet<string> = new Set([
  'worker',
  'session',
  'peer',
  'event',
  'n_bits',
  'outcome',
  'identity',
]);

function textLine(time: string, { level, name, msg, fields }: LineRecord): string {
  let prefix = '';
  if (fields?.session !== undefined)
    prefix = `[#${prefixPart(fields.session)}${fields.peer !== undefined ? ` ${prefixPart(fields.peer)}` : ''}] `;
  const worker = fields?.worker !== undefined ? `[w${prefixPart(fields.worker)}] ` : '';
  let line = `${time} ${level} ${name}: ${escapeText(worker + prefix + msg)}`;
  if (fields)
    for (const key of Object.keys(fields)) {
      // session and peer are in the prefix; the other context fields are for JSON only.
      if (CONTEXT_FIELDS.has(key) && (key !== 'peer' || prefix !== '')) continue;
      line += ` ${escapeText(key)}=${textValue(fields[key])}`;
    }
  return line + '\n';
}

/** A session id or peer as the prefix shows it; an object as JSON rather than `[object Object]`. */
function prefixPart(value: unknown): string {
  return typeof value === 'object' && value !== null ? safeJson(value) : String(value);
}

const BARE_VALUE = /^[^\s"=\\]+$/;

/** Bare when unambiguous (`port=443`, `peer=127.0.0.1`), JSON-quoted otherwise (`reason="bad line"`). */
function textValue(value: unknown): string {
  if (typeof value === 'string')
    return BARE_VALUE.test(value) && !hasControl(value) ? value : escapeText(JSON.stringify(value));
  if (
    typeof value === 'number' ||
    typeof value === 'boolean' ||
    typeof value === 'bigint' ||
    value == null
  )
    return String(value);
  if (value instanceof Error) return escapeText(JSON.stringify(value.message));
  return escapeText(safeJson(value));
}

const RESERVED = new Set(['time', 'level', 'logger', 'msg']);

function jsonLine(time: string, { level, name, msg, fields }: LineRecord): string {
  const record: Record<string, unknown> = { time, level, logger: name, msg };
  if (fields) {
    // A field named like a fixed key must not overwrite it; keep it under a prefixed name.
    for (const key of Object.keys(fields))
      record[RESERVED.has(key) ? `field.${key}` : key] = fields[key];
  }
  // JSON.stringify escapes newlines; C1 and bidi characters it leaves raw are escaped too.
  return escapeJsonText(safeJson(record)) + '\n';
}

/** JSON.stringify that copes with bigint, Error and cycles instead of throwing. */
function safeJson(value: unknown): string {
  const plain = (_key: string, v: unknown): unknown => {
    if (typeof v === 'bigint') return v.toString();
    if (v instanceof Error) return { name: v.name, message: v.message };
    return v;
  };
  try {
    return JSON.stringify(value, plain) ?? 'null';
  } catch {
    // A cycle (the only other way stringify throws here): cut every repeated object. This also
    // cuts shared non-cyclic references, acceptable for a log line that would otherwise be lost.
    const seen = new WeakSet<object>();
    return (
      JSON.stringify(value, (key, v: unknown) => {
        const p = plain(key, v);
        if (typeof p === 'object' && p !== null) {
          if (seen.has(p)) return '[Circular]';
          seen.add(p);
        }
        return p;
      }) ?? 'null'
    );
  }
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}
