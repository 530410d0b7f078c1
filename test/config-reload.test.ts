/**
 * SIGHUP rereads `--config`: a real `tlslp-server` process whose allow-list and limits change
 * live, a config that does not check changing nothing (one ERROR line), an option that needs
 * a restart getting a WARNING; and `TlslpServer.reconfigure` itself, atomic and typed.
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../src/errors/index.js';
import { writeCertificateSet, type CertificateSet } from '../src/pki/generate.js';
import { heldAtWork, testCerts, until, useServers, useTempDirs } from './helpers.js';
import { firstLine } from './first-line.js';
import { issueClientCert } from './issue-cert.js';
import { jsonLog, startServerProcess, type ServerProcess } from './server-process.js';

const tempDir = useTempDirs('tlslp-config-reload-');
let certs: CertificateSet;
/** The test set with its client certificate replaced by one with subject OU `a` or `b`. */
let teamA: CertificateSet;
let teamB: CertificateSet;

beforeAll(async () => {
  certs = await testCerts();
  const [a, b] = await Promise.all(
    ['a', 'b'].map((ou) =>
      issueClientCert(certs, { commonName: `team-${ou}`, organizationalUnits: [ou] }),
    ),
  );
  teamA = {
    ...certs,
    clientCert: (a as { cert: string }).cert,
    clientKey: (a as { key: string }).key,
  };
  teamB = {
    ...certs,
    clientCert: (b as { cert: string }).cert,
    clientKey: (b as { key: string }).key,
  };
}, 20_000);

describe('tlslp-server: SIGHUP rereads --config', () => {
  let server: ServerProcess;
  let config: string;
  const held = new Set<tls.TLSSocket>();

  beforeAll(async () => {
    const dir = await tempDir();
    const files = (await writeCertificateSet(join(dir, 'certificates'), certs)).paths;
    config = join(dir, 'server.toml');
    await writeFile(config, 'allow-ou = ["a"]\nmax-per-ip = 4\n');
    // No failure budget: the tests' connections end before WORK, which spends it.
    server = await startServerProcess('reload', dir, files, [
      '--n_bits',
      '4',
      '--max-handshake-failures-per-ip',
      '0',
      '--config',
      config,
    ]);
  }, 20_000);

  afterAll(async () => {
    for (const s of held) s.destroy();
    server?.child.kill('SIGKILL');
    await server?.exited;
  });

  /** SIGHUP, then the first new log record at `level` matching `pattern`. */
  async function hangup(level: string, pattern: RegExp): Promise<string> {
    const before = (await jsonLog(server.log)).length;
    server.child.kill('SIGHUP');
    let found = '';
    await until(
      async () => {
        const rec = (await jsonLog(server.log))
          .slice(before)
          .find((r) => r.level === level && pattern.test(String(r.msg)));
        found = rec ? String(rec.msg) : '';
        return rec !== undefined;
      },
      `a ${level} line ${pattern}`,
      10_000,
    );
    return found;
  }

  it('an OU added to the file lets its client in after SIGHUP, without a restart', async () => {
    expect(await firstLine(server.port, teamB)).toBe('FAIL Not authorized.');
    expect(await firstLine(server.port, teamA)).toBe('HELLO');
    await writeFile(config, 'allow-ou = ["a", "b"]\nmax-per-ip = 4\n');
    expect(await hangup('INFO', /^config reloaded: /)).toBe(
      'config reloaded: allow-ou [a] → [a, b]',
    );
    expect(await firstLine(server.port, teamB)).toBe('HELLO');
  }, 20_000);

  it('a lowered limit holds for new connections; the session in flight goes on', async () => {
    await writeFile(config, 'allow-ou = ["a", "b"]\nmax-per-ip = 1\nlog-level = "DEBUG"\n');
    expect(await hangup('INFO', /^config reloaded: /)).toBe(
      'config reloaded: max-per-ip 4 → 1, log-level INFO → DEBUG',
    );
    const first = await heldAtWork(server.port, teamA, (s) => held.add(s));
    // A second session from the same IP is past max-per-ip 1: refused before TLS.
    expect(await firstLine(server.port, teamA)).toBe('closed');
    expect(first.destroyed).toBe(false);
    first.destroy();
  }, 20_000);

  it('a config that does not check changes nothing and logs one ERROR naming the file and key', async () => {
    await writeFile(config, 'allow-ou = ["a"]\nmax-per-ip = -3\n');
    const error = await hangup('ERROR', /^config reload failed/);
    expect(error).toContain(config);
    expect(error).toContain('"max-per-ip"');
    // The allow-list of the file is not taken either: b still comes in.
    await until(async () => (await firstLine(server.port, teamB)) === 'HELLO', 'b admitted');
  }, 20_000);

  it('an option that needs a restart gets a WARNING and keeps its value', async () => {
    await writeFile(
      config,
      'allow-ou = ["a", "b"]\nmax-per-ip = 1\nlog-level = "DEBUG"\nmax-crl-bytes = 4096\n',
    );
    const warning = await hangup('WARNING', /needs a restart/);
    expect(warning).toBe(
      'config reload: max-crl-bytes 67108864 → 4096 needs a restart; still 67108864',
    );
    // Sessions of the tests before may still be ending (max-per-ip 1).
    await until(async () => (await firstLine(server.port, teamB)) === 'HELLO', 'b admitted');
  }, 20_000);
});

describe('tlslp-server --workers 2: the primary rereads, the workers apply', () => {
  it('an OU added to the file is let in by every worker', async () => {
    const dir = await tempDir();
    const files = (await writeCertificateSet(join(dir, 'certificates'), certs)).paths;
    const config = join(dir, 'server.toml');
    await writeFile(config, 'allow-ou = ["a"]\n');
    const log = join(dir, 'cluster.log');
    const child = spawn(
      process.execPath,
      [
        'dist/cli/server.js',
        ...['--workers', '2', '--host', '127.0.0.1', '--port', '0', '--n_bits', '4'],
        ...['--server-cert', files.serverCert, '--server-key', files.serverKey],
        ...['--ca-cert', files.caCert, '--log-format', 'json', '--log-file', log],
        ...['--log-level', 'DEBUG', '--max-handshake-failures-per-ip', '0', '--config', config],
      ],
      { env: { ...process.env, XDG_STATE_HOME: dir }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const exited = new Promise((resolve) => child.on('close', resolve));
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    const s = { child, exited, log, port: 0 };
    try {
      await until(
        () => /listening on 127\.0\.0\.1:\d+ \(2 workers\)/.test(stdout),
        'both workers to listen',
        15_000,
      );
      s.port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(stdout)?.[1]);
      expect(await firstLine(s.port, teamB)).toBe('FAIL Not authorized.');
      await writeFile(config, 'allow-ou = ["a", "b"]\n');
      s.child.kill('SIGHUP');
      const applied = (recs: Array<Record<string, unknown>>) =>
        recs.filter((r) => String(r.msg).startsWith('config reload applied in this worker: '));
      await until(
        async () => applied(await jsonLog(s.log)).length === 2,
        'both workers to apply the file',
        10_000,
      );
      const recs = await jsonLog(s.log);
      expect(recs.filter((r) => r.msg === 'config reloaded: allow-ou [a] → [a, b]')).toHaveLength(
        1,
      );
      expect(new Set(applied(recs).map((r) => r.worker)).size).toBe(2);
      for (let i = 0; i < 6; i++) expect(await firstLine(s.port, teamB)).toBe('HELLO');
    } finally {
      s.child.kill('SIGKILL');
      await s.exited;
    }
  }, 20_000);
});

describe('TlslpServer.reconfigure', () => {
  const { server } = useServers(() => certs);

  it('applies the reloadable options to new connections and says what changed', async () => {
    const s = await server({ allowOu: ['a'], maxPerIp: 4 });
    expect(await firstLine(s.port, teamB)).toBe('FAIL Not authorized.');
    expect(s.server.reconfigure({ allowOu: ['a', 'b'], maxPerIp: 4 })).toEqual([
      { option: 'allowOu', from: ['a'], to: ['a', 'b'] },
    ]);
    expect(await firstLine(s.port, teamB)).toBe('HELLO');
    expect(s.server.options.allowOu).toEqual(['a', 'b']);
    // Nothing different: nothing to do.
    expect(s.server.reconfigure({ allowOu: ['a', 'b'] })).toEqual([]);
    // undefined: back to the default.
    expect(s.server.reconfigure({ maxPerIp: undefined })).toEqual([
      { option: 'maxPerIp', from: 4, to: 0 },
    ]);
  });

  it('is atomic: one bad value changes nothing, and the ConfigError names it', async () => {
    const s = await server({ allowOu: ['a'] });
    let err: unknown;
    try {
      s.server.reconfigure({ allowOu: ['a', 'b'], maxPerIp: -1 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe('TLSLP_ERR_BAD_OPTION');
    expect((err as ConfigError).option).toBe('maxPerIp');
    expect(s.server.options.allowOu).toEqual(['a']);
    expect(await firstLine(s.port, teamB)).toBe('FAIL Not authorized.');
  });

  it('refuses what only a restart can change', async () => {
    const s = await server({ nBits: 'auto', minBits: 4, maxBits: 8 });
    const codeOf = (f: () => unknown): string | undefined => {
      try {
        f();
      } catch (e) {
        return (e as ConfigError).code;
      }
      return undefined;
    };
    // Not a key of the type, as a plain-JS caller may still pass it.
    expect(codeOf(() => s.server.reconfigure({ port: 1 } as never))).toBe(
      'TLSLP_ERR_NOT_RELOADABLE',
    );
    expect(
      codeOf(() => s.server.reconfigure({ nBits: 6, minBits: undefined, maxBits: undefined })),
    ).toBe('TLSLP_ERR_NOT_RELOADABLE');
    expect(s.server.reconfigure({ minBits: 5, maxBits: 9 })).toEqual([
      { option: 'minBits', from: 4, to: 5 },
      { option: 'maxBits', from: 8, to: 9 },
    ]);
    expect(s.server.stats.nBits).toBe(5);
  });
});
