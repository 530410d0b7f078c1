import { readdirSync, readFileSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

/**
 * The test files that run the build (`dist/`): they spawn `dist/cli/*.js`, `bin/tlslp` or a
 * `bench/*.mjs` (which loads dist/), directly or through helpers.ts's runBin/runClientBin or
 * test/server-process.ts, or import `dist/`. Found by reading the files, so a test that starts running a bin joins the `dist`
 * project without a list to keep up to date.
 */
const RUNS_DIST =
  /\bdist\b|\brunBin\(|\brunClientBin\(|server-process\.js|bin\/tlslp|bench\/\w+\.mjs/;
const distTests = readdirSync('test')
  .filter((f) => f.endsWith('.test.ts') && RUNS_DIST.test(readFileSync(`test/${f}`, 'utf8')))
  .map((f) => `test/${f}`);

/**
 * The files that get a fresh module graph of their own (vitest's isolation): they change
 * process-wide state a later file in the same worker would see (the solver pool and the
 * kernel pool's pre-start, cluster settings and signal handlers). Every other file shares its worker's
 * modules with the files before it (`isolate: false`): importing src/ once per worker instead
 * of once per file is a third of the unit tests' time.
 */
const ISOLATED = ['test/client-prestart.test.ts', 'test/cli-inprocess.test.ts'];

export default defineConfig({
  test: {
    // A test that needs longer says so itself (a build, a benchmark run).
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // The certificate sets most files share, made once per run (test/global-setup.ts).
    globalSetup: ['test/global-setup.ts'],
    // Integration tests bind loopback ports and spawn solvers: keep files from fighting
    // over the two cores.
    fileParallelism: true,
    maxWorkers: 2,
    // The JSON report lets .ci/run end with a plain "N passed, N failed" line.
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results/report.json' },
    coverage: {
      provider: 'v8',
      include: ['src/**/*.ts'],
      reporter: ['text-summary', 'text'],
      thresholds: { lines: 85 },
    },
    // `npx vitest run --project 'unit*'` runs what needs no build; `--project 'dist*'` the rest.
    projects: [
      // No root `include`: a project's own would be added to it, not replace it.
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: [...distTests, ...ISOLATED],
          isolate: false,
        },
      },
      {
        extends: true,
        test: {
          name: 'dist',
          include: distTests.filter((f) => !ISOLATED.includes(f)),
          isolate: false,
        },
      },
      // The isolated files, by the same split.
      {
        extends: true,
        test: { name: 'unit-isolated', include: ISOLATED.filter((f) => !distTests.includes(f)) },
      },
      {
        extends: true,
        test: { name: 'dist-isolated', include: ISOLATED.filter((f) => distTests.includes(f)) },
      },
    ],
  },
});
