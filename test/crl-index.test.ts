/**
 * Revocation without OpenSSL's CRL scan: the index of revoked serials, read here or in a
 * worker; chains looked up certificate by certificate (intermediates too); a CRL past its
 * nextUpdate refusing everyone as the server's problem (`crl_expired`), with its gauge,
 * warning and one ERROR line; and the --max-crl-bytes guard.
 */
import { X509Certificate } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CertificateSet } from '../src/pki/generate.js';
import { runClient } from '../src/client/client.js';
import { CrlProblem, RevokedSerials, readCrls, readCrlsOffThread } from '../src/tls/crl.js';
import { ConfigError } from '../src/errors/index.js';
import { ServerMetrics } from '../src/server/metrics.js';
import { checkServerTls } from '../src/tls/material.js';
import {
  memoryLogger,
  runBin,
  testCerts,
  until,
  useServers,
  useTempDirs,
  within,
} from './helpers.js';
import { issueClientCert, issueCrl } from './issue-cert.js';

let certs: CertificateSet;
let cas: X509Certificate[];
const { server } = useServers(() => certs, { simulateFailures: false, bodyRequests: 1 });
const tempDir = useTempDirs('tlslp-crl-');

beforeAll(async () => {
  certs = await testCerts();
  cas = [new X509Certificate(certs.caCert)];
});

const serialOf = (pem: string): string => new X509Certificate(pem).serialNumber;

/** A session as `client` (leaf, then any intermediates, in `cert`): resolves with whether it was served. */
async function served(port: number, client: { cert: string; key: string }): Promise<boolean> {
  return runClient({
    host: '127.0.0.1',
    ports: [port],
    tls: { ca: certs.caCert, ...client },
    solverOptions: { threads: 1 },
  }).then(
    () => true,
    (err: Error) => err.name === 'ServerFailError',
  );
}

describe('RevokedSerials', () => {
  it('finds a serial however its hex is written, and nothing else', () => {
    const set = RevokedSerials.of(['AB', '0102', '00FF10', 'ab']);
    expect(set.size).toBe(3);
    for (const s of ['ab', 'AB', '00AB', '0AB', '102', 'FF10', 'ff10'])
      expect(set.has(s), s).toBe(true);
    for (const s of ['AC', '01', 'FF', '00', '0103']) expect(set.has(s), s).toBe(false);
    expect(RevokedSerials.of([]).has('01')).toBe(false);
  });

  it('holds thousands of serials, each found, none invented', () => {
    const serials = Array.from({ length: 5000 }, (_, i) => (i * 7919 + 1).toString(16));
    const set = RevokedSerials.of(serials);
    expect(set.size).toBe(5000);
    expect(serials.every((s) => set.has(s))).toBe(true);
    expect(set.has((5000 * 7919 + 1).toString(16))).toBe(false);
  });
});

describe('reading a CRL', () => {
  it('here and in a worker thread: the same index, signature and dates checked', async () => {
    const serials = Array.from({ length: 300 }, (_, i) => `7F${i.toString(16).padStart(6, '0')}`);
    const pem = await issueCrl(certs, { revoked: serials });
    const here = readCrls(pem, cas);
    const there = await readCrlsOffThread(pem, cas);
    for (const crls of [here, there]) {
      expect(crls).toHaveLength(1);
      expect(crls[0]?.revoked.size).toBe(300);
      expect(serials.every((s) => crls[0]?.revoked.has(s))).toBe(true);
      expect(crls[0]?.revoked.has('7F999999')).toBe(false);
      expect(crls[0]?.issuer.serialNumber).toBe(cas[0]?.serialNumber);
    }
    expect(there[0]?.nextUpdate?.getTime()).toBe(here[0]?.nextUpdate?.getTime());
    // Given as bytes, as the CLI reads it.
    expect((await readCrlsOffThread(Buffer.from(pem), cas))[0]?.revoked.size).toBe(300);
  });

  it('a worker refuses what readCrls refuses: another CA, past its nextUpdate', async () => {
    const other = await issueCrl(certs, {
      issuer: await issueClientCert(certs, { ca: true }),
    });
    await expect(readCrlsOffThread(other, cas)).rejects.toBeInstanceOf(CrlProblem);
    const old = await issueCrl(certs, {
      thisUpdate: new Date(Date.now() - 7200_000),
      nextUpdate: new Date(Date.now() - 3600_000),
    });
    await expect(readCrlsOffThread(old, cas)).rejects.toThrow(/nextUpdate .* has passed/);
  });

  it('warns when the nextUpdate is within 7 days, not before', async () => {
    const soon = await issueCrl(certs, { nextUpdate: new Date(Date.now() + 2 * 86_400_000) });
    const later = await issueCrl(certs, { nextUpdate: new Date(Date.now() + 30 * 86_400_000) });
    const tls = { cert: certs.serverCert, key: certs.serverKey, ca: certs.caCert };
    const labels = { cert: 'c', key: 'k', ca: 'a', crl: '--crl ca_crl.pem' };
    expect(checkServerTls({ ...tls, crl: soon }, labels).warnings).toEqual([
      expect.stringMatching(
        /^--crl ca_crl\.pem: the CRL's nextUpdate is .* \(in 1 days?|in \d+ hours/,
      ),
    ]);
    expect(checkServerTls({ ...tls, crl: later }, labels).warnings).toEqual([]);
  });
});

describe('the server looks chains up in the index', () => {
  it('a revoked intermediate refuses its leaves; an intermediate without a CRL is unable_to_get_crl', async () => {
    const intermediate = await issueClientCert(certs, { ca: true, commonName: 'sub CA' });
    const leaf = await issueClientCert(certs, { issuer: intermediate, commonName: 'sub leaf' });
    const chain = { cert: leaf.cert + intermediate.cert, key: leaf.key };
    // The intermediate is in the CA bundle (its CRL must be issued by a CA the server knows);
    // the chain still goes up to the root, and each certificate needs its issuer's CRL.
    const bundle = { ...tlsOf(certs), ca: certs.caCert + intermediate.cert };
    const rootOnly = await issueCrl(certs, { revoked: [] });
    const s = await server({ tls: { ...bundle, crl: rootOnly } });
    expect(await served(s.port, chain)).toBe(false);
    await until(
      () => s.server.stats.handshakeFailuresByReason.unable_to_get_crl === 1,
      'unable_to_get_crl counted',
    );
    // Both CRLs, the intermediate revoked by the root's.
    const subCrl = await issueCrl(certs, { issuer: intermediate });
    const revoking = await issueCrl(certs, { revoked: [serialOf(intermediate.cert)] });
    expect(s.server.reload({ ...bundle, crl: revoking + subCrl })).toMatchObject({
      outcome: 'reloaded',
      revoked: 1,
    });
    expect(await served(s.port, chain)).toBe(false);
    await until(() => s.server.stats.handshakeFailuresByReason.revoked === 1, 'revoked counted');
    // Not revoked: served, and the client of the root CA too.
    const fine = await issueCrl(certs, { revoked: ['0BADBEEF'] });
    expect((await s.server.reloadAsync({ ...bundle, crl: fine + subCrl })).outcome).toBe(
      'reloaded',
    );
    expect(await served(s.port, chain)).toBe(true);
    expect(await served(s.port, { cert: certs.clientCert, key: certs.clientKey })).toBe(true);
  });

  it('reloadAsync swaps in a revoking CRL read in a worker', async () => {
    const s = await server({ tls: { ...tlsOf(certs), crl: await issueCrl(certs) } });
    expect(await served(s.port, { cert: certs.clientCert, key: certs.clientKey })).toBe(true);
    const revoking = await issueCrl(certs, { revoked: [serialOf(certs.clientCert)] });
    const r = await s.server.reloadAsync({ ...tlsOf(certs), crl: revoking });
    expect(r).toMatchObject({ outcome: 'reloaded', changed: ['crl'], revoked: 1 });
    expect(await served(s.port, { cert: certs.clientCert, key: certs.clientKey })).toBe(false);
    await until(() => s.server.stats.handshakeFailuresByReason.revoked === 1, 'revoked counted');
    // A broken CRL read in the worker fails the reload, naming the file.
    const bad = await s.server.reloadAsync(
      {
        ...tlsOf(certs),
        crl: await issueCrl(certs, { issuer: await issueClientCert(certs, { ca: true }) }),
      },
      { cert: 'c', key: 'k', ca: 'a', crl: '--crl bad.pem' },
    );
    expect(bad.outcome).toBe('failed');
    expect(bad.error?.message).toMatch(/^--crl bad\.pem: not issued by the CA/);
  });
});

describe('a CRL near its nextUpdate', () => {
  it('a reload to a CRL within 7 days of it logs one WARNING naming the file', async () => {
    const logger = memoryLogger();
    const labels = { cert: 'c', key: 'k', ca: 'a', crl: '--crl ca_crl.pem' };
    const far = await issueCrl(certs, { nextUpdate: new Date(Date.now() + 30 * 86_400_000) });
    const s = await server({ tls: { ...tlsOf(certs), crl: far }, tlsLabels: labels, logger });
    const soon = await issueCrl(certs, { nextUpdate: new Date(Date.now() + 2 * 86_400_000) });
    const r = await s.server.reloadAsync({ ...tlsOf(certs), crl: soon }, labels);
    expect(r.outcome).toBe('reloaded');
    expect(r.warnings).toHaveLength(1);
    const warnings = logger.lines.filter((l) => l.level === 'WARNING');
    expect(warnings.map((l) => l.msg)).toEqual([
      expect.stringMatching(
        /^--crl ca_crl\.pem: the CRL's nextUpdate is .*re-sign it \(tlslp certs crl --refresh\)/,
      ),
    ]);
    // The same files again: nothing more today.
    expect((await s.server.reloadAsync({ ...tlsOf(certs), crl: soon }, labels)).outcome).toBe(
      'unchanged',
    );
    expect(logger.lines.filter((l) => l.level === 'WARNING')).toHaveLength(1);
  });
});

describe('a CRL that passes its nextUpdate', () => {
  it('one ERROR naming the file and the fix; then every client is refused as crl_expired; the gauge had its date', async () => {
    const logger = memoryLogger();
    const metrics = new ServerMetrics();
    const nextUpdate = new Date(Date.now() + 1500);
    const s = await server({
      tls: { ...tlsOf(certs), crl: await issueCrl(certs, { nextUpdate }) },
      tlsLabels: { cert: 'c', key: 'k', ca: 'a', crl: '--crl certificates/ca_crl.pem' },
      logger,
      metrics,
    });
    const gauge = (await metrics.certificateExpiry.get()).values.find(
      (v) => v.labels.which === 'crl',
    );
    expect(gauge?.value).toBe(Math.floor(nextUpdate.getTime() / 1000));
    await within(
      until(() => logger.lines.some((l) => l.level === 'ERROR'), 'the expiry ERROR', 10_000),
      15_000,
      'the CRL to expire',
    );
    const errors = logger.lines.filter((l) => l.level === 'ERROR');
    expect(errors).toHaveLength(1);
    expect(errors[0]?.msg).toMatch(
      /^--crl certificates\/ca_crl\.pem: the CRL passed its nextUpdate .* re-sign it with tlslp certs crl --refresh/,
    );
    expect(await served(s.port, { cert: certs.clientCert, key: certs.clientKey })).toBe(false);
    await until(
      () => s.server.stats.handshakeFailuresByReason.crl_expired === 1,
      'crl_expired counted',
    );
    expect(s.server.stats.handshakeFailuresByReason.revoked).toBeUndefined();
    expect(logger.lines.some((l) => /the server's problem, not the client's/.test(l.msg))).toBe(
      true,
    );
  });
});

describe('--max-crl-bytes', () => {
  // Enough entries to pass the smallest limit, 1024 bytes.
  const manySerials = Array.from({ length: 60 }, (_, i) => `10${i.toString(16).padStart(4, '0')}`);

  it('the library refuses a bigger CRL with TLSLP_ERR_CRL_TOO_BIG', async () => {
    const crl = await issueCrl(certs, { revoked: manySerials });
    const err = await server({ tls: { ...tlsOf(certs), crl }, maxCrlBytes: 1024 }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe('TLSLP_ERR_CRL_TOO_BIG');
    expect((err as Error).message).toMatch(/more than the 1024 maxCrlBytes allows/);
  });

  it('the CLI stops at start with one line naming the flag', async () => {
    const dir = await tempDir();
    const files = {
      'server-cert.pem': certs.serverCert,
      'server-key.pem': certs.serverKey,
      'ca_cert.pem': certs.caCert,
      'ca_crl.pem': await issueCrl(certs, { revoked: manySerials }),
    };
    for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
    const at = (name: string): string => join(dir, name);
    const r = await runBin(
      'server',
      [
        '--port=0',
        `--server-cert=${at('server-cert.pem')}`,
        `--server-key=${at('server-key.pem')}`,
        `--ca-cert=${at('ca_cert.pem')}`,
        `--crl=${at('ca_crl.pem')}`,
        '--max-crl-bytes=1024',
      ],
      dir,
    );
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(
        /^tlslp-server: error: --crl .*ca_crl\.pem: \d+ bytes, more than the 1024 --max-crl-bytes allows; raise --max-crl-bytes or publish a smaller CRL$/,
      ),
    ]);
  });
});

function tlsOf(set: CertificateSet): { cert: string; key: string; ca: string } {
  return { cert: set.serverCert, key: set.serverKey, ca: set.caCert };
}
