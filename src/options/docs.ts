/**
 * The README's flag tables, generated from the option tables between markers
 * (`<!-- options:server:start -->` … `<!-- options:server:end -->`), laid out as Prettier
 * lays out a Markdown table so the formatter leaves them alone.
 * @module
 */
import type { OptionEntry, OptionTable } from './core.js';

/** The flags of an entry, each in backticks: `` `-q`, `--quiet` ``, `` `--n_bits <n>`, `--n-bits <n>` ``. */
function flagsCell(entry: OptionEntry): string {
  const value = entry.value === undefined ? '' : ` <${entry.value}>`;
  const flags = [entry.flag, ...(entry.aliases ?? [])].map((f) => `\`${f}${value}\``);
  return [...(entry.short ? [`\`${entry.short}\``] : []), ...flags].join(', ');
}

function defaultCell(entry: OptionEntry): string {
  if (entry.defaultText !== undefined) return entry.defaultText;
  if (entry.default === undefined) return 'none';
  if (typeof entry.default === 'boolean') return entry.default ? 'on' : 'off';
  return `\`${entry.kind.show(entry.default)}\``;
}

/** Width of a cell as Prettier counts it (code points; the docs use no wide characters). */
function width(s: string): number {
  return [...s].length;
}

/** The Markdown table of `table`'s flags: flag, default, meaning. */
export function flagTable(table: OptionTable): string {
  const rows = Object.values(table)
    .filter((e) => e.flag !== undefined)
    .map((e) => [flagsCell(e), defaultCell(e), e.help]);
  const all = [['flag', 'default', 'meaning'], ...rows];
  const widths = [0, 1, 2].map((i) => Math.max(3, ...all.map((r) => width(r[i] ?? ''))));
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((c, i) => c + ' '.repeat((widths[i] ?? 0) - width(c))).join(' | ')} |`;
  const [head, ...body] = all;
  return [line(head ?? []), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

/** `text` with the flag table of each named command written between its markers. */
export function renderFlagTables(
  text: string,
  tables: Readonly<Record<string, OptionTable>>,
): string {
  let out = text;
  for (const [name, table] of Object.entries(tables)) {
    const start = `<!-- options:${name}:start -->`;
    const end = `<!-- options:${name}:end -->`;
    const from = out.indexOf(start);
    const to = out.indexOf(end);
    if (from < 0 || to < from) continue;
    out = `${out.slice(0, from + start.length)}\n\n${flagTable(table)}\n\n${out.slice(to)}`;
  }
  return out;
}
