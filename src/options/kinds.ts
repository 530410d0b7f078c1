/**
 * The kinds of option values: how each is read from a flag and checked in the library.
 * @module
 */
import { parseCidr } from '../text/address.js';
import { ValueProblem, type Kind } from './core.js';

const DIGITS = /^\d+$/;

/** A whole number within [min, max]. */
export function integer(min: number, max: number): Kind<number> {
  const range = `between ${min} and ${max}`;
  return {
    parse(text) {
      if (!DIGITS.test(text)) throw new ValueProblem('must be an integer');
      const n = Number(text);
      if (n < min || n > max) throw new ValueProblem(`must be ${range}`);
      return n;
    },
    expected: (v) =>
      typeof v !== 'number' || !Number.isInteger(v)
        ? 'an integer'
        : v < min || v > max
          ? range
          : null,
    show: String,
  };
}

/**
 * A duration the flag gives in seconds and the library takes in milliseconds; positive, or
 * zero too when zero means "off".
 */
export function seconds(options: { zero?: boolean } = {}): Kind<number> {
  const sign = options.zero ? 'non-negative' : 'positive';
  const good = (n: number): boolean => Number.isFinite(n) && (options.zero ? n >= 0 : n > 0);
  return {
    parse(text) {
      const n = Number(text);
      if (text.trim() === '' || !good(n))
        throw new ValueProblem(`must be a ${sign} number of seconds`);
      return n * 1000;
    },
    expected: (v) => (typeof v === 'number' && good(v) ? null : `a ${sign} number of milliseconds`),
    show: (ms) => String(ms / 1000),
  };
}

/** A string, with an optional rule (`what` says what the rule asks). */
export function text(rule?: { test: (s: string) => boolean; what: string }): Kind<string> {
  const check = (s: string): boolean => !rule || rule.test(s);
  const expected = rule ? rule.what : 'a string';
  return {
    parse(s) {
      if (!check(s)) throw new ValueProblem(`must be ${expected}`);
      return s;
    },
    expected: (v) => (typeof v === 'string' && check(v) ? null : expected),
    show: (s) => s,
  };
}

/** A switch: present or not. */
export function toggle(): Kind<boolean> {
  return {
    parse: () => true,
    expected: (v) => (typeof v === 'boolean' ? null : 'true or false'),
    show: (b) => (b ? 'on' : 'off'),
  };
}

/** One of a fixed list; `normalize` maps spellings the flag also accepts (e.g. case). */
export function oneOf<const V extends string>(
  values: readonly V[],
  normalize: (s: string) => string = (s) => s,
): Kind<V> {
  const expected = `one of ${values.join(', ')}`;
  const member = (s: unknown): s is V => typeof s === 'string' && values.includes(s as V);
  return {
    parse(s) {
      const v = normalize(s);
      if (!member(v)) throw new ValueProblem(`must be ${expected}`);
      return v;
    },
    expected: (v) => (member(v) ? null : expected),
    show: (v) => v,
    choices: values,
  };
}

/** `word` (e.g. `auto`) or a value of `kind`. */
export function orWord<const W extends string, T>(word: W, kind: Kind<T>): Kind<W | T> {
  return {
    parse: (s) => (s === word ? word : kind.parse(s)),
    expected(v) {
      if (v === word) return null;
      const p = kind.expected(v);
      return p === null ? null : `${p}, or ${word}`;
    },
    show: (v) => (v === word ? word : kind.show(v as T)),
    suggestions: [word],
  };
}

/** A comma-separated list of ports, tried in order. */
export function ports(): Kind<readonly number[]> {
  const port = (p: unknown): boolean =>
    typeof p === 'number' && Number.isInteger(p) && p >= 1 && p <= 65535;
  return {
    parse(s) {
      const list = s.split(',').map((p) => p.trim());
      if (list.some((p) => !DIGITS.test(p) || !port(Number(p))))
        throw new ValueProblem('must be a comma-separated list of ports 1..65535, e.g. 1234,5678');
      return list.map(Number);
    },
    expected: (v) =>
      Array.isArray(v) && v.length > 0 && v.every(port)
        ? null
        : 'a non-empty list of ports 1..65535',
    show: (list) => list.join(','),
  };
}

/** Several words after one flag (`--host localhost 127.0.0.1`). */
export function words(): Kind<readonly string[]> {
  return {
    parse: (s) => [s],
    expected: (v) =>
      Array.isArray(v) && v.length > 0 && v.every((w) => typeof w === 'string' && w !== '')
        ? null
        : 'a non-empty list of names',
    show: (list) => list.join(' '),
    variadic: true,
  };
}

/** Address ranges after one flag (`--proxy-from 10.0.0.0/8 ::1`), each a CIDR or an address. */
export function cidrs(): Kind<readonly string[]> {
  const what = 'a non-empty list of addresses or CIDRs (e.g. 10.0.0.0/8, ::1/128)';
  return {
    parse(s) {
      if (!parseCidr(s)) throw new ValueProblem(`must be ${what}`);
      return [s];
    },
    expected: (v) =>
      Array.isArray(v) && v.length > 0 && v.every((c) => typeof c === 'string' && parseCidr(c))
        ? null
        : what,
    show: (list) => list.join(' '),
    variadic: true,
  };
}

/**
 * Names after one flag, the flag repeatable (`--allow-cn a b`, `--allow-cn a --allow-cn b`),
 * each checked by `rule`. The library takes an empty list too (the same as none).
 */
export function names(rule: {
  test: (s: string) => boolean;
  what: string;
}): Kind<readonly string[]> {
  const what = `a list of ${rule.what}`;
  return {
    parse(s) {
      if (!rule.test(s)) throw new ValueProblem(`must be ${rule.what}`);
      return [s];
    },
    expected: (v) =>
      Array.isArray(v) && v.every((n) => typeof n === 'string' && rule.test(n)) ? null : what,
    show: (list) => list.join(' '),
    variadic: true,
  };
}
