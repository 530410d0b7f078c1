/**
 * `tlslp-server --no-simulate-failures` (library `simulateFailures: false`) and the client's
 * `simulated` in `--json`: the drawn FAIL told apart from a FAIL for a real error.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CertificateSet } from '../src/pki/generate.js';
import type { ClientSummary } from '../src/cli/client.js';
import { resolveServerOptions } from '../src/options/server.js';
import { randomToken } from '../src/protocol/random.js';
import { FAIL_REASONS } from '../src/server/session.js';
import { SocketLineChannel } from '../src/transport/channel.js';
import {
  clientCertFlags,
  runClientBin,
  scriptedServer,
  testCerts,
  useTempDirs,
  type BinRun,
} from './helpers.js';
import { startServerProcess, type ServerProcess } from './server-process.js';

const tempDir = useTempDirs('tlslp-simulate-');
let certs: CertificateSet;
let dir: string;
let certFlags: string[];
let files: Record<string, string>;

beforeAll(async () => {
  certs = await testCerts();
  dir = await tempDir();
  certFlags = await clientCertFlags(certs, join(dir, 'client'));
  files = {
    serverCert: join(dir, 'server-cert.pem'),
    serverKey: join(dir, 'server-key.pem'),
    caCert: join(dir, 'ca.pem'),
  };
  await writeFile(files.serverCert as string, certs.serverCert);
  await writeFile(files.serverKey as string, certs.serverKey);
  await writeFile(files.caCert as string, certs.caCert);
}, 60_000);

const client = (port: number, more: string[] = ['--json']): Promise<BinRun> =>
  runClientBin(['--host', '127.0.0.1', '--ports', String(port), ...certFlags, ...more], dir);

async function withServer(args: string[], body: (s: ServerProcess) => Promise<void>) {
  const s = await startServerProcess('server', await tempDir(), files, ['--n_bits', '4', ...args]);
  try {
    await body(s);
  } finally {
    s.child.kill('SIGTERM');
    await s.exited;
  }
}

describe('--no-simulate-failures', () => {
  it('the library keeps drawing the FAIL unless told not to', () => {
    expect(resolveServerOptions({}).simulateFailures).toBe(true);
    expect(resolveServerOptions({ simulateFailures: false }).simulateFailures).toBe(false);
  });

  it('every session ends in DONE/OK: exit 0, simulated false', async () => {
    // With the draw on, 5 sessions in a row without it happen about once in 10^5 runs.
    await withServer(['--no-simulate-failures'], async (s) => {
      for (let i = 0; i < 5; i++) {
        const r = await client(s.port);
        const summary = JSON.parse(r.stdout) as ClientSummary;
        expect(summary).toMatchObject({ ok: true, serverFail: null, simulated: false });
        expect(r.code).toBe(0);
      }
    });
  }, 20_000);

  it('without it, the drawn FAIL is simulated: true in --json (exit 1)', async () => {
    await withServer([], async (s) => {
      let summary: ClientSummary | null = null;
      for (let i = 0; i < 30 && !summary?.serverFail; i++) {
        const r = await client(s.port);
        summary = JSON.parse(r.stdout) as ClientSummary;
        expect(r.code).toBe(summary.ok ? 0 : 1);
      }
      expect(summary).toMatchObject({ ok: false, simulated: true });
      expect(summary?.serverFail).toMatch(/^[A-Za-z0-9_-]{8}$/);
    });
  }, 20_000);
});

describe('a FAIL for a real error', () => {
  it('is simulated: false in --json, and the report says it is a real error', async () => {
    // In the body, where the drawn FAIL comes, but with one of the server's reasons.
    const s = await scriptedServer(certs, (socket: TLSSocket) => {
      const ch = new SocketLineChannel(socket);
      void (async () => {
        for (const line of ['HELLO', `WORK ${randomToken(64)} 1`, 'EMAIL1 abc']) {
          ch.writeLine(line);
          await ch.readLine(5000);
        }
        ch.writeLine(`FAIL ${FAIL_REASONS.badChecksum}`);
        ch.end();
      })().catch(() => socket.destroy());
    });
    try {
      const json = await client(s.port);
      expect(json.code).toBe(1);
      expect(JSON.parse(json.stdout)).toMatchObject({
        ok: false,
        serverFail: FAIL_REASONS.badChecksum,
        simulated: false,
        errorCode: 'TLSLP_ERR_SERVER_FAIL',
      });
      const human = await client(s.port, ['--quiet']);
      expect(human.code).toBe(1);
      expect(human.stderr.trim()).toBe(
        `tlslp-client: error: server sent FAIL: ${FAIL_REASONS.badChecksum} (a real error, not the protocol's simulated FAIL)`,
      );
    } finally {
      s.close();
    }
  }, 20_000);
});
