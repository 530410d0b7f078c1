#!/usr/bin/env node
// @ts-check
// Write the flag tables of README.md from the option tables (src/options/, built to dist/):
// `npm run docs:options` writes them, `--check` exits 1 when README.md differs.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { renderFlagTables } = await import(
  pathToFileURL(join(root, 'dist', 'options', 'docs.js')).href
);
const { COMMAND_OPTIONS } = await import(
  pathToFileURL(join(root, 'dist', 'options', 'index.js')).href
);

const check = process.argv.includes('--check');
let drift = false;
for (const file of ['README.md', join('docs', 'guide.md')]) {
  const path = join(root, file);
  const text = readFileSync(path, 'utf8');
  const next = renderFlagTables(text, COMMAND_OPTIONS);
  if (next === text) continue;
  drift = true;
  if (check)
    process.stderr.write(
      `${file}: flag tables differ from src/options; run npm run docs:options\n`,
    );
  else {
    writeFileSync(path, next);
    process.stdout.write(`${file}: flag tables written\n`);
  }
}
process.exitCode = check && drift ? 1 : 0;
