/**
 * The option tables' building blocks. Each command has a table of the library's options and
 * one of the CLI's own (see {@link commandTable}; a command all of whose options the library
 * takes, or none, has one table): an entry per option with its library name
 * (the key), flag, default, validation and one description. The
 * option types, the resolvers that fill defaults and validate, the commander options and
 * the README flag tables are all derived from it, so a new option is one entry.
 * @module
 */
import { ConfigError } from '../errors/index.js';
import { maskUrlPassword } from '../text/secret.js';

/** A value a flag does not take; the message completes "<option> …" (e.g. `must be …`). */
export class ValueProblem extends Error {}

/** How the values of one option are read and checked. */
export interface Kind<T> {
  /**
   * Read a value from the command line or a config file, in library units (a seconds flag
   * gives milliseconds).
   * @throws ValueProblem saying what the text must be, in the flag's units.
   */
  parse(text: string): T;
  /**
   * What a library value must be when `value` is not one this option takes (`an integer`,
   * `between 1 and 65535`: the error says `<option> must be …`), or null when it is.
   */
  expected(value: unknown): string | null;
  /** The value as the command line writes it (milliseconds shown as seconds). */
  show(value: T): string;
  /** The accepted values, when a fixed list (for completion and docs). */
  readonly choices?: readonly string[];
  /** Words completion offers beside values typed freely (`auto` beside a number). */
  readonly suggestions?: readonly string[];
  /** Takes several values after one flag (`--host a b c`). */
  readonly variadic?: boolean;
}

/** One option of a command. */
export interface OptionEntry<T = unknown> {
  readonly kind: Kind<T>;
  /** The default; `undefined` when there is none (unset, or computed from other options). */
  readonly default: T | undefined;
  /** Long flag, e.g. `--max-connections`; none for an option of the library alone. */
  readonly flag?: `--${string}`;
  /** More long flags for the same option, e.g. `--n-bits` for `--n_bits`. */
  readonly aliases?: readonly `--${string}`[];
  /** Short flag, e.g. `-q`. */
  readonly short?: `-${string}`;
  /** Placeholder of the value, e.g. `n` for `--port <n>`; none for a switch. */
  readonly value?: string;
  /**
   * What the option does: its one description, for `--help` (backticks dropped), the README's
   * flag tables and the library's JSDoc (written from it by `npm run docs:options`). Markdown
   * code spans allowed; no default in it (the default is `default` or `defaultText`).
   */
  readonly help: string;
  /** The default in words, when it is not a value (`one per core`) or needs a note. */
  readonly defaultText?: string;
  /** The flag must be given (the command refuses to run without it). */
  readonly required?: boolean;
}

/** A command's options by library name. */
export type OptionTable = Readonly<Record<string, OptionEntry>>;

/** The value type of an entry. */
export type ValueOf<E> = E extends { kind: Kind<infer T> } ? T : never;

/** `P` when it is one of `K` and its entry has a default (`has`) or none (`!has`). */
type KeyIf<T extends OptionTable, K, P extends keyof T, Has extends boolean> = P extends K
  ? T[P] extends { default: undefined }
    ? Has extends true
      ? never
      : P
    : Has extends true
      ? P
      : never
  : never;

/** What a caller may pass for the `K` options of `T`: every one optional. */
export type InputOf<T extends OptionTable, K extends keyof T> = {
  -readonly [P in K]?: ValueOf<T[P]>;
};

/**
 * The `K` options of `T` once resolved: those with a default are always set. (Mapped over
 * `keyof T`, so each property keeps the entry's doc comment.)
 */
export type ResolvedOf<T extends OptionTable, K extends keyof T> = {
  readonly [P in keyof T as KeyIf<T, K, P, true>]: ValueOf<T[P]>;
} & {
  readonly [P in keyof T as KeyIf<T, K, P, false>]?: ValueOf<T[P]>;
};

/** One entry, its default checked against its kind by the compiler. */
export function option<T, const E extends Omit<OptionEntry<T>, 'kind'>>(
  kind: Kind<T>,
  entry: E,
): E & { readonly kind: Kind<T> } {
  return { ...entry, kind };
}

/** The keys of `table`, in table order. */
export function keysOf<T extends OptionTable>(table: T): (keyof T & string)[] {
  return Object.keys(table);
}

/** The keys of `L` and `C` that `order` leaves out (`never` when it lists them all). */
type Unlisted<L, C, O extends readonly PropertyKey[]> = Exclude<keyof L | keyof C, O[number]>;

/**
 * A command's whole table: the library's entries and the CLI's own, each in a table of its
 * own (which table an entry sits in is what says whether the library takes it), in the
 * order `order` lists them, which is the order of `--help`, completion and the README's flag
 * table. The compiler refuses an `order` that leaves a key out or names one of neither
 * table, and a key both tables hold.
 */
export function commandTable<
  const L extends OptionTable,
  const C extends OptionTable & { readonly [K in keyof L]?: never },
  const O extends readonly (keyof L | keyof C)[],
>(lib: L, cli: C, order: [Unlisted<L, C, O>] extends [never] ? O : never): L & C {
  const both: Readonly<Record<string, OptionEntry>> = { ...lib, ...cli };
  return Object.fromEntries(order.map((key) => [key, both[key as string]])) as L & C;
}

/** A value as an error message quotes it. */
function quote(value: unknown): string {
  const text =
    typeof value === 'string' || Array.isArray(value) ? JSON.stringify(value) : String(value);
  return maskUrlPassword(text);
}

/**
 * Check one library value against its entry.
 * @throws ConfigError `TLSLP_ERR_BAD_OPTION` naming the option (`maxConnections must be …, not -5`).
 */
export function checkValue(name: string, entry: OptionEntry, value: unknown): void {
  const expected = entry.kind.expected(value);
  if (expected !== null)
    throw new ConfigError('TLSLP_ERR_BAD_OPTION', { option: name, expected, value: quote(value) });
}

/**
 * Fill the defaults of every option of `table` and check every value given.
 * @throws ConfigError `TLSLP_ERR_BAD_OPTION` naming the first option whose value is wrong.
 */
export function resolveTable<T extends OptionTable>(
  table: T,
  input: InputOf<T, keyof T>,
): ResolvedOf<T, keyof T & string> {
  return resolveEntries(
    table,
    keysOf(table),
    input as { readonly [P in keyof T & string]?: unknown },
  );
}

/**
 * Fill the defaults of the `keys` options of `table` and check every value given.
 * @throws ConfigError `TLSLP_ERR_BAD_OPTION` naming the first option whose value is wrong.
 */
export function resolveEntries<T extends OptionTable, K extends keyof T & string>(
  table: T,
  keys: readonly K[],
  input: { readonly [P in K]?: unknown },
): ResolvedOf<T, K> {
  const out: Record<string, unknown> = {};
  for (const key of keys) {
    const entry = table[key] as OptionEntry;
    const given = input[key];
    if (given === undefined) {
      if (entry.default !== undefined) out[key] = entry.default;
    } else {
      checkValue(key, entry, given);
      out[key] = given;
    }
  }
  return out as ResolvedOf<T, K>;
}
