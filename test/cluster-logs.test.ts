/**
 * Cluster logs (`--workers 2`, JSON): each worker's record carries `worker` as a field (not
 * in `msg`), `worker` and `session` together name one session, and times are RFC 3339 UTC
 * with milliseconds.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeCertificateSet, type CertificateSet } from '../src/pki/generate.js';
import { completeSessions, serverCertFlags, testCerts, until, useTempDirs } from './helpers.js';
import { jsonLog } from './server-process.js';

const tempDir = useTempDirs('tlslp-cluster-logs-');
let certs: CertificateSet;
let dir: string;

beforeAll(async () => {
  certs = await testCerts();
  dir = await tempDir();
  await writeCertificateSet(dir, certs);
});

describe('tlslp-server --workers 2 --log-format json', () => {
  it(
    'worker is a field, (worker, session) is unique, times are RFC 3339 with ms',
    { timeout: 20_000 },
    async () => {
      const log = join(dir, 'cluster.log');
      const child = spawn(
        process.execPath,
        [
          'dist/cli/server.js',
          ...['--workers', '2', '--host', '127.0.0.1', '--port', '0', '--n_bits', '2', '--quiet'],
          ...['--log-format', 'json', '--log-file', log],
          ...serverCertFlags(dir),
        ],
        { env: { ...process.env, XDG_STATE_HOME: dir }, stdio: ['ignore', 'pipe', 'inherit'] },
      );
      const exited = new Promise((resolve) => child.on('close', resolve));
      let stdout = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      await until(
        () => /listening on 127\.0\.0\.1:\d+ \(2 workers\)/.test(stdout),
        'two workers to listen',
        15_000,
      );
      const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(stdout)?.[1]);
      try {
        await completeSessions(port, certs, 8);
        const ended = async () =>
          (await jsonLog(log)).filter((r) => String(r.msg).startsWith('Session ended'));
        await until(async () => (await ended()).length === 8, 'eight sessions logged');
        const records = await jsonLog(log);
        for (const r of records) {
          expect(String(r.time)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
          expect(String(r.msg)).not.toMatch(/^\[w\d+\]/);
        }
        const workers = records.filter(
          (r) => r.msg === 'Worker started' || typeof r.worker === 'number',
        );
        expect(new Set(workers.map((r) => r.worker)).size).toBe(2);
        const sessions = (await ended()).map((r) => `${String(r.worker)}-${String(r.session)}`);
        expect(sessions.every((s) => /^\d+-\d+$/.test(s))).toBe(true);
        expect(new Set(sessions).size).toBe(8);
      } finally {
        child.kill('SIGTERM');
        await exited;
      }
    },
  );
});
