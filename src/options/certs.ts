/**
 * The options of `tlslp certs` ({@link makeCertificates}) and of its subcommands `client`,
 * `server`, `show`, `revoke` and `crl` (the PKI functions of src/pki/, which check their values
 * against these entries too, so the library and the flags take the same values).
 * @module
 */
import { commandTable, option, resolveTable, type InputOf, type ResolvedOf } from './core.js';
import { integer, names, oneOf, text, words } from './kinds.js';
import { CERTIFICATES_DIR, DNS_NAME, URI, switchEntry } from './shared.js';

/** The key types a certificate can be issued with: EC P-256 or RSA 2048. */
export const KEY_TYPES = ['ec', 'rsa'] as const;

/** `--dir`: the folder of the set, whose CA signs (`help` says what the command does there). */
function dirEntry(help: string) {
  return option(text(), {
    flag: '--dir',
    value: 'dir',
    default: CERTIFICATES_DIR,
    help,
  });
}

/** `--key-type ec|rsa` with `default`; `help` says whose key. */
function keyTypeEntry(defaultType: (typeof KEY_TYPES)[number], help: string) {
  return option(oneOf(KEY_TYPES), {
    flag: '--key-type',
    value: 'type',
    default: defaultType,
    help,
  });
}

const serverHostsEntry = option(words(), {
  flag: '--host',
  value: 'name...',
  default: ['localhost', '127.0.0.1'],
  help: 'names and addresses the server certificate is valid for',
});

/** Every option of `tlslp certs`, in `--help` order. */
export const CERTS_OPTIONS = {
  dir: dirEntry('folder the certificates are written to'),
  /** Overwrite existing files. Default: `false`. */
  force: switchEntry('--force', 'overwrite existing files'),
  serverHosts: serverHostsEntry,
  serverKeyType: keyTypeEntry('rsa', 'server key: rsa (RSA 2048, as the original) or ec (P-256)'),
} as const;

/** A client name: a safe file name everywhere (no separator, no leading dot, no space). */
const CLIENT_NAME = /^(?!\.)[A-Za-z0-9._-]{1,64}$/;
/** An organizational unit of printable characters only: it is shown in logs and terminals. */
const PRINTABLE = /^[^\p{Cc}\p{Cf}\p{Zl}\p{Zp}]{1,64}$/u;

/** The hex digits of a serial as written (`0x` prefix, colons and spaces around dropped). */
export function serialDigits(text: string): string {
  return text.trim().replace(/^0x/i, '').replace(/:/g, '');
}

/** Whether `text` is a serial number: positive hex of at most 20 bytes (RFC 5280). */
export function isSerial(text: string): boolean {
  const hex = serialDigits(text);
  return /^[0-9a-f]{1,40}$/i.test(hex) && !/^0+$/.test(hex);
}

const daysEntry = option(integer(1, 36500), {
  flag: '--days',
  value: 'n',
  default: 365,
  help: 'days the certificate is valid for',
});

/** Every option of `tlslp certs client` ({@link issueClientCertificate}), in `--help` order. */
export const CERTS_CLIENT_OPTIONS = {
  dir: dirEntry('folder with the CA; the new files are written there too'),
  /**
   * The client name: the certificate CN, and the files `<name>_cert.pem`, `<name>_key.pem`.
   * Default: required.
   */
  name: option(
    text({
      test: (s) => CLIENT_NAME.test(s),
      what: "1 to 64 letters, digits, '.', '-' or '_', not starting with '.'",
    }),
    {
      flag: '--name',
      value: 'name',
      default: undefined,
      required: true,
      defaultText: 'required',
      help: 'the client name: the certificate CN, and the files `<name>_cert.pem`, `<name>_key.pem`',
    },
  ),
  /** Organizational unit written to the subject (e.g. a team). Default: none. */
  ou: option(text({ test: (s) => PRINTABLE.test(s), what: '1 to 64 printable characters' }), {
    flag: '--ou',
    value: 'unit',
    default: undefined,
    help: 'organizational unit written to the subject (e.g. a team)',
  }),
  /** DNS SAN (repeatable), as `tlslp-server --allow-dns` matches. Default: none. */
  dns: option(names(DNS_NAME), {
    flag: '--dns',
    value: 'name...',
    default: undefined,
    defaultText: 'none',
    help: 'DNS SAN (repeatable), as `tlslp-server --allow-dns` matches',
  }),
  /**
   * URI SAN, e.g. `spiffe://example.org/api` (repeatable), as `tlslp-server --allow-uri` matches.
   * Default: none.
   */
  uri: option(names(URI), {
    flag: '--uri',
    value: 'uri...',
    default: undefined,
    defaultText: 'none',
    help: 'URI SAN, e.g. `spiffe://example.org/api` (repeatable), as `tlslp-server --allow-uri` matches',
  }),
  days: daysEntry,
  keyType: keyTypeEntry('ec', 'client key: ec (P-256) or rsa (RSA 2048)'),
} as const;

/** Every option of `tlslp certs server` ({@link issueServerCertificate}), in `--help` order. */
export const CERTS_SERVER_OPTIONS = {
  dir: dirEntry('folder with the CA; server-cert.pem and server-key.pem there are written'),
  hosts: serverHostsEntry,
  days: daysEntry,
  keyType: keyTypeEntry('rsa', 'server key: rsa (RSA 2048) or ec (P-256)'),
  /** Replace the existing server certificate and key. Default: `false`. */
  force: switchEntry('--force', 'replace the existing server certificate and key'),
} as const;

/** What `tlslp certs show FILE` reads: the CLI's own table (describeCertificate takes none). */
export const CERTS_SHOW_CLI_OPTIONS = {
  json: switchEntry('--json', 'print one JSON object instead of the lines'),
} as const;

/** Every option of `tlslp certs show FILE`, in `--help` order. */
export const CERTS_SHOW_OPTIONS = commandTable({}, CERTS_SHOW_CLI_OPTIONS, ['json']);

/** `--crl-days`: the validity of a CRL the command signs. */
function crlDaysEntry() {
  return option(integer(1, 36500), {
    flag: '--crl-days',
    value: 'n',
    default: 365,
    help: 'days until the CRL must be re-signed (a server refuses every client after that)',
  });
}

/** The options of {@link revokeCertificate} that are flags: the library's table. */
export const CERTS_REVOKE_LIB_OPTIONS = {
  dir: dirEntry('folder with the CA; its CRL is ca_crl.pem there (created if missing)'),
  /** The serial number to revoke, hex (as tlslp certs show prints it); or --cert. Default: none. */
  serialHex: option(text({ test: isSerial, what: 'a positive hex number of at most 20 bytes' }), {
    flag: '--serial',
    value: 'hex',
    default: undefined,
    defaultText: 'none',
    help: 'the serial number to revoke, hex (as tlslp certs show prints it); or --cert',
  }),
  nextUpdateDays: crlDaysEntry(),
} as const;

/**
 * What `tlslp certs revoke` reads beyond the library's options: the CLI's own table (the
 * library takes the certificate itself, `certPem`, not a file).
 */
export const CERTS_REVOKE_CLI_OPTIONS = {
  cert: option(text(), {
    flag: '--cert',
    value: 'file',
    default: undefined,
    defaultText: 'none',
    help: 'the certificate to revoke (PEM); or --serial',
  }),
} as const;

/** Every option of `tlslp certs revoke` ({@link revokeCertificate}), in `--help` order. */
export const CERTS_REVOKE_OPTIONS = commandTable(
  CERTS_REVOKE_LIB_OPTIONS,
  CERTS_REVOKE_CLI_OPTIONS,
  ['dir', 'cert', 'serialHex', 'nextUpdateDays'],
);

/** The modes of `tlslp certs crl`, of which exactly one is given. */
export const CRL_MODES = ['init', 'list', 'refresh'] as const;

/** The options of {@link initCrl}, {@link listCrl} and {@link refreshCrl}: the library's table. */
export const CERTS_CRL_LIB_OPTIONS = {
  dir: dirEntry('folder with the CA; its CRL is ca_crl.pem there'),
  nextUpdateDays: crlDaysEntry(),
  /** With --init: replace an existing CRL (dropping its entries). Default: `false`. */
  force: switchEntry('--force', 'with --init: replace an existing CRL (dropping its entries)'),
} as const;

/**
 * What `tlslp certs crl` reads beyond the library's options: the CLI's own table (its modes,
 * each a function of the library, and how it prints).
 */
export const CERTS_CRL_CLI_OPTIONS = {
  init: switchEntry('--init', 'write an empty CRL signed by the CA (for tlslp-server --crl)'),
  list: switchEntry('--list', 'print the CRL: issuer, updates, each revoked serial'),
  refresh: switchEntry(
    '--refresh',
    'sign the same entries again with a new thisUpdate and nextUpdate',
  ),
  json: switchEntry('--json', 'with --list: print one JSON object instead of the lines'),
} as const;

/** Every option of `tlslp certs crl`, the library's and the CLI's, in `--help` order. */
export const CERTS_CRL_OPTIONS = commandTable(CERTS_CRL_LIB_OPTIONS, CERTS_CRL_CLI_OPTIONS, [
  'dir',
  'init',
  'list',
  'refresh',
  'nextUpdateDays',
  'force',
  'json',
]);

type Table = typeof CERTS_OPTIONS;

/** The options of `tlslp certs`, every one optional. */
export type CertsOptions = InputOf<Table, keyof Table>;

/**
 * Fill the defaults of `tlslp certs` and check every value.
 * @throws ConfigError naming the option at fault.
 */
export function resolveCertsOptions(values: CertsOptions): ResolvedOf<Table, keyof Table> {
  return resolveTable(CERTS_OPTIONS, values);
}
