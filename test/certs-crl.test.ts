/**
 * `tlslp certs crl --init | --list | --refresh` and `tlslp certs show` on a CRL, run through
 * the command's main in this process (see certs-bin.ts), on a copy of the run's shared set;
 * the CRL they write is loaded by a real `tlslp-server --crl` (dist/cli/server.js).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CERT_FILE_NAMES, readCertificateSet } from '../src/pki/generate.js';
import { CRL_FILE_NAME, verifyCrl } from '../src/pki/index.js';
import { ok, refused } from './certs-bin.js';
import { runCli } from './cli-run.js';
import { serverMain } from '../src/cli/server.js';
import { firstLine } from './first-line.js';
import { copySharedCerts, serverCertFlags, until, useTempDirs } from './helpers.js';
import { startServerProcess, type ServerProcess } from './server-process.js';

const DAY = 24 * 60 * 60 * 1000;
const tempDir = useTempDirs('tlslp-certs-crl-');

/** A CA folder (a copy of the shared set with an EC server key); `tlslp certs crl` works on it. */
async function set(): Promise<string> {
  return copySharedCerts(await tempDir(), 'ec');
}

interface ListJson {
  file: string;
  type: string;
  issuer: string;
  thisUpdate: string;
  nextUpdate: string;
  crlNumber: string;
  entries: Array<{ serial: string; revocationDate: string; reason: string | null }>;
  verified?: boolean;
}

const listJson = async (dir: string): Promise<ListJson> =>
  JSON.parse(await ok('certs', 'crl', '--list', '--json', '--dir', dir)) as ListJson;

let server: ServerProcess | undefined;
afterEach(async () => {
  if (server && server.child.exitCode === null) {
    server.child.kill('SIGTERM');
    await server.exited;
  }
  server = undefined;
});

describe('tlslp certs crl', () => {
  it('--init makes a CRL a server starts with; revoke, SIGHUP, and the client is refused', async () => {
    const dir = await set();
    const crlPath = join(dir, CRL_FILE_NAME);
    const init = await ok('certs', 'crl', '--init', '--dir', dir);
    expect(init).toContain(`empty CRL written to ${crlPath}: 0 entries, CRL number 1`);
    expect(init).toContain(`--crl ${crlPath}`);
    const pem = await readFile(crlPath, 'utf8');
    expect(pem.startsWith('-----BEGIN X509 CRL-----\n')).toBe(true);
    expect(await verifyCrl(pem, await readFile(join(dir, CERT_FILE_NAMES.caCert), 'utf8'))).toBe(
      true,
    );

    const files = {
      serverCert: join(dir, CERT_FILE_NAMES.serverCert),
      serverKey: join(dir, CERT_FILE_NAMES.serverKey),
      caCert: join(dir, CERT_FILE_NAMES.caCert),
    };
    server = await startServerProcess('crl', dir, files, ['--crl', crlPath, '--n_bits', '4']);
    const certs = await readCertificateSet(dir);
    expect(await firstLine(server.port, certs)).toBe('HELLO');

    const revoked = await ok(
      'certs',
      'revoke',
      '--dir',
      dir,
      '--cert',
      join(dir, CERT_FILE_NAMES.clientCert),
    );
    const serial = /revoked: serial ([0-9a-f]+)/.exec(revoked)?.[1] ?? '';
    expect(serial).not.toBe('');
    const listed = await ok('certs', 'crl', '--list', '--dir', dir);
    expect(listed).toMatch(new RegExp(`^  ${serial}  \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z$`, 'm'));
    expect(listed).toContain('Revoked:     1');
    expect(listed).toContain(`Signature:   valid, by the CA ${files.caCert}`);

    server.child.kill('SIGHUP');
    const s = server;
    await until(
      async () => (await firstLine(s.port, certs)) === 'closed',
      'the revoked client refused',
    );
  });

  it('--list prints issuer, updates, number and each entry; --json the same as one object', async () => {
    const dir = await set();
    await ok('certs', 'crl', '--init', '--dir', dir, '--crl-days', '30');
    const empty = await ok('certs', 'crl', '--list', '--dir', dir);
    expect(empty).toMatch(
      /^CRL .*ca_crl\.pem\nIssuer: +CN=My Test CA\nThis update: +\S+Z\nNext update: +\S+Z\nCRL number: +1\nRevoked: +0\nSignature: +valid/,
    );
    await ok('certs', 'client', '--dir', dir, '--name', 'jane');
    await ok('certs', 'revoke', '--dir', dir, '--cert', join(dir, 'jane_cert.pem'));
    const json = await listJson(dir);
    expect(json).toMatchObject({ type: 'crl', issuer: 'CN=My Test CA', crlNumber: '2' });
    expect(json.verified).toBe(true);
    expect(json.entries).toHaveLength(1);
    const jane = await ok('certs', 'show', '--json', join(dir, 'jane_cert.pem'));
    expect(json.entries[0]).toMatchObject({
      serial: (JSON.parse(jane) as { serial: string }).serial,
      reason: null,
    });
    const next = Date.parse(json.nextUpdate) - Date.parse(json.thisUpdate);
    expect(next).toBe(365 * DAY); // revoke signs with its own --crl-days (default 365)
  });

  it('--refresh moves thisUpdate and nextUpdate, keeps the entries, and still verifies', async () => {
    const dir = await set();
    await ok('certs', 'crl', '--init', '--dir', dir, '--crl-days', '1');
    for (const name of ['jane', 'john']) {
      await ok('certs', 'client', '--dir', dir, '--name', name);
      await ok(
        'certs',
        'revoke',
        '--dir',
        dir,
        '--cert',
        join(dir, `${name}_cert.pem`),
        '--crl-days',
        '1',
      );
    }
    const before = await listJson(dir);
    // thisUpdate has whole seconds: wait for the next one on the clock, not a fixed sleep.
    const second = Math.floor(Date.now() / 1000);
    await until(() => Math.floor(Date.now() / 1000) > second, 'the next second', 2_000);
    const refreshed = await ok('certs', 'crl', '--refresh', '--dir', dir, '--crl-days', '90');
    expect(refreshed).toContain('re-signed: 2 entries, CRL number 4');
    const after = await listJson(dir);
    expect(after.entries).toEqual(before.entries);
    expect(Date.parse(after.thisUpdate)).toBeGreaterThan(Date.parse(before.thisUpdate));
    expect(Date.parse(after.nextUpdate) - Date.parse(after.thisUpdate)).toBe(90 * DAY);
    expect(Date.parse(after.nextUpdate)).toBeGreaterThan(Date.parse(before.nextUpdate));
    expect(after.verified).toBe(true);
    const pem = await readFile(join(dir, CRL_FILE_NAME), 'utf8');
    expect(await verifyCrl(pem, await readFile(join(dir, CERT_FILE_NAMES.caCert), 'utf8'))).toBe(
      true,
    );
  });

  it('refuses no mode, two modes, a folder without a CA, an existing CRL, and a refresh of none', async () => {
    const dir = await set();
    await refused(
      /give exactly one of --init, --list and --refresh \(given: none\)$/,
      'certs',
      'crl',
      '--dir',
      dir,
    );
    await refused(
      /give exactly one of --init, --list and --refresh \(given: --init and --list\)$/,
      ...['certs', 'crl', '--init', '--list', '--dir', dir],
    );
    await refused(
      /not found; make an empty one with: tlslp certs crl --init --dir /,
      ...['certs', 'crl', '--refresh', '--dir', dir],
    );
    await refused(
      /ca_crl\.pem: not found; make an empty one with: tlslp certs crl --init --dir /,
      ...['certs', 'crl', '--list', '--dir', dir],
    );
    const empty = await tempDir();
    await refused(
      /cannot read .*ca_cert\.pem \(ENOENT\); create the set with: tlslp certs --dir /,
      ...['certs', 'crl', '--init', '--dir', empty],
    );
    await ok('certs', 'crl', '--init', '--dir', dir);
    await ok('certs', 'revoke', '--dir', dir, '--serial', '0a1b');
    await refused(
      /refusing to overwrite .*ca_crl\.pem; use --force to replace it$/,
      ...['certs', 'crl', '--init', '--dir', dir],
    );
    // --force starts an empty list, its CRL number still counting up.
    expect(await ok('certs', 'crl', '--init', '--force', '--dir', dir)).toContain(
      '0 entries, CRL number 3',
    );
  });
});

describe('tlslp certs show on a CRL', () => {
  it('shows a PEM or DER CRL as crl --list does, --json too', async () => {
    const dir = await set();
    await ok('certs', 'crl', '--init', '--dir', dir);
    await ok('certs', 'revoke', '--dir', dir, '--serial', '0a1b');
    const crlPath = join(dir, CRL_FILE_NAME);
    const shown = await ok('certs', 'show', crlPath);
    expect(shown).toMatch(/^CRL .*ca_crl\.pem\nIssuer: +CN=My Test CA\n/);
    expect(shown).toMatch(/^ {2}a1b {2}\S+Z$/m);
    expect(shown).not.toContain('Signature:'); // no CA at hand
    const der = join(dir, 'ca_crl.der');
    // The DER of the PEM: its base64 body.
    const body = (await readFile(crlPath, 'utf8')).replace(/-----[^-]+-----|\s/g, '');
    await writeFile(der, Buffer.from(body, 'base64'));
    const json = JSON.parse(await ok('certs', 'show', '--json', der)) as ListJson;
    expect(json).toMatchObject({ file: der, type: 'crl', crlNumber: '2' });
    expect(json.entries.map((e) => e.serial)).toEqual(['a1b']);
  });

  it('still says what is wrong with a file that is neither', async () => {
    const dir = await tempDir();
    const junk = join(dir, 'junk.bin');
    await writeFile(junk, Buffer.from([1, 2, 3, 4]));
    await refused(/junk\.bin: not a PEM certificate/, 'certs', 'show', junk);
  });
});

describe('tlslp-server --crl on a missing file', () => {
  it.each([
    ['nowhere/ca_crl.pem', 'tlslp certs crl --init --dir <dir>/nowhere'],
    ['revoked.pem', 'tlslp certs crl --init --dir <CA folder> (it writes ca_crl.pem there)'],
  ])('%s: names the command that makes an empty one', async (name, fix) => {
    const dir = await set();
    const crl = join(dir, name);
    const run = await runCli('tlslp-server', serverMain, [
      ...serverCertFlags(dir),
      ...['--crl', crl, '--check'],
    ]);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(
      `tlslp-server: error: --crl ${crl}: not found; pass the right path, or make an empty one with: ${fix.replace('<dir>', dir)}\n`,
    );
  });
});
