/**
 * SIGHUP bursts: reload requests that come while a reload runs merge into one more, in the
 * reloader the CLI uses and in the bin itself.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { CertificateSet } from '../src/pki/generate.js';
import { serialReloads } from '../src/server/reloads.js';
import type { TlsReloadResult } from '../src/server/server.js';
import type { TlsMaterial } from '../src/tls/material.js';
import { memoryLogger, serverBin, testCerts, until, useTempDirs, within } from './helpers.js';

let certs: CertificateSet;
const tempDir = useTempDirs('tlslp-sighup-');

beforeAll(async () => {
  certs = await testCerts();
});

const labels = { cert: 'c', key: 'k', ca: 'a' };

/** A reader whose reads finish only when the test says, and a server that counts reloads. */
function harness(): {
  reload: ReturnType<typeof serialReloads>;
  reads: () => number;
  reloads: () => number;
  finishRead: () => void;
} {
  let reads = 0;
  let reloads = 0;
  const pending: Array<() => void> = [];
  const read = (): Promise<TlsMaterial> => {
    reads++;
    return new Promise((resolve) => pending.push(() => resolve({ cert: 'x', key: 'y' })));
  };
  const server = {
    reloadAsync: async (): Promise<TlsReloadResult> => {
      reloads++;
      return await Promise.resolve({
        outcome: 'unchanged',
        repeated: false,
        changed: [],
        serverSerial: '01',
        notAfter: new Date(),
        warnings: [],
      });
    },
  };
  return {
    reload: serialReloads(memoryLogger(), server, read, labels),
    reads: () => reads,
    reloads: () => reloads,
    finishRead: () => pending.shift()?.(),
  };
}

describe('serialReloads', () => {
  it('100 signals during a reload make one more reload, not 100', async () => {
    const h = harness();
    const first = h.reload('signal');
    const rest = Array.from({ length: 100 }, () => h.reload('signal'));
    expect(h.reads()).toBe(1);
    h.finishRead();
    await first;
    // The merged one starts once the first is done.
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(h.reads()).toBe(2);
    h.finishRead();
    await Promise.all(rest);
    expect(h.reloads()).toBe(2);
  });

  it('a signal merged with interval ticks makes the queued reload a signal one', async () => {
    const h = harness();
    const first = h.reload('interval');
    const queued = [h.reload('interval'), h.reload('signal'), h.reload('interval')];
    h.finishRead();
    await first;
    await new Promise<void>((resolve) => setImmediate(resolve));
    h.finishRead();
    await Promise.all(queued);
    // The interval read is taken only once two reads agree; the signal's is taken at once.
    expect(h.reads()).toBe(2);
    expect(h.reloads()).toBe(1);
  });

  it('a request after the burst is served by a reload of its own', async () => {
    const h = harness();
    const first = h.reload('signal');
    h.finishRead();
    await first;
    const later = h.reload('signal');
    h.finishRead();
    await later;
    expect(h.reloads()).toBe(2);
  });
});

describe('tlslp-server: a SIGHUP storm', () => {
  it('50 signals at once: a few rereads, no errors, and the server still stops on SIGTERM', async () => {
    const bin = await serverBin(certs, await tempDir(), []);
    for (let i = 0; i < 50; i++) bin.kill('SIGHUP');
    const unchanged = async (): Promise<number> =>
      (await bin.log()).split('\n').filter((l) => /SIGHUP: TLS files unchanged/.test(l)).length;
    await until(async () => (await unchanged()) > 0, 'a reread after the signals');
    bin.kill('SIGTERM');
    expect(await within(bin.exited, 15_000, 'the server to stop')).toBe(0);
    const log = await bin.log();
    // One reread per signal was 50; merged, a burst is a couple (the kernel merges some too).
    expect(await unchanged()).toBeLessThan(10);
    expect(log).not.toMatch(/ ERROR /);
  });
});
