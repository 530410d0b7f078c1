/**
 * Certificate reload and revocation (issue 12): `server.reload()` swaps the certificate, key,
 * CA and CRL for new handshakes while sessions in flight go on; bad material is refused and
 * the material in use kept; a CRL refuses a revoked client (`revoked`). Then the bin: SIGHUP,
 * `--reload-interval`, and `--workers 2` forwarding. Real mutual TLS on loopback, with
 * certificates and CRLs made at test time.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import diagnosticsChannel from 'node:diagnostics_channel';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import tls from 'node:tls';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CertificateSet } from '../src/pki/generate.js';
import { runClient, type ClientResult } from '../src/client/client.js';
import { ConfigError } from '../src/errors/index.js';
import { SERVER_CHANNELS, type TlsReloadedEvent } from '../src/server/events.js';
import { ServerMetrics } from '../src/server/metrics.js';
import { TlslpServer } from '../src/server/server.js';
import { builtinSolver } from '../src/solver/adapters.js';
import {
  clientTls,
  copySharedCerts,
  heldAtWork,
  memoryLogger,
  testCerts,
  until,
  useServers,
  useTempDirs,
  within,
} from './helpers.js';
import { issueClientCert, issueCrl } from './issue-cert.js';

const serverBin = resolve(import.meta.dirname, '..', 'dist', 'cli', 'server.js');
const tlslpBin = resolve(import.meta.dirname, '..', 'dist', 'cli', 'tlslp.js');
const DAY_MS = 86_400_000;

let certs: CertificateSet;
/** A second server certificate and key from the same CA, valid for localhost and 127.0.0.1. */
let next: { cert: string; key: string };
/** A second client, and a CRL of the CA that revokes it. */
let revokedClient: { cert: string; key: string };
let revokingCrl: string;
let emptyCrl: string;

beforeAll(async () => {
  certs = await testCerts();
  next = await issueClientCert(certs, {
    eku: 'serverAuth',
    commonName: 'localhost',
    hosts: ['localhost', '127.0.0.1'],
  });
  revokedClient = await issueClientCert(certs, { commonName: 'revoked-client' });
  revokingCrl = await issueCrl(certs, { revoked: [serialOf(revokedClient.cert)] });
  emptyCrl = await issueCrl(certs);
});

const serialOf = (pem: string): string => new X509Certificate(pem).serialNumber;

/** The serial number of the certificate the server at `port` shows a new client. */
async function peerSerial(port: number): Promise<string> {
  const socket = tls.connect({
    host: '127.0.0.1',
    port,
    ...clientTls(certs),
    servername: 'localhost',
  });
  try {
    return await within(
      new Promise<string>((resolve, reject) => {
        socket.once('secureConnect', () => resolve(socket.getPeerCertificate().serialNumber));
        socket.once('error', reject);
      }),
      10_000,
      'a TLS handshake',
    );
  } finally {
    socket.destroy();
  }
}

/**
 * A client session held at WORK (its solver waits) until `release()`; `result` settles once
 * the session ends.
 */
function heldSession(port: number): {
  atWork: Promise<void>;
  release: () => void;
  result: Promise<ClientResult>;
} {
  let atWork!: () => void;
  let release!: () => void;
  const reached = new Promise<void>((r) => (atWork = r));
  const released = new Promise<void>((r) => (release = r));
  const solve = builtinSolver({ threads: 1 });
  const result = runClient({
    host: '127.0.0.1',
    ports: [port],
    tls: clientTls(certs),
    solver: async (token, nBits, signal) => {
      atWork();
      await released;
      return solve(token, nBits, signal);
    },
  });
  result.catch(() => {});
  return { atWork: reached, release, result };
}

/**
 * A client with `client`'s certificate (trusting `ca`, the set's by default): resolves when its
 * session ends, rejects when refused.
 */
function connectAs(
  port: number,
  client: { cert: string; key: string },
  ca = certs.caCert,
): Promise<ClientResult> {
  return runClient({
    host: '127.0.0.1',
    ports: [port],
    tls: { ca, ...client },
    solverOptions: { threads: 1 },
  });
}

/** Resolves once `session` ends in DONE/OK or a drawn FAIL (both complete sessions). */
async function completes(session: Promise<ClientResult>, what: string): Promise<void> {
  try {
    await within(session, 30_000, what);
  } catch (err) {
    if ((err as Error).name !== 'ServerFailError') throw err;
  }
}

/** Resolves with the error `session` is refused with (a session that completes fails the test). */
async function refused(session: Promise<ClientResult>): Promise<Error> {
  const err = await within(session, 30_000, 'the refusal').then(
    () => new Error('the session was not refused'),
    (e: unknown) => e as Error,
  );
  expect(err.name).toBe('TransportError');
  return err;
}

/** The `tlsReloaded` events of every server while a test runs. */
function reloadEvents(): TlsReloadedEvent[] {
  const seen: TlsReloadedEvent[] = [];
  const listener = (m: unknown): void => void seen.push(m as TlsReloadedEvent);
  diagnosticsChannel.subscribe(SERVER_CHANNELS.tlsReloaded, listener);
  cleanups.push(() => {
    diagnosticsChannel.unsubscribe(SERVER_CHANNELS.tlsReloaded, listener);
  });
  return seen;
}

const cleanups: Array<() => void | Promise<void>> = [];
// peerSerial's connections end before WORK, which the failure budget counts: no budget here.
const { server } = useServers(() => certs, {
  simulateFailures: false,
  maxHandshakeFailuresPerIp: 0,
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function gauge(metrics: ServerMetrics, which: string): Promise<number | undefined> {
  const json = await metrics.certificateExpiry.get();
  return json.values.find((v) => v.labels.which === which)?.value;
}

describe('server.reload()', () => {
  it('new handshakes get the new certificate, a session held at WORK completes, the same files again are a no-op', async () => {
    const events = reloadEvents();
    const s = await server();
    const sockets: tls.TLSSocket[] = [];
    cleanups.push(() => sockets.forEach((k) => k.destroy()));
    const idle = await heldAtWork(s.port, certs, (k) => sockets.push(k));
    const held = heldSession(s.port);
    await within(held.atWork, 10_000, 'the session to reach WORK');
    expect(await peerSerial(s.port)).toBe(serialOf(certs.serverCert));

    const r = s.server.reload({ cert: next.cert, key: next.key, ca: certs.caCert });
    expect(r).toMatchObject({
      outcome: 'reloaded',
      changed: ['cert', 'key'],
      serverSerial: serialOf(next.cert),
      previousSerial: serialOf(certs.serverCert),
    });
    expect(await peerSerial(s.port)).toBe(serialOf(next.cert));
    held.release();
    const done = await within(held.result, 30_000, 'the held session to end');
    expect(done.port).toBe(s.port);
    // The other session at WORK is still connected, on the old certificate.
    expect(idle.destroyed).toBe(false);
    expect(idle.getPeerCertificate().serialNumber).toBe(serialOf(certs.serverCert));

    const again = s.server.reload({ cert: next.cert, key: next.key, ca: certs.caCert });
    expect(again.outcome).toBe('unchanged');
    const mine = events.filter((e) => e.server === s.server);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({
      ok: true,
      serverSerial: serialOf(next.cert),
      previousSerial: serialOf(certs.serverCert),
      caSerials: [serialOf(certs.caCert)],
    });
  });

  it('a file that does not parse, or a key of another certificate, keeps the material in use and logs one ERROR each', async () => {
    const logger = memoryLogger();
    const s = await server({ logger });
    const errors = (): string[] =>
      logger.lines.filter((l) => l.level === 'ERROR').map((l) => l.msg);
    const garbage = s.server.reload({ cert: 'not a certificate', key: next.key, ca: certs.caCert });
    expect(garbage.outcome).toBe('failed');
    expect(garbage.error?.code).toBe('TLSLP_ERR_CERT_FILE');
    const mismatch = { cert: next.cert, key: certs.serverKey, ca: certs.caCert };
    const r = s.server.reload(mismatch, {
      cert: '--server-cert new.pem',
      key: '--server-key old.pem',
      ca: '--ca-cert ca.pem',
    });
    expect(r).toMatchObject({ outcome: 'failed', repeated: false });
    expect(r.error?.code).toBe('TLSLP_ERR_KEY_MISMATCH');
    // The same bad material again (an interval tick): nothing more in the log.
    expect(s.server.reload(mismatch).repeated).toBe(true);
    expect(errors()).toHaveLength(2);
    expect(errors()[0]).toMatch(
      /^TLS reload failed, still serving the previous material: tls\.cert: /,
    );
    expect(errors()[1]).toMatch(
      /--server-key old\.pem does not match the certificate in --server-cert new\.pem/,
    );
    expect(await peerSerial(s.port)).toBe(serialOf(certs.serverCert));
  });

  it('a CRL swapped in refuses the revoked client, counted as revoked; others go on', async () => {
    const metrics = new ServerMetrics();
    const s = await server({
      tls: { cert: certs.serverCert, key: certs.serverKey, ca: certs.caCert, crl: emptyCrl },
      metrics,
    });
    await within(connectAs(s.port, revokedClient), 30_000, 'a session before the revocation');
    const r = s.server.reload({
      cert: certs.serverCert,
      key: certs.serverKey,
      ca: certs.caCert,
      crl: revokingCrl,
    });
    expect(r).toMatchObject({ outcome: 'reloaded', changed: ['crl'], revoked: 1 });
    await refused(connectAs(s.port, revokedClient));
    await until(() => s.server.stats.handshakeFailuresByReason.revoked === 1, 'revoked counted');
    const counted = await metrics.handshakeFailures.get();
    expect(counted.values.find((v) => v.labels.reason === 'revoked')?.value).toBe(1);
    await within(connectAs(s.port, clientTls(certs)), 30_000, 'a session of a client not revoked');
  });

  it('a CRL that does not parse, of another CA or past its nextUpdate is refused at start, naming tls.crl', async () => {
    const other = await issueClientCert(certs, { ca: true, commonName: 'another CA' });
    const cases = [
      ['-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n', /tls\.crl: not a CRL/],
      [await issueCrl(certs, { issuer: other }), /tls\.crl: not issued by the CA/],
      [
        await issueCrl(certs, {
          thisUpdate: new Date(Date.now() - 2 * DAY_MS),
          nextUpdate: new Date(Date.now() - DAY_MS),
        }),
        /tls\.crl: its nextUpdate .* has passed/,
      ],
    ] as const;
    for (const [crl, message] of cases) {
      let thrown: unknown;
      try {
        new TlslpServer({
          port: 0,
          tls: { cert: certs.serverCert, key: certs.serverKey, ca: certs.caCert, crl },
        });
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(ConfigError);
      expect((thrown as ConfigError).option).toBe('tls.crl');
      expect((thrown as ConfigError).message).toMatch(message);
    }
    // The label @peculiar/x509 writes (`CRL`) is read as well.
    const relabelled = revokingCrl.replace(/X509 CRL/g, 'CRL');
    const s = await server({
      tls: { cert: certs.serverCert, key: certs.serverKey, ca: certs.caCert, crl: relabelled },
    });
    await refused(connectAs(s.port, revokedClient));
  });

  it('the expiry gauges follow the material; a certificate ending within 14 days warns once a day', async () => {
    const metrics = new ServerMetrics();
    const logger = memoryLogger();
    const s = await server({ metrics, logger });
    const seconds = (pem: string): number =>
      Math.floor(new Date(new X509Certificate(pem).validTo).getTime() / 1000);
    expect(await gauge(metrics, 'server')).toBe(seconds(certs.serverCert));
    expect(await gauge(metrics, 'ca')).toBe(seconds(certs.caCert));
    const soon = await issueClientCert(certs, {
      eku: 'serverAuth',
      hosts: ['localhost', '127.0.0.1'],
      notAfter: new Date(Date.now() + 5 * DAY_MS),
    });
    const material = { cert: soon.cert, key: soon.key, ca: certs.caCert };
    const r = s.server.reload(material);
    expect(r.outcome).toBe('reloaded');
    expect(r.warnings[0]).toMatch(/expires on .* \(in 4 days\)/);
    expect(await gauge(metrics, 'server')).toBe(seconds(soon.cert));
    s.server.reload(material);
    s.server.reload(material);
    expect(logger.lines.filter((l) => l.level === 'WARNING').map((l) => l.msg)).toEqual([
      r.warnings[0],
    ]);
  });
});

/** A `tlslp-server` process, its files in `dir`, every log record on stderr. */
interface Bin {
  child: ChildProcess;
  port: number;
  metricsPort?: number;
  /** The log records so far. */
  lines(): string[];
  /** Resolves once `count` records match (bounded). */
  waitFor(pattern: RegExp, count?: number): Promise<void>;
}

const newDir = useTempDirs('tlslp-reload-');

/** Write the server's files into a new folder: the set's CA, certificate and key, and `crl`. */
async function serverFiles(crl?: string): Promise<{ dir: string; flags: string[] }> {
  const dir = await newDir();
  await writeFile(join(dir, 'server-cert.pem'), certs.serverCert);
  await writeFile(join(dir, 'server-key.pem'), certs.serverKey, { mode: 0o600 });
  await writeFile(join(dir, 'ca_cert.pem'), certs.caCert);
  const flags = ['--server-cert', 'server-cert.pem', '--server-key', 'server-key.pem'];
  flags.push('--ca-cert', 'ca_cert.pem');
  if (crl !== undefined) {
    await writeFile(join(dir, 'ca_crl.pem'), crl);
    flags.push('--crl', 'ca_crl.pem');
  }
  return { dir, flags };
}

/** Replace a file as an editor or `mv` does: write aside, then rename over it. */
async function replace(dir: string, name: string, text: string): Promise<void> {
  await writeFile(join(dir, `${name}.new`), text, { mode: 0o600 });
  await rename(join(dir, `${name}.new`), join(dir, name));
}

async function startBin(dir: string, args: string[]): Promise<Bin> {
  const child = spawn(
    process.execPath,
    [
      serverBin,
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--n_bits',
      '8',
      '--log-file',
      '-',
      '--max-handshake-failures-per-ip',
      '0',
      ...args,
    ],
    { cwd: dir, env: { ...process.env, FORCE_COLOR: '0' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  cleanups.push(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const closed = new Promise((r) => child.once('close', r));
    child.kill('SIGTERM');
    await within(closed, 20_000, 'the server bin to stop').catch(() => child.kill('SIGKILL'));
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const lines = (): string[] => stderr.split('\n').filter((l) => l !== '');
  // The metrics line may come in a write of its own after the listening line.
  const wantMetrics = args.includes('--metrics-port');
  await until(
    () =>
      (/listening on/.test(stdout) && (!wantMetrics || /metrics on/.test(stdout))) ||
      child.exitCode !== null,
    'the server bin to listen',
    30_000,
  );
  const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(stdout)?.[1]);
  if (!port) throw new Error(`the server did not start: ${stderr}`);
  const metrics = /metrics on http:\/\/127\.0\.0\.1:(\d+)/.exec(stdout)?.[1];
  return {
    child,
    port,
    ...(metrics ? { metricsPort: Number(metrics) } : {}),
    lines,
    waitFor: (pattern, count = 1) =>
      until(
        () => lines().filter((l) => pattern.test(l)).length >= count,
        `${count} log line(s) matching ${pattern}`,
        30_000,
      ),
  };
}

/** Wait until the bin's metrics count one handshake failed as `revoked`. */
async function revokedCounted(bin: Bin): Promise<void> {
  const port = bin.metricsPort as number;
  await until(
    async () =>
      /tlslp_handshake_failures_total\{reason="revoked"\} 1/.test(await metricsText(port)),
    'revoked in the metrics',
  );
}

async function metricsText(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  return res.text();
}

describe('tlslp-server: SIGHUP and --reload-interval', () => {
  it('SIGHUP: a session held at WORK completes, the next connection sees the new certificate', async () => {
    const { dir, flags } = await serverFiles();
    const bin = await startBin(dir, flags);
    const held = heldSession(bin.port);
    await within(held.atWork, 10_000, 'the session to reach WORK');
    await replace(dir, 'server-key.pem', next.key);
    await replace(dir, 'server-cert.pem', next.cert);
    bin.child.kill('SIGHUP');
    await bin.waitFor(/TLS material reloaded \(cert, key changed\)/);
    expect(await peerSerial(bin.port)).toBe(serialOf(next.cert));
    held.release();
    await completes(held.result, 'the held session to end');
    // Again with the same files: said once, changes nothing.
    bin.child.kill('SIGHUP');
    await bin.waitFor(/SIGHUP: TLS files unchanged/);
    expect(bin.lines().filter((l) => /TLS material reloaded/.test(l))).toHaveLength(1);
  });

  it('SIGHUP with a file that does not parse, then a certificate not matching the key: one ERROR each, the old material serves', async () => {
    const { dir, flags } = await serverFiles();
    const bin = await startBin(dir, flags);
    await replace(dir, 'server-cert.pem', 'garbage\n');
    bin.child.kill('SIGHUP');
    await bin.waitFor(/ERROR/);
    const errors = (): string[] => bin.lines().filter((l) => /ERROR/.test(l));
    expect(errors()).toHaveLength(1);
    expect(errors()[0]).toMatch(
      /TLS reload failed, still serving the previous material: --server-cert server-cert\.pem: not a PEM file$/,
    );
    expect(await peerSerial(bin.port)).toBe(serialOf(certs.serverCert));
    await replace(dir, 'server-cert.pem', next.cert);
    bin.child.kill('SIGHUP');
    await bin.waitFor(/ERROR/, 2);
    expect(errors()[1]).toMatch(
      /--server-key server-key\.pem does not match the certificate in --server-cert server-cert\.pem/,
    );
    expect(bin.lines().join('\n')).not.toMatch(/\n\s+at /);
    expect(await peerSerial(bin.port)).toBe(serialOf(certs.serverCert));
  });

  it('--crl: a client revoked in a replaced CRL is refused after SIGHUP, counted as revoked', async () => {
    const { dir, flags } = await serverFiles(emptyCrl);
    const bin = await startBin(dir, [...flags, '--metrics-port', '0']);
    await completes(connectAs(bin.port, revokedClient), 'a session before the revocation');
    await replace(dir, 'ca_crl.pem', revokingCrl);
    bin.child.kill('SIGHUP');
    await bin.waitFor(/TLS material reloaded \(crl changed\).*CRL lists 1 revoked/);
    await refused(connectAs(bin.port, revokedClient));
    await bin.waitFor(/client certificate refused: the client certificate is revoked/);
    await revokedCounted(bin);
    await completes(connectAs(bin.port, clientTls(certs)), 'a client not revoked');
  });

  it('tlslp certs client + revoke, then SIGHUP: the CLI-made CRL refuses the revoked client, others go on', async () => {
    const dir = await newDir();
    const tlslp = (...args: string[]): string =>
      execFileSync(process.execPath, [tlslpBin, 'certs', ...args], {
        cwd: dir,
        encoding: 'utf8',
        env: { ...process.env, NO_COLOR: '1' },
      });
    // The CA: the run's shared set (making one is `tlslp certs`'s own tests' subject).
    await copySharedCerts(dir);
    tlslp('client', '--dir', '.', '--name', 'jane');
    tlslp('client', '--dir', '.', '--name', 'sam');
    // A CRL must exist at start: revoke a serial nobody holds.
    tlslp('revoke', '--dir', '.', '--serial', '01');
    const flags = ['--server-cert', 'server-cert.pem', '--server-key', 'server-key.pem'];
    flags.push('--ca-cert', 'ca_cert.pem', '--crl', 'ca_crl.pem', '--metrics-port', '0');
    const bin = await startBin(dir, flags);
    const ca = await readFile(join(dir, 'ca_cert.pem'), 'utf8');
    const as = async (name: string): Promise<ClientResult> => {
      const [cert, key] = await Promise.all([
        readFile(join(dir, `${name}_cert.pem`), 'utf8'),
        readFile(join(dir, `${name}_key.pem`), 'utf8'),
      ]);
      return connectAs(bin.port, { cert, key }, ca);
    };
    await completes(as('jane'), 'jane before the revocation');
    expect(tlslp('revoke', '--dir', '.', '--cert', 'jane_cert.pem')).toMatch(/revoked: serial/);
    bin.child.kill('SIGHUP');
    await bin.waitFor(/TLS material reloaded \(crl changed\).*CRL lists 2 revoked/);
    await refused(as('jane'));
    await bin.waitFor(/client certificate refused: the client certificate is revoked/);
    await revokedCounted(bin);
    await completes(as('sam'), 'sam, not revoked');
  });

  it('--crl with a missing file or another CA stops the start, naming --crl', async () => {
    const { dir, flags } = await serverFiles();
    for (const [crl, message] of [
      [null, /--crl missing\.pem: not found/],
      [
        await issueCrl(certs, {
          issuer: await issueClientCert(certs, { ca: true, commonName: 'another CA' }),
        }),
        /--crl other\.pem: not issued by the CA/,
      ],
    ] as const) {
      const name = crl === null ? 'missing.pem' : 'other.pem';
      if (crl !== null) await writeFile(join(dir, name), crl);
      const child = spawn(
        process.execPath,
        [serverBin, '--port', '0', '--log-file', 'none', ...flags, '--crl', name],
        {
          cwd: dir,
          env: { ...process.env, FORCE_COLOR: '0' },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const code = await within(
        new Promise<number | null>((r) => child.on('close', r)),
        30_000,
        'the bin to exit',
      );
      expect(code).toBe(2);
      expect(stderr).toMatch(message);
    }
  });

  it('--reload-interval picks up a new certificate without a signal; the expiry gauge follows', async () => {
    const { dir, flags } = await serverFiles();
    const bin = await startBin(dir, [...flags, '--reload-interval', '0.2', '--metrics-port', '0']);
    const port = bin.metricsPort as number;
    const expiry = (pem: string): string =>
      String(Math.floor(new Date(new X509Certificate(pem).validTo).getTime() / 1000));
    const gaugeLine = (pem: string): RegExp =>
      new RegExp(
        `tlslp_certificate_expiry_timestamp_seconds\\{which="server"\\} ${expiry(pem)}\\b`,
      );
    expect(await metricsText(port)).toMatch(gaugeLine(certs.serverCert));
    expect(await metricsText(port)).toMatch(
      new RegExp(
        `tlslp_certificate_expiry_timestamp_seconds\\{which="ca"\\} ${expiry(certs.caCert)}\\b`,
      ),
    );
    await replace(dir, 'server-key.pem', next.key);
    await replace(dir, 'server-cert.pem', next.cert);
    await bin.waitFor(/TLS material reloaded \(cert, key changed\)/);
    expect(await peerSerial(bin.port)).toBe(serialOf(next.cert));
    // The text is rendered at most once a second: the next render has the new gauge.
    await until(
      async () => gaugeLine(next.cert).test(await metricsText(port)),
      'the new expiry gauge',
    );
    // The key came before its certificate: no tick took the pair half-replaced.
    expect(bin.lines().filter((l) => /ERROR/.test(l))).toEqual([]);
  });

  it('--workers 2: SIGHUP to the primary reloads every worker', async () => {
    const { dir, flags } = await serverFiles();
    const bin = await startBin(dir, [...flags, '--workers', '2']);
    await bin.waitFor(/2 workers listening/);
    await replace(dir, 'server-key.pem', next.key);
    await replace(dir, 'server-cert.pem', next.cert);
    bin.child.kill('SIGHUP');
    await bin.waitFor(/2 worker\(s\) told to reread the TLS files/);
    await bin.waitFor(/TLS material reloaded/, 2);
    for (let i = 0; i < 6; i++) expect(await peerSerial(bin.port)).toBe(serialOf(next.cert));
  });
});
