/**
 * Which server options change live ({@link TlslpServer.reconfigure}, the CLI's SIGHUP), in one
 * place, and how a change between two resolved configurations is found and written. The
 * rest (port, host, certificate paths, workers, the state store, …) needs a restart: the
 * TLS files themselves are reloaded by `reload`, not here.
 * @module
 */
import { SERVER_OPTIONS, type ResolvedServerTable } from '../options/server.js';
import type { OptionEntry } from '../options/core.js';

/**
 * The library options a running server takes anew: the gate reads each for every new
 * connection, so sessions in flight keep what they were admitted with. `nBits` only while
 * it stays a number, `minBits`/`maxBits` only while it stays `auto` (the adaptive controller
 * is made at start).
 */
export const RELOADABLE_SERVER_OPTIONS = [
  'allowCn',
  'allowOu',
  'allowDns',
  'allowUri',
  'maxConnections',
  'maxPerIp',
  'maxPerIdentity',
  'maxHandshakes',
  'maxHandshakesPerIp',
  'maxHandshakeBytes',
  'maxChainDepth',
  'maxHandshakeFailuresPerIp',
  'nBits',
  'minBits',
  'maxBits',
] as const satisfies readonly (keyof typeof SERVER_OPTIONS)[];

/** The options of the CLI alone that SIGHUP applies too. */
export const RELOADABLE_CLI_OPTIONS = [
  'logLevel',
] as const satisfies readonly (keyof typeof SERVER_OPTIONS)[];

/** A library option {@link TlslpServer.reconfigure} takes. */
export type ReloadableOption = (typeof RELOADABLE_SERVER_OPTIONS)[number];

/**
 * What {@link TlslpServer.reconfigure} takes: any of the reloadable options, with the value
 * types of the constructor's. A key given as `undefined` goes back to its default; a key left
 * out keeps its value.
 */
export type ServerReconfiguration = {
  -readonly [K in ReloadableOption]?: K extends 'nBits'
    ? number | 'auto'
    : K extends keyof ResolvedServerTable
      ? ResolvedServerTable[K]
      : number;
};

/** One option that changed: its value before and after, as resolved (lists as given). */
export interface OptionChange {
  /** The option's library name (`maxPerIp`, or the CLI's `logLevel`). */
  readonly option: ReloadableOption | (typeof RELOADABLE_CLI_OPTIONS)[number];
  /** Its value before the change. */
  readonly from: unknown;
  /** Its value after the change. */
  readonly to: unknown;
}

/** The reloadable values of a resolved configuration, `minBits`/`maxBits` from its `adaptive`. */
export function reloadableValues(
  o: ResolvedServerTable,
): Readonly<Record<ReloadableOption, unknown>> {
  const out = {} as Record<ReloadableOption, unknown>;
  for (const key of RELOADABLE_SERVER_OPTIONS) {
    if (key === 'minBits' || key === 'maxBits') out[key] = o.adaptive?.[key];
    else if (key === 'nBits') out[key] = o.adaptive ? 'auto' : o.nBits;
    else out[key] = o[key];
  }
  return out;
}

/** Lists without order or duplicates mattering are still compared as written: `[a, b]` ≠ `[b, a]` is a change worth a line. */
const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/** The options whose values differ between two {@link reloadableValues}, in table order. */
export function diffReloadable(
  before: Readonly<Record<ReloadableOption, unknown>>,
  after: Readonly<Record<ReloadableOption, unknown>>,
): OptionChange[] {
  return RELOADABLE_SERVER_OPTIONS.filter((k) => !same(before[k], after[k])).map((option) => ({
    option,
    from: before[option],
    to: after[option],
  }));
}

/** A value of `option` as the command line writes it; a list as `[a, b]` (unset: `[]`). */
export function showValue(option: string, value: unknown): string {
  const entry = (SERVER_OPTIONS as Record<string, OptionEntry>)[option];
  if (value === undefined) return entry?.kind.variadic ? '[]' : 'unset';
  if (Array.isArray(value)) return `[${value.join(', ')}]`;
  return entry ? entry.kind.show(value) : JSON.stringify(value);
}

/** The flag of an option without its dashes (`max-per-ip`), as the config file spells it. */
export function optionKey(option: string): string {
  const entry = (SERVER_OPTIONS as Record<string, OptionEntry>)[option];
  return entry?.flag ? entry.flag.slice(2) : option;
}

/** `max-per-ip 4 → 2, allow-ou [a] → [a, b]`. */
export function describeChanges(changes: readonly OptionChange[]): string {
  return changes
    .map(
      (c) => `${optionKey(c.option)} ${showValue(c.option, c.from)} → ${showValue(c.option, c.to)}`,
    )
    .join(', ');
}
