#!/usr/bin/env node
// @ts-check
// Everything written from the option tables (src/options/, src/logging/options.ts, built to
// dist/): the README's and the guide's flag tables, and the JSDoc of each library option in
// the tables' sources (which the option types, e.g. ServerTableOptions, carry: they are mapped
// over the tables). `npm run docs:options` writes them; `--check` exits 1 when any differs.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
/** @param {string} path a module of dist/, as its path from dist/ */
const built = (path) => import(pathToFileURL(join(root, 'dist', path)).href);
const { renderFlagTables } = await built('options/docs.js');
const { COMMAND_OPTIONS, LIBRARY_OPTIONS } = await built('options/index.js');
/** The library's entries: those of its tables (an entry of a CLI table only is the CLI's). */
const LIBRARY_ENTRIES = new Set(
  Object.values(LIBRARY_OPTIONS).flatMap((/** @type {object} */ t) => Object.values(t)),
);

/** The sources whose exported tables get their JSDoc written, with their built module. */
const SOURCES = [
  'options/server.ts',
  'options/client.ts',
  'options/solver.ts',
  'options/work.ts',
  'options/demo.ts',
  'options/certs.ts',
  'options/shared.ts',
  'logging/options.ts',
];
const WIDTH = 100;

/** @param {unknown} value */
const literal = (value) =>
  Array.isArray(value) ? value.map((v) => JSON.stringify(v)).join(', ') : JSON.stringify(value);

/**
 * The JSDoc text of a library option: its description and default, as sentences (a value in
 * library units: milliseconds for a key ending in `Ms`).
 */
function docText(
  /** @type {string} */ key,
  /** @type {{ help: string, default: unknown, defaultText?: string }} */ entry,
) {
  const help = entry.help.charAt(0).toUpperCase() + entry.help.slice(1);
  const unit = key.endsWith('Ms') ? ' ms' : '';
  const shown =
    entry.defaultText ??
    (entry.default === undefined ? 'none' : `\`${literal(entry.default)}\`${unit}`);
  return `${help}${help.endsWith('.') ? '' : '.'} Default: ${shown}.`;
}

/** `text` as a JSDoc comment indented by `indent`, wrapped at WIDTH. */
function comment(text, indent) {
  const one = `${indent}/** ${text} */`;
  if (one.length <= WIDTH) return [one];
  const lines = [`${indent}/**`];
  let line = `${indent} *`;
  for (const word of text.split(' ')) {
    if (line.length + 1 + word.length > WIDTH && line !== `${indent} *`) {
      lines.push(line);
      line = `${indent} *`;
    }
    line += ` ${word}`;
  }
  lines.push(line, `${indent} */`);
  return lines;
}

/**
 * `source` with the comment above each library entry of its exported tables written from the
 * entry (`key: option(…` or `key: switchEntry(…` directly in `export const NAME = {`).
 */
/**
 * @param {string} source
 * @param {Record<string, any>} tables the module's exports
 */
function withOptionDocs(source, tables) {
  const lines = source.split('\n');
  /** @type {string[]} */
  const out = [];
  /** @type {Record<string, any> | null} */
  let table = null;
  for (const line of lines) {
    const start = /^export const ([A-Z_]+) = \{$/.exec(line);
    if (start) table = tables[start[1] ?? ''] ?? null;
    else if (/^\}( as const)?;$/.test(line)) table = null;
    const key = table && /^(\s+)(\w+): (option|switchEntry)\(/.exec(line);
    const name = key?.[2] ?? '';
    const entry = key && table ? table[name] : undefined;
    if (key && LIBRARY_ENTRIES.has(entry)) {
      // Drop the comment above (generated before, or written by hand), then write it anew.
      if (out.at(-1)?.trim().endsWith('*/')) {
        while (!out.at(-1)?.trim().startsWith('/**')) out.pop();
        out.pop();
      }
      out.push(...comment(docText(name, entry), key[1] ?? ''));
    }
    out.push(line);
  }
  return out.join('\n');
}

/**
 * defaults.ts with the comment of each `DEFAULTS` field that reads a table's default
 * (`serverHost: S.host.default`) written from that entry: its description and flag.
 * @param {string} source
 * @param {Record<string, Record<string, any>>} tables by the alias defaults.ts gives them
 */
function withDefaultsDocs(source, tables) {
  /** @type {string[]} */
  const out = [];
  for (const line of source.split('\n')) {
    const m = /^(\s+)\w+: ([A-Z])\.(\w+)\.default( \/ 1000)?( as [^,]+)?,$/.exec(line);
    const entry = m ? tables[m[2] ?? '']?.[m[3] ?? ''] : undefined;
    if (m && entry) {
      if (out.at(-1)?.trim().endsWith('*/')) {
        while (!out.at(-1)?.trim().startsWith('/**')) out.pop();
        out.pop();
      }
      const help = entry.help.charAt(0).toUpperCase() + entry.help.slice(1);
      const flag = entry.flag ? `\`${entry.flag}\`` : `\`${m[3]}\``;
      out.push(...comment(`${help} (${flag}${m[4] ? ', in seconds' : ''}).`, m[1] ?? ''));
    }
    out.push(line);
  }
  return out.join('\n');
}

const check = process.argv.includes('--check');
let drift = false;
/** @param {string} file @param {string} next */
function update(file, next, what) {
  const path = join(root, file);
  if (next === readFileSync(path, 'utf8')) return;
  drift = true;
  if (check)
    process.stderr.write(
      `${file}: ${what} differ from the option tables; run npm run docs:options\n`,
    );
  else {
    writeFileSync(path, next);
    process.stdout.write(`${file}: ${what} written\n`);
  }
}
for (const file of ['README.md', join('docs', 'guide.md')])
  update(
    file,
    renderFlagTables(readFileSync(join(root, file), 'utf8'), COMMAND_OPTIONS),
    'flag tables',
  );
for (const source of SOURCES) {
  const tables = await built(source.replace(/\.ts$/, '.js'));
  const file = join('src', source);
  update(file, withOptionDocs(readFileSync(join(root, file), 'utf8'), tables), 'option JSDoc');
}
{
  const {
    SERVER_OPTIONS: S,
    CLIENT_OPTIONS: C,
    CERTS_OPTIONS: R,
  } = await built('options/index.js');
  const file = join('src', 'options', 'defaults.ts');
  update(
    file,
    withDefaultsDocs(readFileSync(join(root, file), 'utf8'), { S, C, R }),
    'DEFAULTS JSDoc',
  );
}
process.exitCode = check && drift ? 1 : 0;
