/**
 * The built-in solver's options, shared by `tlslp-client` and `tlslp work` so both take the
 * same kernels and thread counts.
 * @module
 */
import { KERNEL_NAMES, isKernelChoice, type KernelChoice } from '../solver/kernels/index.js';
import {
  ValueProblem,
  keysOf,
  option,
  resolveEntries,
  type InputOf,
  type Kind,
  type ResolvedOf,
} from './core.js';
import { integer } from './kinds.js';

const KERNEL_EXPECTED = `one of auto, ${KERNEL_NAMES.join(', ')}, or native:<variant>`;

/** A kernel, or `native:<variant>` forcing one native variant (checked once kernels load). */
const kernelKind: Kind<KernelChoice> = {
  parse(s) {
    if (!isKernelChoice(s)) throw new ValueProblem(`must be ${KERNEL_EXPECTED}`);
    return s;
  },
  expected: (v) => (isKernelChoice(v) ? null : KERNEL_EXPECTED),
  show: (v) => v,
  choices: ['auto', ...KERNEL_NAMES],
};

/** Most solver threads: the solver's own limit. */
export const MAX_THREADS = 1024;

/** `--kernel` and `--threads`. */
export const SOLVER_OPTIONS = {
  /**
   * Built-in solver kernel: `auto` (the fastest that loads), `native`, `wasm`, `js`;
   * `native:<variant>` forces one native variant (e.g. `native:avx512`). Default: `"auto"`.
   */
  kernel: option(kernelKind, {
    flag: '--kernel',
    value: 'kernel',
    default: 'auto',
    help: 'built-in solver kernel: `auto` (the fastest that loads), `native`, `wasm`, `js`; `native:<variant>` forces one native variant (e.g. `native:avx512`)',
  }),
  /** Solver threads. Default: one per core. */
  threads: option(integer(1, MAX_THREADS), {
    flag: '--threads',
    value: 'n',
    default: undefined,
    defaultText: 'one per core',
    help: 'solver threads',
  }),
} as const;

type Table = typeof SOLVER_OPTIONS;
type Keys = keyof Table;

/** The solver options the table knows, every one optional. */
export type SolverTableOptions = InputOf<Table, Keys>;

const KEYS = keysOf(SOLVER_OPTIONS);

/**
 * Fill the solver's defaults and check `kernel` and `threads` (other fields kept).
 * @throws ConfigError naming the option at fault.
 */
export function resolveSolverOptions<O extends SolverTableOptions>(
  options: O,
): Omit<O, Keys> & ResolvedOf<Table, Keys> {
  return { ...options, ...resolveEntries(SOLVER_OPTIONS, KEYS, options) };
}
