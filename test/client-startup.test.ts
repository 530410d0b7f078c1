/**
 * tlslp-client checks its files before it dials: exit 2 and one line naming the flag. The
 * client's main runs in this process under runMain, as the bin runs it (cli-run.ts).
 */
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientMain } from '../src/cli/client.js';
import { runCli, type CliRun } from './cli-run.js';
import { clientCertFlags, testCerts } from './helpers.js';

let dir: string;
let certFlags: string[];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tlslp-startup-'));
  await chmod(dir, 0o700);
  certFlags = await clientCertFlags(await testCerts(), join(dir, 'certs'));
  await writeFile(join(dir, 'solver.sh'), '#!/bin/sh\necho RESULT:x\n', { mode: 0o755 });
  await mkdir(join(dir, 'open'), { mode: 0o777 });
  await chmod(join(dir, 'open'), 0o777);
  // A link to a good solver, but in a folder anyone may write to (the link could be swapped).
  await symlink(join(dir, 'solver.sh'), join(dir, 'open', 'link.sh'));
  await writeFile(join(dir, 'open', 'solver.sh'), '#!/bin/sh\n', { mode: 0o755 });
  await writeFile(join(dir, 'plain.txt'), 'x', { mode: 0o644 });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function client(args: string[]): Promise<CliRun> {
  // Port 1 on loopback: nothing listens, so any dialling would end in "connection refused".
  return runCli(
    'tlslp-client',
    clientMain,
    ['--host', '127.0.0.1', '--ports', '1', '--quiet', ...args],
    {
      env: { XDG_STATE_HOME: dir },
    },
  );
}

describe('tlslp-client start-up checks', () => {
  it.each([
    ['/nonexistent/solver', 'not found'],
    ['open/link.sh', 'is a link in a folder others may write to'],
    ['plain.txt', 'not executable'],
    ['open/solver.sh', 'its folder is writable by others'],
  ])('refuses --work-binary %s before dialling (%s)', async (path, why) => {
    const full = path.startsWith('/') ? path : join(dir, path);
    const r = await client([...certFlags, '--work-binary', full]);
    expect(r.code).toBe(2);
    const out = r.stderr.trim().split('\n');
    expect(out).toHaveLength(1);
    expect(out[0]?.startsWith(`tlslp-client: error: --work-binary ${full}: `)).toBe(true);
    expect(out[0]).toContain(why);
    expect(r.stderr).not.toContain('refused');
  });

  it.each([
    ['--ca-cert', '--ca-cert'],
    ['--client-cert', '--client-cert'],
    ['--private-key', '--private-key'],
    ['--profile', '--profile'],
  ])('refuses a missing %s file before dialling', async (flag) => {
    const r = await client([...certFlags, flag, join(dir, 'missing.pem')]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(`${flag} ${join(dir, 'missing.pem')}`);
    expect(r.stderr).not.toContain('refused');
  });
});
