/**
 * The bins' flags, built from the option tables (src/options/): commander options from the
 * entries, flag values back to library options, and a library ConfigError's option names
 * turned into the flags the user typed.
 * @module
 */
import { Help, InvalidArgumentError, Option, type Command } from 'commander';
import { ERROR_CATALOG, TlslpError, renderMessage } from '../errors/index.js';
import {
  ValueProblem,
  type InputOf,
  type Kind,
  type OptionEntry,
  type OptionTable,
} from '../options/core.js';

/** Read the package version (for `--version`). */
export { VERSION } from '../version.js';

/** A commander parser for values of `kind`; `name` (the flag) starts its error message. */
export function parserFor<T>(
  name: string,
  kind: Kind<T>,
): (text: string, previous: unknown) => T | unknown[] {
  return (text, previous) => {
    let value: T;
    try {
      value = kind.parse(text);
    } catch (err) {
      if (err instanceof ValueProblem) throw new InvalidArgumentError(`${name} ${err.message}.`);
      throw err;
    }
    // A variadic flag collects its values (`--host a b`); the first replaces nothing.
    return kind.variadic
      ? [...(Array.isArray(previous) ? (previous as unknown[]) : []), ...(value as unknown[])]
      : value;
  };
}

/** The default of an entry as the flag writes it, for `--help`; null when none is shown. */
function shownDefault(entry: OptionEntry): string | null {
  if (entry.default === undefined || typeof entry.default === 'boolean') return null;
  const shown = entry.kind.show(entry.default);
  return shown === '' ? null : shown;
}
/** An entry's description as `--help` and completion show it: the Markdown code spans' backticks dropped. */
export function plainHelp(help: string): string {
  return help.replace(/`([^`]*)`/g, '$1');
}

/** The flags of an entry as commander (and the README) write them: `-q, --quiet`, `--port <port>`. */
export function flagSpec(entry: OptionEntry, flag: string = entry.flag ?? ''): string {
  const value = entry.value === undefined ? '' : ` <${entry.value}>`;
  return `${entry.short && flag === entry.flag ? `${entry.short}, ` : ''}${flag}${value}`;
}

/** The main flag of each alias option (`--n-bits` -> `--n_bits`), so a config file can refuse the alias spelling. */
export const ALIAS_OF = new WeakMap<Option, string>();

/**
 * Add a commander option for every entry of `table` that has a flag, aliases included.
 * No commander defaults: an unset flag stays unset, so the resolver fills the default (the
 * table's, once) and can tell a flag given from one left out.
 */
export function addTableOptions(command: Command, table: OptionTable): Command {
  // The default goes after the help text, as commander shows its own; the description stays
  // the help text alone (completion shows it).
  const defaults = new Map<Option, string>();
  const plain = new Help();
  command.configureHelp({
    optionDescription: (o) => {
      const shown = defaults.get(o);
      return shown === undefined
        ? plain.optionDescription(o)
        : `${o.description} (default: ${shown})`;
    },
  });
  for (const entry of Object.values(table)) {
    if (entry.flag === undefined) continue;
    const parse = parserFor(entry.flag, entry.kind);
    const main = new Option(flagSpec(entry), plainHelp(entry.help));
    if (entry.required) main.makeOptionMandatory();
    const shown = shownDefault(entry);
    if (shown !== null) defaults.set(main, shown);
    command.addOption(entry.value === undefined ? main : main.argParser(parse));
    for (const alias of entry.aliases ?? []) {
      const o = new Option(flagSpec(entry, alias), `same as ${entry.flag}`).argParser(parse);
      ALIAS_OF.set(o, entry.flag);
      command.addOption(o);
    }
  }
  return command;
}

/**
 * The values of `table`'s flags that were given (on the command line or by `--config`), by
 * library option name and in library units. An alias wins over the main flag.
 */
export function tableValues<T extends OptionTable>(
  command: Command,
  table: T,
): InputOf<T, keyof T> {
  const values: Record<string, unknown> = {};
  for (const [key, entry] of Object.entries(table)) {
    if (entry.flag === undefined) continue;
    for (const flag of [entry.flag, ...(entry.aliases ?? [])]) {
      const o = command.options.find((x) => x.long === flag);
      // commander gives a lone `--no-x` the default x = true itself: not a value given.
      const given = o && command.getOptionValueSource(o.attributeName()) !== 'default';
      const v: unknown = o && given ? command.getOptionValue(o.attributeName()) : undefined;
      if (v !== undefined) values[key] = v;
    }
  }
  return values as InputOf<T, keyof T>;
}

/** Only the `keys` of `values` (a table's values split between library and CLI). */
export function pick<V extends object, K extends keyof V>(
  values: V,
  keys: readonly K[],
): Pick<V, K> {
  const out: Partial<V> = {};
  for (const k of keys) if (values[k] !== undefined) out[k] = values[k];
  return out as Pick<V, K>;
}

/** Option names of library errors that are not table keys (`tls.cert`), by the table key. */
export type OptionAliases = Readonly<Record<string, string>>;

/** A parameter of a catalog template that holds an option's name (`{option}`, `{maxOption}`). */
const isOptionParam = (name: string): boolean => name === 'option' || name.endsWith('Option');

/**
 * A library error names options (`maxConnections must be …`); the user typed flags. Render
 * its message again from the catalog with the flag of `table` in each option parameter's
 * place (`--max-connections must be …`); text around it (a context, a hint) stays. The one
 * place options become flags.
 */
export function withFlagNames<E>(err: E, table: OptionTable, aliases: OptionAliases = {}): E {
  if (!(err instanceof TlslpError)) return err;
  const flagOf = (name: string): string | undefined => table[aliases[name] ?? name]?.flag;
  let named = false;
  const params = Object.fromEntries(
    Object.entries(err.params).map(([name, value]) => {
      const flag = typeof value === 'string' && isOptionParam(name) ? flagOf(value) : undefined;
      if (flag === undefined) return [name, value];
      named = true;
      return [name, flag];
    }),
  );
  if (!named) return err;
  const template = ERROR_CATALOG[err.code].message;
  const rendered = renderMessage(template, err.params);
  const at = err.message.lastIndexOf(rendered);
  if (at >= 0)
    err.message =
      err.message.slice(0, at) +
      renderMessage(template, params) +
      err.message.slice(at + rendered.length);
  return err;
}

/** Run a bin's main and name flags, not library options, in the ConfigError it throws. */
export async function namingFlags<R>(
  table: OptionTable,
  main: () => Promise<R>,
  aliases: OptionAliases = {},
): Promise<R> {
  try {
    return await main();
  } catch (err) {
    throw withFlagNames(err, table, aliases);
  }
}

/** Where `--log-file` sends the log: a file path, stderr only (`-`), or nowhere (`none`). */
export type LogFileChoice = { kind: 'file'; path: string } | { kind: 'stderr' } | { kind: 'none' };

/**
 * Read `--log-file`: absent means the XDG default file, `-` stderr only (every record, for
 * a server under a supervisor that collects stderr), `none` no file at all (warnings still on
 * stderr), anything else a path.
 */
export function logFileChoice(value: string | undefined, fallback: string): LogFileChoice {
  if (value === undefined) return { kind: 'file', path: fallback };
  if (value === '-') return { kind: 'stderr' };
  if (value === 'none') return { kind: 'none' };
  return { kind: 'file', path: value };
}
