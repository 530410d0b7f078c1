/**
 * The options of `tlslp work`: the built-in solver's (the library's part, {@link solveWork}'s
 * `kernel` and `threads`), and what the command prints (the CLI's own).
 * @module
 */
import { commandTable, resolveTable, type InputOf, type ResolvedOf } from './core.js';
import { switchEntry } from './shared.js';
import { SOLVER_OPTIONS } from './solver.js';

/** What `tlslp work` reads beyond the solver's options: the CLI's own table. */
export const WORK_CLI_OPTIONS = {
  quiet: switchEntry('--quiet', 'do not print the kernel fallback note on stderr', {
    short: '-q',
  }),
  verbose: switchEntry('--verbose', 'print kernel, threads and hash rate on stderr', {
    short: '-v',
  }),
  json: switchEntry(
    '--json',
    'print one JSON object (suffix, seconds, kernel, kernelDetail, kernelRates, …) instead',
  ),
} as const;

/** Every option of `tlslp work`, the solver's and the CLI's, in `--help` order. */
export const WORK_OPTIONS = commandTable(SOLVER_OPTIONS, WORK_CLI_OPTIONS, [
  'kernel',
  'threads',
  'quiet',
  'verbose',
  'json',
]);

type Table = typeof WORK_OPTIONS;

/** The flags of `tlslp work`, every one optional (the library's part is SolverTableOptions). */
export type WorkOptions = InputOf<Table, keyof Table>;

/**
 * Fill the defaults of `tlslp work` and check every value.
 * @throws ConfigError naming the option at fault.
 */
export function resolveWorkOptions(values: WorkOptions): ResolvedOf<Table, keyof Table> {
  return resolveTable(WORK_OPTIONS, values);
}
