/**
 * `--config FILE`: options kept in a JSON or TOML file, applied to a parsed commander
 * command under the flags given on the command line (a flag always wins). One spelling per
 * key: the long flag name without its dashes (`max-connections`, `n_bits`,
 * `no-simulate-failures`); an alias (`n-bits`), the camelCase form (`maxConnections`), a key
 * that is no option of the command and a key given twice are refused, with the key to write.
 * A repeatable flag takes a list (`allow-cn = ["a", "b"]`), a switch `true` or `false`; each
 * value goes through the flag's own parser, so a file is checked exactly as the command line.
 * @module
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import type { Command, Option } from 'commander';
import { ConfigError, type ParamsOf } from '../errors/index.js';
import { ALIAS_OF } from './options.js';

/** Flags that do something rather than set something: never a key. */
const NOT_SETTINGS = new Set(['--config', '--help', '--version']);

/** Edit distance (insert, delete, substitute one character), for "did you mean". */
export function levenshtein(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++)
      next[j] = Math.min(
        (row[j] ?? 0) + 1,
        (next[j - 1] ?? 0) + 1,
        (row[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    row = next;
  }
  return row[b.length] ?? 0;
}

/** Case, dashes and underscores aside: `nBits`, `n-bits` and `n_bits` are one name. */
const loose = (key: string): string => key.toLowerCase().replace(/[-_]/g, '');

/** The key of `keys` meant by `key`: the same name spelt otherwise, else the closest one. */
export function closestKey(key: string, keys: readonly string[]): string | undefined {
  const same = keys.find((k) => loose(k) === loose(key));
  if (same !== undefined) return same;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of keys) {
    const d = levenshtein(loose(key), loose(k));
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  // A guess too far from what was typed helps nobody.
  return bestDistance <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined;
}

/**
 * The top-level keys of a JSON object text in order, repeats kept (JSON.parse keeps the last
 * of a repeated key without a word). Only called on text JSON.parse accepted.
 */
function jsonTopKeys(text: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
    else if (c === '"') {
      let end = i + 1;
      while (text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      const after = text.slice(end + 1).trimStart();
      if (depth === 1 && after.startsWith(':'))
        keys.push(JSON.parse(text.slice(i, end + 1)) as string);
      i = end;
    }
  }
  return keys;
}

/** Parse `text` as TOML or JSON: by the file's extension, else by its first character. */
function parseConfig(
  path: string,
  text: string,
): { data: Record<string, unknown>; keys: string[] } {
  const ext = extname(path).toLowerCase();
  const json = ext === '.json' || (ext !== '.toml' && text.trimStart().startsWith('{'));
  let data: unknown;
  try {
    // TOML refuses a repeated key itself.
    data = json ? JSON.parse(text) : parseToml(text);
  } catch (err) {
    const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new ConfigError(
      'TLSLP_ERR_CONFIG_FILE',
      { source: `--config ${path}`, format: json ? 'JSON' : 'TOML', syntax: why },
      { cause: err },
    );
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data))
    throw new ConfigError('TLSLP_ERR_CONFIG_FILE', {
      source: `--config ${path}`,
      notTable: true,
    });
  const record = data as Record<string, unknown>;
  return { data: record, keys: json ? jsonTopKeys(text) : Object.keys(record) };
}

/** What is wrong with a key of the file: the parameters of `TLSLP_ERR_CONFIG_FILE` but its source. */
type Refusal = Omit<ParamsOf<'TLSLP_ERR_CONFIG_FILE'>, 'source'>;

/**
 * The value of one key as the flag's parser sees it: one string, or one per list item; else
 * what is wrong with it.
 */
function rawValues(key: string, value: unknown, option: Option): string[] | Refusal {
  const scalar = (v: unknown): v is string | number =>
    typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v));
  if (option.variadic) {
    // A lone value is a list of one, as `--allow-cn a` is on the command line.
    const list = Array.isArray(value) ? (value as unknown[]) : [value];
    if (list.length === 0) return { emptyList: key };
    if (!list.every(scalar)) return { notStrings: key };
    return list.map(String);
  }
  if (Array.isArray(value)) return { notList: key, flag: option.long ?? '' };
  if (!scalar(value)) return { notScalar: key };
  return [String(value)];
}

/**
 * Read `path` and set every option it names on `command` whose value did not come from the
 * command line. Returns the option names it set.
 * @throws ConfigError naming the file and the key: unreadable file, bad syntax, a key that
 * is no option (with the closest one), spelt otherwise or given twice, or a value the flag
 * refuses.
 */
export function applyConfigFile(command: Command, path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(
      'TLSLP_ERR_CONFIG_FILE',
      code === 'ENOENT'
        ? { source: `--config ${path}`, missing: true }
        : { source: `--config ${path}`, unreadable: true },
      { cause: err },
    );
  }
  const refuse = (refusal: Refusal, cause?: unknown): never => {
    throw new ConfigError(
      'TLSLP_ERR_CONFIG_FILE',
      { source: `--config ${path}`, ...refusal },
      cause === undefined ? undefined : { cause },
    );
  };
  const settable = command.options.filter(
    (o) => o.long !== undefined && !NOT_SETTINGS.has(o.long) && !ALIAS_OF.has(o),
  );
  const byKey = new Map(settable.map((o) => [(o.long ?? '').slice(2), o]));
  const known = [...byKey.keys()];
  const { data, keys } = parseConfig(path, text);

  const seen = new Map<Option, string>();
  const set: string[] = [];
  for (const key of keys) {
    const option = byKey.get(key);
    if (!option) {
      if (NOT_SETTINGS.has(`--${key}`)) refuse({ flagOnly: key });
      const meant = closestKey(key, known);
      if (meant !== undefined && loose(meant) === loose(key) && keys.includes(meant))
        refuse({ key, spelt: meant });
      refuse({ unknown: key, meant });
      return set; // not reached: refuse throws
    }
    const before = seen.get(option);
    if (before !== undefined) refuse({ twice: key });
    seen.set(option, key);
    const value = data[key];
    const name = option.attributeName();
    if (command.getOptionValueSource(name) === 'cli') continue;
    let parsed: unknown;
    if (option.isBoolean() || option.negate) {
      if (typeof value !== 'boolean') refuse({ notBoolean: key });
      // `no-simulate-failures = true` turns simulateFailures off, as the flag does.
      parsed = option.negate ? !value : value;
    } else {
      const raws = rawValues(key, value, option);
      if (!Array.isArray(raws)) return refuse(raws);
      let previous: unknown = undefined;
      for (const raw of raws) {
        if (option.argChoices && !option.argChoices.includes(raw))
          refuse({ key, choices: option.argChoices.join(', ') });
        try {
          previous = option.parseArg ? option.parseArg(raw, previous) : raw;
        } catch (err) {
          refuse({ key, reason: err instanceof Error ? err.message : String(err) }, err);
        }
      }
      parsed = previous;
    }
    command.setOptionValueWithSource(name, parsed, 'config');
    set.push(name);
  }
  return set;
}
