/**
 * Entries more than one command's table uses (certificate paths, logging, --config).
 * @module
 */
import { LOG_LEVEL_ALIASES, LOG_LEVELS } from '../logging/levels.js';
import { LOGGER_OPTIONS as L } from '../logging/options.js';
import { option } from './core.js';
import { seconds, text, toggle } from './kinds.js';
import { hasControl } from '../text/escape.js';

/** A DNS name (a SAN to issue or allow): letters, digits, `-`, `_`, dots. */
export const DNS_NAME = {
  test: (s: string) => s.length <= 253 && /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.?$/.test(s),
  what: 'DNS names (letters, digits, - and _, separated by dots)',
};
/** A URI (a SAN to issue or allow): a scheme, a colon, then no spaces or control characters. */
export const URI = {
  test: (s: string) =>
    s.length <= 2048 && /^[A-Za-z][A-Za-z0-9+.-]*:[^\s]+$/.test(s) && !hasControl(s),
  what: 'URIs (scheme:rest, no spaces)',
};

/** Folder `tlslp certs` writes to, and the bins read their certificates from. */
export const CERTIFICATES_DIR = 'certificates';

/**
 * Default paths of the files `tlslp certs` writes (its CERT_FILE_NAMES, which a test checks;
 * not imported, as certs.ts loads the X.509 library every bin would then pay for).
 */
export const CERT_PATHS = {
  caCert: `${CERTIFICATES_DIR}/ca_cert.pem`,
  serverCert: `${CERTIFICATES_DIR}/server-cert.pem`,
  serverKey: `${CERTIFICATES_DIR}/server-key.pem`,
  clientCert: `${CERTIFICATES_DIR}/client_cert.pem`,
  clientKey: `${CERTIFICATES_DIR}/ec_private_key.pem`,
} as const;

/** `--log-level`, `--log-format`, `--log-file`: the logger's `level` and `format` entries as flags. */
export const LOG_ENTRIES = {
  logLevel: option(L.level.kind, {
    flag: '--log-level',
    value: 'level',
    default: L.level.default,
    help: `least severe level logged: ${LOG_LEVELS.map((l) => `\`${l}\``).join(', ')} (case-insensitive; ${LOG_LEVEL_ALIASES.map((l) => `\`${l}\``).join(', ')} too)`,
  }),
  logFormat: option(L.format.kind, {
    flag: '--log-format',
    value: 'format',
    default: L.format.default,
    help: L.format.help,
  }),
  logFile: option(text(), {
    flag: '--log-file',
    value: 'path',
    default: undefined,
    defaultText: 'XDG file',
    help: 'log file; `-` = every record to stderr and no file, `none` = no file',
  }),
} as const;

/** The per-step deadlines both sides keep (`--work-timeout`, `--other-timeout`). */
export const TIMEOUT_ENTRIES = {
  /** Time allowed to solve WORK. Default: `1800000` ms. */
  workTimeoutMs: option(seconds(), {
    flag: '--work-timeout',
    value: 'seconds',
    default: 1_800_000,
    help: 'time allowed to solve WORK',
  }),
  /** Time allowed for every other reply. Default: `10000` ms. */
  otherTimeoutMs: option(seconds(), {
    flag: '--other-timeout',
    value: 'seconds',
    default: 10_000,
    help: 'time allowed for every other reply',
  }),
} as const;

/** `--config FILE` (read by the CLI before the other options; see config-file.ts). */
export const CONFIG_ENTRY = option(text(), {
  flag: '--config',
  value: 'file',
  default: undefined,
  defaultText: 'none',
  help: 'options from a JSON or TOML file, keys spelt as the flag names (`max-connections = 500`, `n_bits = "auto"`, a list for a repeatable flag: `allow-cn = ["a", "b"]`); an unknown key is refused; flags given on the command line win',
});

/** A switch, off unless given. */
export function switchEntry<const F extends `--${string}`>(
  flag: F,
  help: string,
  more: { readonly short?: `-${string}` } = {},
) {
  return option(toggle(), { flag, default: false, help, ...more });
}
