import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
const ADDON = fileURLToPath(new URL('../native/build/Release/tlslp_kernel.node', import.meta.url));
/** Why the native kernel cannot run here, if it cannot. */
const noNative = process.env.TLSLP_NO_NATIVE
  ? 'TLSLP_NO_NATIVE is set'
  : existsSync(ADDON)
    ? undefined
    : `no native addon at ${ADDON}`;

interface VariantRecord {
  threads1: number;
  threadsAll: number;
  slowestRound1: number;
  slowestRoundAll: number;
}
interface NativeSummary {
  default: string;
  fastestThreads1: string;
  fastestThreadsAll: string;
  defaultIsFastest: { threads1: boolean; threadsAll: boolean };
  fastestWithinNoise: { threads1: string[]; threadsAll: string[] };
  defaultAmongFastest: { threads1: boolean; threadsAll: boolean };
  variants: Record<string, VariantRecord>;
}

describe('bench/work.mjs --json (kernels)', () => {
  // A benchmark of every kernel and variant, on one thread and on all (child timeout 120 s).
  // Its subject is the native variants' ranking: without the addon the test shows as skipped
  // with the reason instead of returning early and passing.
  it.skipIf(noNative)(
    `names the variants within the leader’s round-to-round spread, and whether the default is one${noNative ? ` (skipped: ${noNative})` : ''}`,
    { timeout: 120_000 },
    async () => {
      const { stdout } = await run(
        process.execPath,
        ['bench/work.mjs', '--json', '--seconds', '0.03', '--repeat', '2'],
        { cwd: root, timeout: 120_000 },
      );
      const report = JSON.parse(stdout.trimEnd().split('\n').at(-1) ?? '') as {
        native: NativeSummary | null;
        referenceHashesPerSecond: number;
      };
      expect(report.referenceHashesPerSecond).toBeGreaterThan(0);
      const native = report.native;
      // The addon is built (else the test is skipped): the bench must have ranked its variants.
      if (!native) throw new Error('bench/work.mjs reported no native kernel: the addon is built');
      for (const [field, slow, lead] of [
        ['threads1', 'slowestRound1', native.fastestThreads1],
        ['threadsAll', 'slowestRoundAll', native.fastestThreadsAll],
      ] as const) {
        const records = Object.entries(native.variants);
        const best = Math.max(...records.map(([, r]) => r[field]));
        expect(native.variants[lead]?.[field]).toBe(best);
        const floor = native.variants[lead]?.[slow] ?? Infinity;
        expect(floor).toBeLessThanOrEqual(best);
        const band = records.filter(([, r]) => r[field] >= floor).map(([name]) => name);
        expect(native.fastestWithinNoise[field]).toEqual(band);
        expect(band).toContain(lead);
        expect(native.defaultAmongFastest[field]).toBe(band.includes(native.default));
        expect(native.defaultIsFastest[field]).toBe(lead === native.default);
      }
      expect(stdout).toMatch(/within the leader's own spread over 2 round\(s\)/);
    },
  );
});
