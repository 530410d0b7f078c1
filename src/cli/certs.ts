/**
 * `tlslp certs`: make a certificate set, and (subcommands) issue more client and server
 * certificates from its CA, show a certificate or a CRL, revoke one in the CA's CRL, and
 * make, list or re-sign that CRL.
 * @module
 */
import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { ConfigError } from '../errors/index.js';
import {
  CERTS_CLIENT_OPTIONS,
  CERTS_CRL_OPTIONS,
  CERTS_OPTIONS,
  CRL_MODES,
  CERTS_REVOKE_OPTIONS,
  CERTS_SERVER_OPTIONS,
  CERTS_SHOW_OPTIONS,
  resolveCertsOptions,
} from '../options/certs.js';
import { resolveEntries, type OptionTable, type ResolvedOf } from '../options/core.js';
import type { CertificateDescription, CrlInfo, IssuedCertificate } from '../pki/index.js';
import { readFailure } from '../tls/material.js';
import {
  VERSION,
  addTableOptions,
  namingFlags,
  tableValues,
  type OptionAliases,
} from './options.js';
import { colorsFor } from './transcript.js';

/** The library options of `revokeCertificate` that are not keys of its table. */
const REVOKE_ALIASES: OptionAliases = { certPem: 'cert' };

const KEY_NAMES = { ec: 'EC P-256', rsa: 'RSA 2048' } as const;

/** Every option of `table` given to `command`, the defaults filled and each value checked. */
function resolved<T extends OptionTable>(
  command: Command,
  table: T,
): ResolvedOf<T, keyof T & string> {
  return resolveEntries(table, Object.keys(table), tableValues(command, table));
}

/** Add `name` under `certs` with the flags of `table`, run as `action` naming flags in errors. */
function subcommand<T extends OptionTable>(
  certs: Command,
  name: string,
  description: string,
  table: T,
  action: (opts: ResolvedOf<T, keyof T & string>, args: string[]) => Promise<void>,
  options: { aliases?: OptionAliases; example: string; argument?: [string, string] },
): Command {
  const command = certs.command(name).version(VERSION).description(description);
  if (options.argument) command.argument(...options.argument);
  addTableOptions(command, table)
    .addHelpText('after', `\nExample:\n  ${options.example}`)
    .action(() => {
      // `tlslp certs --dir d client`: --dir went to `certs`, not to `client`; say so rather
      // than issue from the default folder.
      const early = certs.options
        .filter((o) => o.long && certs.getOptionValueSource(o.attributeName()) === 'cli')
        .map((o) => o.long as string);
      if (early.length > 0)
        certs.error(
          `error: give ${early.join(', ')} after the subcommand: tlslp certs ${name} ${early.join(' … ')} …`,
          { exitCode: 2 },
        );
      return namingFlags(
        table,
        () => action(resolved(command, table), command.args),
        options.aliases ?? {},
      );
    });
  return command;
}

/** Read a certificate file for `show` or `revoke --cert`, naming it in the error. */
async function readCertificateFile(path: string, flag?: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new ConfigError(
      'TLSLP_ERR_CERT_FILE',
      { file: flag ? `${flag} ${path}` : path, ...readFailure(err) },
      { cause: err },
    );
  }
}

/**
 * The X.509 code, loaded when a certs command runs: it takes a tenth of a second to load,
 * which `tlslp work` and the other subcommands must not pay.
 */
async function x509(): Promise<
  typeof import('../pki/generate.js') & typeof import('../pki/index.js')
> {
  return { ...(await import('../pki/generate.js')), ...(await import('../pki/index.js')) };
}

/** The lines saying what an issue wrote. */
function writtenLines(
  what: string,
  issued: IssuedCertificate,
  dir: string,
  formatCertificate: (d: CertificateDescription) => string,
): string {
  const c = colorsFor(process.stdout);
  return (
    `${c.green('✓')} ${what} written to ${dir}:\n` +
    `  ${basename(issued.certPath)}\n  ${basename(issued.keyPath)} (mode 0600)\n` +
    formatCertificate(issued.description).replace(/^/gm, '  ') +
    '\n'
  );
}

/**
 * A CRL as `crl --list` and `show` print it: a heading naming the file, the CRL's lines, and
 * whether the CA's signature checks (`verified`; left out when no CA was at hand); or JSON.
 */
function crlText(
  crl: CrlInfo,
  file: string,
  json: boolean,
  pki: { formatCrl: (c: CrlInfo) => string; crlJson: (c: CrlInfo) => Record<string, unknown> },
  verified?: { ca: string; ok: boolean | null },
): string {
  if (json)
    return `${JSON.stringify({ file, ...pki.crlJson(crl), ...(verified ? { verified: verified.ok } : {}) })}\n`;
  const signature =
    verified === undefined
      ? ''
      : `\nSignature:   ${verified.ok === null ? `not checked (no CA certificate ${verified.ca})` : verified.ok ? `valid, by the CA ${verified.ca}` : `NOT by the CA ${verified.ca}`}`;
  return `CRL ${file}\n${pki.formatCrl(crl)}${signature}\n`;
}

/** Add `tlslp certs` and its subcommands to `program`. */
export function addCertsCommand(program: Command): Command {
  const certs = program
    .command('certs')
    .version(VERSION)
    .description(
      'create a CA, a server and a client certificate for mutual TLS (pure TypeScript, no openssl needed); the subcommands issue more from that CA, show and revoke certificates',
    )
    // `tlslp certs client --dir d`: the subcommand's flags are its own.
    .enablePositionalOptions();
  addTableOptions(certs, CERTS_OPTIONS).action(() =>
    namingFlags(CERTS_OPTIONS, async () => {
      const opts = resolveCertsOptions(tableValues(certs, CERTS_OPTIONS));
      const hosts = [...opts.serverHosts];
      const { CERT_FILE_NAMES, makeCertificates } = await x509();
      const written = await makeCertificates(opts.dir, {
        force: opts.force,
        serverHosts: hosts,
        serverKeyType: opts.serverKeyType,
      });
      const c = colorsFor(process.stdout);
      process.stdout.write(`${c.green('✓')} certificates written to ${written.dir}:\n`);
      for (const name of Object.values(CERT_FILE_NAMES)) process.stdout.write(`  ${name}\n`);
      const key = opts.serverKeyType === 'ec' ? ` (key ${KEY_NAMES.ec})` : '';
      process.stdout.write(
        `server certificate${key} valid for: ${hosts.join(', ')}; private keys have mode 0600\n`,
      );
    }),
  );

  subcommand(
    certs,
    'client',
    'issue another client certificate from the CA in --dir: <name>_cert.pem and <name>_key.pem there (never overwritten)',
    CERTS_CLIENT_OPTIONS,
    async (opts) => {
      const { formatCertificate, issueClientCertificate } = await x509();
      const issued = await issueClientCertificate({
        dir: opts.dir,
        name: opts.name as string,
        ...(opts.ou === undefined ? {} : { ou: opts.ou }),
        ...(opts.dns === undefined ? {} : { dns: opts.dns }),
        ...(opts.uri === undefined ? {} : { uri: opts.uri }),
        days: opts.days,
        keyType: opts.keyType,
      });
      process.stdout.write(
        writtenLines(`client certificate for ${opts.name}`, issued, opts.dir, formatCertificate),
      );
    },
    {
      example:
        'tlslp certs client --name api --ou ops --dns api.internal --uri spiffe://example.org/api',
    },
  );

  subcommand(
    certs,
    'server',
    'issue a new server certificate from the CA in --dir (server-cert.pem, server-key.pem)',
    CERTS_SERVER_OPTIONS,
    async (opts) => {
      const { formatCertificate, issueServerCertificate } = await x509();
      const issued = await issueServerCertificate({
        dir: opts.dir,
        hosts: [...opts.hosts],
        days: opts.days,
        keyType: opts.keyType,
        force: opts.force,
      });
      process.stdout.write(writtenLines('server certificate', issued, opts.dir, formatCertificate));
      process.stdout.write(
        'a running tlslp-server serves it after SIGHUP (or at its next --reload-interval check)\n',
      );
    },
    { example: 'tlslp certs server --host tlslp.example 192.0.2.10 --key-type ec --force' },
  );

  subcommand(
    certs,
    'show',
    'print what a certificate says (subject, SANs, issuer, serial, validity, key type, fingerprint), or a CRL (as crl --list)',
    CERTS_SHOW_OPTIONS,
    async (opts, [file = '']) => {
      const pki = await x509();
      const data = await readCertificateFile(file);
      // A CRL (PEM or DER) is shown as `tlslp certs crl --list` shows it.
      if (pki.isCrl(data)) {
        process.stdout.write(crlText(pki.describeCrl(data, file), file, opts.json, pki));
        return;
      }
      const description = pki.describeCertificate(data.toString('utf8'), file);
      process.stdout.write(
        opts.json
          ? `${JSON.stringify({ file, ...description })}\n`
          : `${pki.formatCertificate(description)}\n`,
      );
    },
    {
      example: 'tlslp certs show certificates/jane_cert.pem --json',
      argument: ['<file>', 'the certificate (PEM) or CRL (PEM or DER)'],
    },
  );

  subcommand(
    certs,
    'revoke',
    'add a certificate to the CRL of the CA in --dir (ca_crl.pem, created if missing), signed by that CA',
    CERTS_REVOKE_OPTIONS,
    async (opts) => {
      const { describeCertificate, revokeCertificate } = await x509();
      let certPem: string | undefined;
      let subject = '';
      if (opts.cert !== undefined) {
        // Read and parsed here, so an error names the file.
        certPem = (await readCertificateFile(opts.cert, '--cert')).toString('utf8');
        subject = ` (${describeCertificate(certPem, `--cert ${opts.cert}`).subject.text})`;
      }
      const result = await revokeCertificate({
        dir: opts.dir,
        ...(certPem === undefined ? {} : { certPem }),
        ...(opts.serialHex === undefined ? {} : { serialHex: opts.serialHex }),
        nextUpdateDays: opts.nextUpdateDays,
      });
      const c = colorsFor(process.stdout);
      const { crl } = result;
      const entries = `${crl.serials.length} ${crl.serials.length === 1 ? 'entry' : 'entries'}`;
      process.stdout.write(
        `${c.green('✓')} ${result.alreadyRevoked ? 'already revoked' : 'revoked'}: serial ${result.serial}${subject}\n` +
          `  CRL ${result.crlPath}: ${entries}, CRL number ${crl.crlNumber ?? '?'}, signed by ${crl.issuer}, next update ${crl.nextUpdate?.toISOString() ?? 'none'}\n` +
          '  a server that loads this CRL refuses that certificate once it reads the CRL again\n',
      );
    },
    {
      aliases: REVOKE_ALIASES,
      example: 'tlslp certs revoke --cert certificates/jane_cert.pem',
    },
  );
  subcommand(
    certs,
    'crl',
    'the CRL of the CA in --dir (ca_crl.pem): --init writes an empty one, --list prints it, --refresh re-signs it before its nextUpdate',
    CERTS_CRL_OPTIONS,
    async (opts) => {
      const modes = CRL_MODES.filter((m) => opts[m]);
      if (modes.length !== 1)
        throw new ConfigError('TLSLP_ERR_CRL_MODE', {
          given: modes.length === 0 ? 'none' : modes.map((m) => `--${m}`).join(' and '),
        });
      const pki = await x509();
      const c = colorsFor(process.stdout);
      const summary = (crl: CrlInfo): string =>
        `${crl.entries.length} ${crl.entries.length === 1 ? 'entry' : 'entries'}, CRL number ${crl.crlNumber ?? '?'}, signed by ${crl.issuer}, next update ${crl.nextUpdate?.toISOString() ?? 'none'}`;
      if (opts.init) {
        const { crlPath, crl } = await pki.initCrl({
          dir: opts.dir,
          force: opts.force,
          nextUpdateDays: opts.nextUpdateDays,
        });
        process.stdout.write(
          `${c.green('✓')} empty CRL written to ${crlPath}: ${summary(crl)}\n` +
            `  start the server with --crl ${crlPath}; revoke with tlslp certs revoke --dir ${opts.dir}, then SIGHUP the server\n`,
        );
      } else if (opts.list) {
        const { crlPath, crl, verified } = await pki.listCrl(opts.dir);
        const ca = join(opts.dir, pki.CERT_FILE_NAMES.caCert);
        process.stdout.write(crlText(crl, crlPath, opts.json, pki, { ca, ok: verified }));
      } else {
        const crl = await pki.refreshCrl({
          dir: opts.dir,
          nextUpdateDays: opts.nextUpdateDays,
          mustExist: true,
        });
        process.stdout.write(
          `${c.green('✓')} CRL ${join(opts.dir, pki.CRL_FILE_NAME)} re-signed: ${summary(crl)}\n` +
            '  a server that loads this CRL uses it once it reads the CRL again (SIGHUP)\n',
        );
      }
    },
    { example: 'tlslp certs crl --init && tlslp certs crl --list --json' },
  );
  return certs;
}
