/**
 * The client stops solving the moment the server gives up during WORK: a FAIL (the server's
 * WORK deadline), a closed connection or a reset. Real mutual TLS on loopback.
 */
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type net from 'node:net';
import type tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runClient, type ClientEvent } from '../src/client/client.js';
import { ServerFailError, TransportError } from '../src/errors/index.js';
import { closeSolverPool, solverPoolState } from '../src/solver/pool.js';
import {
  clientCertFlags,
  clientTls,
  runClientBin,
  scriptedServer,
  startServer,
  testCerts,
  until,
  type TestServer,
} from './helpers.js';
import type { CertificateSet } from '../src/pki/generate.js';

let certs: CertificateSet;
let dir: string;

beforeAll(async () => {
  certs = await testCerts();
  dir = await mkdtemp(join(tmpdir(), 'tlslp-watch-'));
  await chmod(dir, 0o700);
});
afterAll(async () => {
  await closeSolverPool();
  await rm(dir, { recursive: true, force: true });
});

/**
 * A server that sends HELLO and WORK, then does `then` to the connection once the client
 * is solving: pass `onEvent` to runClient, whose work-start event is that moment.
 */
async function rawServer(
  then: (socket: tls.TLSSocket, raw: net.Socket) => void,
): Promise<{ port: number; close(): void; onEvent: (e: ClientEvent) => void }> {
  let solving = false;
  const server = await scriptedServer(certs, (socket, raw) => {
    socket.write('HELLO\n');
    socket.once('data', () => {
      socket.write('WORK abcdef 40\n');
      void until(() => solving, 'the client solving').then(() => then(socket, raw));
    });
  });
  return {
    ...server,
    onEvent: (e) => {
      if (e.type === 'work-start') solving = true;
    },
  };
}

// Bounds each client in these tests, should the watch ever fail to stop it.
const bounded = { workTimeoutMs: 20_000 };

describe('the client watches the connection while it solves', () => {
  it("aborts the solver threads on the server's WORK-timeout FAIL", async () => {
    // The threads spin from WORK to the FAIL: a short WORK timeout keeps that CPU small.
    const s: TestServer = await startServer(certs, { nBits: 40, workTimeoutMs: 500 });
    let failAt = 0;
    const started = performance.now();
    try {
      const err = await runClient({
        host: '127.0.0.1',
        ports: [s.port],
        tls: clientTls(certs),
        solverOptions: { threads: 2 },
        ...bounded,
        onEvent: (e) => {
          if (e.type === 'recv' && e.line.startsWith('FAIL')) failAt = performance.now();
        },
      }).catch((e: unknown) => e);
      const endedAt = performance.now();
      expect(err).toBeInstanceOf(ServerFailError);
      expect((err as ServerFailError).reason).toBe('Timed out.');
      expect(failAt).toBeGreaterThan(started);
      // Without the watch the client would solve on until its own 1800 s deadline; the bound
      // here is only "long before that", the exit delay is measured by hand, not asserted.
      expect(endedAt - failAt).toBeLessThan(30_000);
      // No solver task is left running or queued.
      expect(solverPoolState().busy).toBe(false);
    } finally {
      await s.server.close();
    }
  });

  it('stops on a closed connection with a transport error naming WORK', async () => {
    const raw = await rawServer((socket) => socket.end());
    try {
      const err = await runClient({
        host: '127.0.0.1',
        ports: [raw.port],
        tls: clientTls(certs),
        onEvent: raw.onEvent,
        solverOptions: { threads: 1 },
        ...bounded,
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TransportError);
      expect((err as TransportError).code).toBe('TLSLP_ERR_CLOSED_DURING_WORK');
      expect((err as Error).message).toMatch(/during WORK/);
      expect(solverPoolState().busy).toBe(false);
    } finally {
      raw.close();
    }
  });

  it('stops on a reset, and on a line that is not FAIL it reports a protocol error', async () => {
    const reset = await rawServer((_socket, raw) => raw.resetAndDestroy());
    const early = await rawServer((socket) => socket.write('EMAIL1 abc\n'));
    try {
      const a = await runClient({
        host: '127.0.0.1',
        ports: [reset.port],
        tls: clientTls(certs),
        onEvent: reset.onEvent,
      }).catch((e: unknown) => e);
      expect(a).toBeInstanceOf(TransportError);
      expect((a as TransportError).code).toBe('TLSLP_ERR_CLOSED_DURING_WORK');
      const b = await runClient({
        host: '127.0.0.1',
        ports: [early.port],
        tls: clientTls(certs),
        onEvent: early.onEvent,
      }).catch((e: unknown) => e);
      expect((b as Error).message).toBe('server sent EMAIL1 before the WORK answer');
      expect(solverPoolState().busy).toBe(false);
    } finally {
      reset.close();
      early.close();
    }
  });

  it('kills an external solver at once: the bin exits 1 with the reason, the solver process is gone', async () => {
    const pidFile = join(dir, 'solver.pid');
    const solver = join(dir, 'spin.js');
    // A solver that never finishes and records its pid (idle, not spinning: it burns no CPU
    // while the WORK timeout runs, and a kill ends it all the same).
    await writeFile(
      solver,
      `#!${process.execPath}\nrequire('node:fs').writeFileSync(${JSON.stringify(pidFile)}, String(process.pid));\nsetInterval(() => {}, 60_000);\n`,
    );
    await chmod(solver, 0o755);
    const s = await startServer(certs, { nBits: 40, workTimeoutMs: 2000 });
    const certFlags = await clientCertFlags(certs, join(dir, 'certs'));
    try {
      const { code, stderr } = await runClientBin(
        [
          '--host',
          '127.0.0.1',
          '--ports',
          String(s.port),
          ...certFlags,
          '--work-binary',
          solver,
          '--quiet',
        ],
        dir,
      );
      expect(code).toBe(1);
      expect(stderr.trim()).toBe(
        "tlslp-client: error: server sent FAIL: Timed out. (a real error, not the protocol's simulated FAIL)",
      );
      const pid = Number(await readFile(pidFile, 'utf8'));
      expect(pid).toBeGreaterThan(0);
      expect(() => process.kill(pid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
    } finally {
      await s.server.close();
    }
  });
});
