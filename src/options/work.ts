/**
 * The options of `tlslp work`: the built-in solver's, and what the command prints.
 * @module
 */
import { resolveTable, type InputOf, type ResolvedOf } from './core.js';
import { switchEntry } from './shared.js';
import { SOLVER_OPTIONS } from './solver.js';

/** Every option of `tlslp work`, in `--help` order. */
export const WORK_OPTIONS = {
  kernel: SOLVER_OPTIONS.kernel,
  threads: SOLVER_OPTIONS.threads,
  quiet: switchEntry(false, '--quiet', 'do not print the kernel fallback note on stderr', {
    short: '-q',
  }),
  verbose: switchEntry(false, '--verbose', 'print kernel, threads and hash rate on stderr', {
    short: '-v',
  }),
  json: switchEntry(
    false,
    '--json',
    'print one JSON object (suffix, seconds, kernel, kernelDetail, kernelRates, …) instead',
  ),
} as const;

type Table = typeof WORK_OPTIONS;

/** The options of `tlslp work`, every one optional. */
export type WorkOptions = InputOf<Table, keyof Table>;

/**
 * Fill the defaults of `tlslp work` and check every value.
 * @throws ConfigError naming the option at fault.
 */
export function resolveWorkOptions(values: WorkOptions): ResolvedOf<Table, keyof Table> {
  return resolveTable(WORK_OPTIONS, values);
}
