#!/usr/bin/env node
// @ts-check
// Mark every bin of package.json executable after tsc wrote it. tsc writes mode 0644, and npm
// sets the executable bit on bin targets only when it links them at install time, so without
// this a `npm run clean && npm run build` leaves `npx tlslp-server` failing with EACCES.
import { chmodSync, existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// The package root; a test passes another folder.
const root = join(process.argv[2] ?? fileURLToPath(new URL('..', import.meta.url)), '/');
/** @type {{ bin?: Record<string, string> }} */
const pkg = JSON.parse(readFileSync(root + 'package.json', 'utf8'));
// bin/tlslp, the sh fast path of the solver beside the bins, and the Node CLIs it hands over to.
const beside = ['bin/tlslp', 'dist/cli/tlslp.js', 'dist/cli/work.js'].filter((f) =>
  existsSync(root + f),
);
for (const target of new Set([...Object.values(pkg.bin ?? {}), ...beside])) {
  const file = root + target;
  const mode = statSync(file).mode & 0o777;
  // Executable for whoever may read it: 0644 → 0755, 0600 → 0700.
  chmodSync(file, mode | ((mode & 0o444) >> 2));
}
