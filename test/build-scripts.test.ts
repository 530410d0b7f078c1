import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function scratch(): string {
  const d = mkdtempSync(join(tmpdir(), 'tlslp-build-'));
  dirs.push(d);
  return d;
}

function run(script: string, root: string): { status: number | null; stdout: string } {
  const r = spawnSync(process.execPath, [join('scripts', script), root], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout };
}

describe('scripts/bin-modes.mjs (run by npm run build)', () => {
  it('makes every bin of package.json executable, leaving other files alone', () => {
    const root = scratch();
    mkdirSync(join(root, 'dist/cli'), { recursive: true });
    writeFileSync(
      join(root, 'package.json'),
      JSON.stringify({ bin: { a: 'dist/cli/a.js', b: 'dist/cli/a.js', c: 'dist/cli/c.js' } }),
    );
    for (const f of ['a.js', 'c.js', 'lib.js']) {
      writeFileSync(join(root, 'dist/cli', f), '#!/usr/bin/env node\n');
      chmodSync(join(root, 'dist/cli', f), 0o644);
    }
    expect(run('bin-modes.mjs', root).status).toBe(0);
    const mode = (f: string): number => statSync(join(root, 'dist/cli', f)).mode & 0o777;
    expect(mode('a.js')).toBe(0o755);
    expect(mode('c.js')).toBe(0o755);
    expect(mode('lib.js')).toBe(0o644);
  });

  it('left the real bins executable after this build', () => {
    for (const bin of ['tlslp.js', 'server.js', 'client.js', 'work.js'])
      expect(statSync(join('dist/cli', bin)).mode & 0o111).toBe(0o111);
  });
});

describe('scripts/clean.mjs (npm run clean)', () => {
  it('says what it removed and how to get the native kernel back', () => {
    const root = scratch();
    mkdirSync(join(root, 'dist/cli'), { recursive: true });
    mkdirSync(join(root, 'native/build/Release'), { recursive: true });
    const r = run('clean.mjs', root);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('removed dist/');
    expect(r.stdout).toContain('removed native/build/ (native kernel)');
    expect(r.stdout).toContain('npm run build:native');
    expect(existsSync(join(root, 'dist'))).toBe(false);
    expect(existsSync(join(root, 'native/build'))).toBe(false);
  });

  it('says so when there is nothing to remove', () => {
    const r = run('clean.mjs', scratch());
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe('clean: nothing to remove');
  });
});
