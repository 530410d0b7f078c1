/**
 * The options of `tlslp certs` ({@link makeCertificates}).
 * @module
 */
import { libKeys, option, resolveEntries, type InputOf, type ResolvedOf } from './core.js';
import { text, words } from './kinds.js';
import { CERTIFICATES_DIR, switchEntry } from './shared.js';

/** Every option of `tlslp certs`, in `--help` order. */
export const CERTS_OPTIONS = {
  dir: option(text(), {
    lib: true,
    flag: '--dir',
    value: 'dir',
    default: CERTIFICATES_DIR,
    help: 'folder to write them to',
  }),
  force: switchEntry(true, '--force', 'overwrite existing files'),
  serverHosts: option(words(), {
    lib: true,
    flag: '--host',
    value: 'name...',
    default: ['localhost', '127.0.0.1'],
    help: 'names and addresses the server certificate is valid for',
  }),
} as const;

type Table = typeof CERTS_OPTIONS;

/** The options of `tlslp certs`, every one optional. */
export type CertsOptions = InputOf<Table, keyof Table>;

const KEYS = libKeys(CERTS_OPTIONS);

/**
 * Fill the defaults of `tlslp certs` and check every value.
 * @throws ConfigError naming the option at fault.
 */
export function resolveCertsOptions(values: CertsOptions): ResolvedOf<Table, keyof Table> {
  return resolveEntries(CERTS_OPTIONS, KEYS, values);
}
