import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CertificateSet } from '../src/pki/generate.js';
import { runClient } from '../src/client/client.js';
import { createLogger } from '../src/logging/index.js';
import { verifyWork } from '../src/protocol/hash.js';
import { availableKernels, closeSolverPool, solveWork } from '../src/solver/index.js';
import { solverPoolStarted, solverPoolState } from '../src/solver/pool.js';
import { capture, clientTls, startServer, testCerts, type TestServer } from './helpers.js';

let certs: CertificateSet;
let server: TestServer;

beforeAll(async () => {
  certs = await testCerts();
  // Kernels loaded before the first session: the pre-start then decides during the handshake.
  // Loading them inside it can take longer than a loaded machine's whole session, and once a
  // small WORK is solved the pre-start rightly skips the pool (last WORK small), which is not
  // what these tests are about.
  await availableKernels();
  // 18 bits: below 2^22, so the WORK takes the pool only when its threads are already up.
  server = await startServer(certs, { nBits: 18, simulateFailures: false });
});

afterAll(async () => {
  await server.server.close();
  await closeSolverPool();
});

/** One session with a DEBUG logger; the WORK solution and what was logged. */
async function session(
  extra: Partial<Parameters<typeof runClient>[0]> = {},
): Promise<{ threads?: number; suffix: string; token: string; log: string }> {
  const out = capture();
  const logger = createLogger({
    name: 'tlslp.client',
    level: 'DEBUG',
    stderr: out.stream,
    stderrLevel: 'DEBUG',
  });
  let token = '';
  const result = await runClient({
    host: '127.0.0.1',
    ports: [server.port],
    tls: clientTls(certs),
    solverOptions: { threads: 2 },
    logger,
    onEvent: (e) => {
      if (e.type === 'recv' && e.line.startsWith('WORK ')) token = e.line.split(' ')[1] ?? '';
    },
    ...extra,
  });
  await logger.close();
  return { threads: result.work.threads, suffix: result.work.suffix, token, log: out.text() };
}

describe('solver pre-start in the client', () => {
  it('starts the pool during the handshake', async () => {
    await closeSolverPool();
    const first = await session();
    expect(first.log).toMatch(/DEBUG .*Solver ready: \w+ \([^)]+\).*, 2 pool threads started/);
    // Where this WORK ran depends on whether the threads were up when it came (it is small).
    expect(verifyWork(first.token, first.suffix, 18)).toBe(true);
    // The threads are up, and nothing is left running once runClient has returned.
    expect(solverPoolState()).toMatchObject({ threads: 2, busy: false });
  });

  it('reuses the pool in the next session, and starts nothing after a small WORK', async () => {
    const second = await session();
    // The last WORK (18 bits) was small: no new start, but the running pool is used.
    expect(second.log).toMatch(/Solver ready: /);
    expect(second.log).not.toMatch(/pool threads started/);
    expect(second.threads).toBe(2);
    expect(verifyWork(second.token, second.suffix, 18)).toBe(true);
    await closeSolverPool();
    expect(solverPoolStarted()).toBe(false);
  });

  it('starts no pool for a custom solver', async () => {
    await closeSolverPool();
    const custom = await session({
      solver: async (token, nBits, signal) => {
        const r = await solveWork(token, nBits, { threads: 1, signal });
        return { suffix: r.suffix, seconds: r.seconds, solver: 'custom' };
      },
    });
    expect(custom.log).not.toMatch(/Solver ready/);
    expect(verifyWork(custom.token, custom.suffix, 18)).toBe(true);
    expect(solverPoolStarted()).toBe(false);
  });
});
