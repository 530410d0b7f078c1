/**
 * `tlslp-server --check`, as `nginx -t`: everything the server does before it takes a client,
 * then a report of the policy it would serve, and exit. Flags and `--config` are parsed by
 * the caller; here the TLS files and the CRL are read and checked against each other (by
 * building the server, as a start does, without listening), and each port is bound and
 * let go. Nothing is logged and no file is written.
 * @module
 */
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import { once } from 'node:events';
import { ConfigError, TlslpError } from '../errors/index.js';
import type { ResolvedServerOptions, ServerTableOptions } from '../options/server.js';
import { TlslpServer } from '../server/server.js';
import { hostPort } from '../text/address.js';
import { maskUrlPassword } from '../text/secret.js';
import { describeAllowLists } from '../server/identity.js';
import { countRevoked } from '../server/tls-holder.js';
import {
  checkServerTls,
  crlNextUpdate,
  readTlsFiles,
  type ServerTlsLabels,
} from '../tls/material.js';
import { listenError } from '../transport/channel.js';
import { describeError, EXIT } from './common.js';

/** The CLI-only values `--check` reads (what `resolveServerCommand` gives). */
export interface CheckFlags {
  readonly serverCert: string;
  readonly serverKey: string;
  readonly caCert: string;
  readonly crl?: string | undefined;
  readonly stateCa?: string | undefined;
  readonly workers: number;
  readonly metricsPort?: number | undefined;
  readonly metricsHost: string;
  readonly reloadIntervalMs: number;
  readonly logLevel: string;
  readonly logFormat: string;
}

/**
 * Check what `tlslp-server` was given and print the effective policy to `out`. Resolves
 * with exit code 0 when the server would start.
 * @throws ConfigError (exit 2) with the one line saying what would stop the start.
 */
export async function checkServer(
  given: ServerTableOptions,
  options: ResolvedServerOptions<ServerTableOptions>,
  flags: CheckFlags,
  out: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
): Promise<number> {
  const labels: ServerTlsLabels = {
    cert: `--server-cert ${flags.serverCert}`,
    key: `--server-key ${flags.serverKey}`,
    ca: `--ca-cert ${flags.caCert}`,
    crl: `--crl ${flags.crl ?? ''}`,
  };
  const material = await readTlsFiles({
    cert: { path: flags.serverCert, flag: '--server-cert' },
    key: { path: flags.serverKey, flag: '--server-key' },
    ca: options.insecure ? undefined : { path: flags.caCert, flag: '--ca-cert' },
    crl: flags.crl === undefined ? undefined : { path: flags.crl, flag: '--crl' },
  });
  const tls = checkServerTls(material, labels);
  const stateCa = flags.stateCa === undefined ? undefined : await readStateCa(flags.stateCa);
  // The server's own checks (options against each other, the TLS context OpenSSL builds);
  // it does nothing until listen(), which is not called.
  new TlslpServer({ ...given, tls: material, ...(stateCa ? { stateCa } : {}) });
  const address = await bindTest('--port', 'server', options.host, options.port);
  const metrics =
    flags.metricsPort === undefined
      ? 'off'
      : `${await bindTest('--metrics-port', 'metrics', flags.metricsHost, flags.metricsPort)} (/metrics, /healthz, /readyz)`;

  const allow = describeAllowLists(options);
  const revoked = countRevoked(tls);
  const nextUpdate = crlNextUpdate(tls.crls);
  const limit = (n: number): string => (n === 0 ? 'off' : String(n));
  const mode = options.insecure
    ? 'insecure TLS (no client certificates)'
    : `mutual TLS, client certificates signed by ${flags.caCert}`;
  const rows: Array<[string, string]> = [
    ['listen', `${address} (port free)`],
    ['metrics', metrics],
    ['workers', String(flags.workers)],
    ['mode', `${mode}${options.tutorial ? '; tutorial (one session, then exit)' : ''}`],
    [
      'n_bits',
      options.adaptive
        ? `auto ${options.adaptive.minBits}..${options.adaptive.maxBits}`
        : String(options.nBits),
    ],
    [
      'limits',
      `max-connections ${options.maxConnections}, max-per-ip ${limit(options.maxPerIp)}, max-handshakes ${options.maxHandshakes}, max-handshakes-per-ip ${options.maxHandshakesPerIp}, max-per-identity ${limit(options.maxPerIdentity)}, max-handshake-failures-per-ip ${limit(options.maxHandshakeFailuresPerIp)}`,
    ],
    [
      'timeouts',
      `handshake ${options.handshakeTimeoutMs / 1000} s, work ${options.workTimeoutMs / 1000} s, other ${options.otherTimeoutMs / 1000} s`,
    ],
    [
      'allow',
      options.insecure
        ? 'anyone (no certificates)'
        : allow.length > 0
          ? allow.join('; ')
          : 'any certificate the CA signed',
    ],
    [
      'crl',
      flags.crl === undefined
        ? 'none'
        : `${flags.crl}: ${revoked} revoked certificate(s)${nextUpdate ? `, next update ${nextUpdate.toISOString()}` : ''}`,
    ],
    ['proxy', options.proxyProtocol ? `PROXY v1/v2 from ${options.proxyFrom.join(', ')}` : 'off'],
    ['state', options.state === undefined ? 'this process' : maskUrlPassword(options.state)],
    [
      'certificate',
      `${flags.serverCert}: ${tls.cert.subject.replace(/\n/g, ', ')}, valid until ${tls.notAfter.toISOString()}`,
    ],
    [
      'reload',
      `SIGHUP${flags.reloadIntervalMs > 0 ? `, every ${flags.reloadIntervalMs / 1000} s` : ''} (TLS files; and --config's allow-lists, limits, n_bits and log level); SIGUSR1 reopens the log`,
    ],
    ['log', `${flags.logLevel}, ${flags.logFormat}`],
  ];
  for (const w of tls.warnings) out(`warning: ${w}`);
  const width = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) out(`  ${k.padEnd(width)}  ${v}`);
  out('tlslp-server: configuration OK');
  return EXIT.ok;
}

/** Bind `host:port` and let it go. @throws ConfigError (exit 2) naming the flag. */
async function bindTest(
  flag: string,
  what: 'server' | 'metrics',
  host: string,
  port: number,
): Promise<string> {
  const probe = net.createServer();
  try {
    probe.listen(port, host);
    await Promise.race([
      once(probe, 'listening'),
      once(probe, 'error').then(([err]) => Promise.reject(err as Error)),
    ]);
  } catch (err) {
    const why: unknown = listenError(err, what, hostPort(host, port));
    throw new ConfigError(
      'TLSLP_ERR_CHECK_BIND',
      {
        source: `${flag} ${port}`,
        reason: why instanceof TlslpError ? why.message : describeError(err),
      },
      { cause: err },
    );
  } finally {
    if (probe.listening) await new Promise((resolve) => probe.close(resolve));
  }
  return hostPort(host, port);
}

/** The `--state-ca` file. @throws ConfigError naming the flag when it cannot be read. */
export async function readStateCa(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError(
      'TLSLP_ERR_STATE_CA',
      { option: 'stateCa', path, reason: describeError(err) },
      { cause: err },
    );
  }
}
