/**
 * Every bin of package.json is a Node entry point in dist/ (so this runs after the build):
 * npm on Windows runs a bin through its shebang's interpreter (cmd-shim), so none may need
 * `sh`. Each is run as `node <target>` without a shell and with a PATH that holds node alone,
 * and (where shebangs are run) by its shebang, `/usr/bin/env node`, on that PATH.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { verifyWork } from '../src/protocol/hash.js';
import { useTempDirs } from './helpers.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  version: string;
  bin: Record<string, string>;
};
const bins = Object.entries(pkg.bin);
const tempDir = useTempDirs('tlslp-entry-points-');

/** A folder with only a `node` link in it, for PATH: no sh, no other tool. */
async function nodeOnlyPath(): Promise<string> {
  const dir = await tempDir();
  await symlink(process.execPath, join(dir, process.platform === 'win32' ? 'node.exe' : 'node'));
  return dir;
}

function run(file: string, args: string[], PATH: string) {
  return spawnSync(file, args, {
    cwd: root,
    shell: false,
    encoding: 'utf8',
    timeout: 15_000,
    // Only what a Node program needs, and PATH with node alone.
    env: { PATH, HOME: process.env.HOME ?? root, NO_COLOR: '1', TLSLP_DEBUG: '' },
  });
}

describe('the bins of package.json', () => {
  it('are the four commands, each a built file', () => {
    expect(bins.map(([name]) => name).sort()).toEqual([
      'tlslp',
      'tlslp-client',
      'tlslp-server',
      'tlslp-work',
    ]);
    for (const [, target] of bins) expect(existsSync(join(root, target)), target).toBe(true);
  });

  it.each(bins)('%s (%s) starts with a node shebang', (_name, target) => {
    expect(readFileSync(join(root, target), 'utf8').split('\n')[0]).toBe('#!/usr/bin/env node');
  });

  it.each(bins)(
    '%s: node <target> --version and --help run with no shell and only node on PATH',
    async (name, target) => {
      const PATH = await nodeOnlyPath();
      expect(existsSync(join(PATH, 'sh'))).toBe(false);
      const version = run(process.execPath, [target, '--version'], PATH);
      expect(version.stderr).toBe('');
      expect([version.status, version.stdout.trim()]).toEqual([0, pkg.version]);
      const help = run(process.execPath, [target, '--help'], PATH);
      expect(help.status, help.stderr).toBe(0);
      expect(help.stdout).toMatch(new RegExp(`^Usage: ${name} `));
    },
  );

  it.skipIf(process.platform === 'win32')(
    'run by their shebang (/usr/bin/env node) on that PATH, as npm links them',
    async () => {
      const PATH = await nodeOnlyPath();
      for (const [, target] of bins) {
        const r = run(join(root, target), ['--version'], PATH);
        expect([r.status, r.stdout.trim()], target).toEqual([0, pkg.version]);
      }
    },
  );

  it("tlslp-work and tlslp solve the original's <token> <n_bits> without sh", async () => {
    const PATH = await nodeOnlyPath();
    for (const args of [
      [pkg.bin['tlslp-work'] ?? '', 'abc', '8'],
      [pkg.bin.tlslp ?? '', 'abc', '8'],
      [pkg.bin.tlslp ?? '', 'work', 'abc', '8'],
    ]) {
      const r = run(process.execPath, args, PATH);
      expect(r.status, r.stderr).toBe(0);
      const suffix = /^RESULT:(\S+)$/m.exec(r.stdout)?.[1] ?? '';
      expect(verifyWork('abc', suffix, 8), args.join(' ')).toBe(true);
    }
  });
});
