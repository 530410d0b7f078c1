/**
 * `tlslp/bench`: internals that the benchmarks in bench/ measure (the solver's kernel rate
 * meter, batch sizes, the message layout; the merging TLS reloader the CLI uses), so that they
 * import a package entry point rather than files under dist/. Not a stable API: these follow
 * the implementation.
 * @module
 */
export { measureKernel, type KernelMeasurement } from '../solver/measure.js';
export { BATCH_SIZE } from '../solver/batch.js';
export { startSolverPool } from '../solver/pool.js';
export { SCAN_WINDOW, prepareJob, suffixFor, type PreparedJob } from '../solver/layout.js';
export { serialReloads } from '../server/reloads.js';
