/**
 * The options of the demo: {@link runDemo} and `tlslp demo`, one entry each.
 * @module
 */
import { option, resolveTable, type InputOf, type ResolvedOf } from './core.js';
import { integer, toggle } from './kinds.js';

/** Every option of the demo, in `--help` order. */
export const DEMO_OPTIONS = {
  /** WORK difficulty (at most 40; 20 takes well under a second here). Default: `20`. */
  nBits: option(integer(0, 40), {
    flag: '--n-bits',
    value: 'n',
    default: 20,
    help: 'WORK difficulty (at most 40; 20 takes well under a second here)',
  }),
  /** Body requests, as in normal mode. Default: `20`. */
  bodyRequests: option(integer(0, 1000), {
    flag: '--requests',
    value: 'n',
    default: 20,
    help: 'body requests, as in normal mode',
  }),
  /** Keep the certificate folder instead of deleting it. Default: `false`. */
  keepCertificates: option(toggle(), {
    default: false,
    help: 'keep the certificate folder instead of deleting it',
  }),
} as const;

type Table = typeof DEMO_OPTIONS;

/** The options of {@link runDemo} that come from the table, every one optional. */
export type DemoTableOptions = InputOf<Table, keyof Table>;

/** Fill the demo's defaults and check every value. @throws ConfigError naming the option. */
export const resolveDemoOptions = (values: DemoTableOptions): ResolvedOf<Table, keyof Table> =>
  resolveTable(DEMO_OPTIONS, values);
