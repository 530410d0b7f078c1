/**
 * The server's TLS material in use, held in one place for the constructor and every reload:
 * its checks, digests and secure context, the CA certificates and CRL index the gate judges
 * client chains with, and the expiry warnings and CRL timers.
 * @module
 */
import { createHash, constants as cryptoConstants, type X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import { ConfigError } from '../errors/index.js';
import type { Logger } from '../logging/logger.js';
import { CrlProblem, readCrlsOffThread, type CrlInfo } from '../tls/crl.js';
import {
  caBundle,
  checkServerTls,
  crlExpiryWarning,
  crlNextUpdate,
  CRL_WARNING_DAYS,
  type ServerTlsCheck,
  type ServerTlsLabels,
  type TlsMaterial,
} from '../tls/material.js';
import type { Revocation } from './client-cert.js';
import type { ServerEmitter, TlsPart, TlsReloadedEvent } from './events.js';
import { DAY_MS, MAX_TIMER_MS, SECOND_MS } from '../util/time.js';

/** What {@link TlslpServer.reload} did. */
export interface TlsReloadResult {
  /**
   * `reloaded`: new handshakes use the new material (sessions in flight go on with theirs);
   * `unchanged`: the material is the one in use (nothing done); `failed`: it is unusable and
   * the material in use stays.
   */
  outcome: 'reloaded' | 'unchanged' | 'failed';
  /** With `failed`: the very same material failed the time before (its error was logged then). */
  repeated: boolean;
  /** With `failed`: why, naming the file (or option) at fault. */
  error?: ConfigError;
  /** The parts that differ from the material in use before the call. */
  changed: TlsPart[];
  /** Serial number of the server certificate in use after the call (uppercase hex). */
  serverSerial: string;
  /** With `reloaded`: the serial number of the one before. */
  previousSerial?: string;
  /** When the server certificate in use expires. */
  notAfter: Date;
  /** Revoked serial numbers the CRL in use lists (undefined: no CRL). */
  revoked?: number;
  /** Warnings about the material in use (it expires within 14 days), logged too when due. */
  warnings: string[];
}

/** Options of {@link TlsHolder}. */
export interface TlsHolderOptions {
  /** What to call each file in messages (the CLI: its flags and paths). */
  labels?: ServerTlsLabels | undefined;
  /** Largest CRL accepted, in bytes. */
  maxCrlBytes: number;
  /** No client certificates (no CA needed). */
  insecure: boolean;
  /** The TLS server's own handshake deadline (a backstop behind the gate's). */
  handshakeTimeoutMs: number;
  /** Where reloads, their failures and the expiry warnings are logged. */
  logger: Logger;
  /** Where `tlsReloaded` goes (the metrics, outside observers). */
  events: ServerEmitter;
  /** The server is closing: no CRL timer is armed any more. */
  draining: () => boolean;
}

const TLS_PARTS = ['cert', 'key', 'ca', 'crl'] as const satisfies readonly TlsPart[];

/** The SHA-256 of each part of `material` ('' for a part left out). */
function digests(material: TlsMaterial): Record<TlsPart, string> {
  const out = {} as Record<TlsPart, string>;
  for (const part of TLS_PARTS) {
    const value = material[part];
    out[part] = value === undefined ? '' : createHash('sha256').update(value).digest('hex');
  }
  return out;
}

/** The earliest end of the CA bundle's certificates. */
export function caNotAfter(cas: readonly X509Certificate[]): Date | undefined {
  let min: Date | undefined;
  for (const ca of cas) {
    const to = new Date(ca.validTo);
    if (!min || to < min) min = to;
  }
  return min;
}

/** Revoked serial numbers of the CRLs `check` found. */
export function countRevoked(check: ServerTlsCheck): number {
  return check.crls.reduce((n, c) => n + c.revoked.size, 0);
}

/** The secure context options of `material` (the first context and each reload's). */
function contextOptions(material: TlsMaterial): tls.SecureContextOptions {
  return {
    cert: material.cert,
    key: material.key,
    ca: material.ca,
    // No `crl`: OpenSSL would scan it on every handshake; the gate looks chains up in the
    // CRLs' index instead (client-cert.ts).
    minVersion: 'TLSv1.2',
    // A client-initiated TLS 1.2 renegotiation redoes the handshake's costly part.
    secureOptions: cryptoConstants.SSL_OP_NO_RENEGOTIATION,
  };
}

/**
 * The checks every material passes before it is used, at start as on reload: a certificate
 * and a key, `checkServerTls`, a CA unless insecure.
 * @throws ConfigError naming what to fix
 */
function checkMaterial(
  material: TlsMaterial,
  labels: ServerTlsLabels | undefined,
  now: Date,
  options: { maxCrlBytes: number; insecure: boolean; crls?: CrlInfo[] | CrlProblem | undefined },
): ServerTlsCheck {
  if (!material.cert || !material.key)
    throw new ConfigError(
      'TLSLP_ERR_NO_CERT',
      { server: true, cert: 'tls.cert', key: 'tls.key' },
      { option: material.cert ? 'tls.key' : 'tls.cert' },
    );
  // Refuse now what would fail every handshake later (a key OpenSSL silently drops, …).
  const check = checkServerTls(material, labels, now, {
    maxCrlBytes: options.maxCrlBytes,
    ...(options.crls ? { crls: options.crls } : {}),
  });
  if (!options.insecure && !material.ca)
    throw new ConfigError('TLSLP_ERR_NO_CA', { option: 'tls.ca' });
  return check;
}

/** Put `material` in use on `server`'s secure context. @throws ConfigError `TLSLP_ERR_BAD_TLS_MATERIAL` */
function setContext(server: tls.Server, material: TlsMaterial): void {
  try {
    server.setSecureContext(contextOptions(material));
  } catch (err) {
    throw new ConfigError(
      'TLSLP_ERR_BAD_TLS_MATERIAL',
      { side: 'server', reason: (err as Error).message, options: 'tls.cert, tls.key and tls.ca' },
      { cause: err, option: 'tls' },
    );
  }
}

/** The TLS material of one server, from its first load through every reload. */
export class TlsHolder {
  /** Holds the secure context and runs the handshakes; never listens itself. */
  readonly tlsServer: tls.Server;
  /**
   * The CA certificates the gate judges chains with: one array for the server's life, its
   * contents swapped on reload (the gate keeps the reference).
   */
  readonly trustedCas: X509Certificate[];
  /** The CRLs the gate looks client chains up in; `crls` is replaced on reload (the old index freed). */
  readonly revocation: Revocation = { crls: [] };
  /** The material in use: its digests and what checking it found. */
  private inUse: { digests: Record<TlsPart, string>; check: ServerTlsCheck };
  /** Digests of the last material that failed to load, so a file left broken is logged once. */
  private lastFailed = '';
  /** When the expiry warning was last logged (once a day at most for the same certificate). */
  private expiryWarnedAt = -Infinity;
  /** What the CRL file is called in messages. */
  private crlLabel: string;
  /** The CRL's expiry timers (the daily warning, the ERROR at its nextUpdate). */
  private readonly crlTimers: NodeJS.Timeout[] = [];

  /** @throws ConfigError when the material is unusable (naming the file or option) */
  constructor(
    material: TlsMaterial,
    private readonly options: TlsHolderOptions,
  ) {
    const check = checkMaterial(material, options.labels, new Date(), options);
    this.crlLabel = options.labels?.crl ?? 'tls.crl';
    this.revocation.crls = check.crls;
    this.inUse = { digests: digests(material), check };
    this.trustedCas = [...check.caCerts];
    // Whoever made the material has seen checkServerTls's warnings: the next is due in a day.
    if (check.warnings.length > 0) this.expiryWarnedAt = Date.now();
    this.tlsServer = tls.createServer({
      requestCert: !options.insecure,
      // OpenSSL then refuses a client without a certificate itself, with the TLS alert
      // (certificate_required, TLS 1.3; handshake_failure, TLS 1.2). A chain it cannot verify
      // Node closes after the handshake, without an alert (none can be sent from Node's
      // API); either way the gate logs and counts the reason (tlsClientError), and judges
      // the rest itself (the CRL index, depth, key strength), telling the client in a FAIL.
      rejectUnauthorized: true,
      // A backstop only: the gate's own deadline comes first.
      handshakeTimeout: options.handshakeTimeoutMs * 2 + SECOND_MS,
    });
    setContext(this.tlsServer, material);
  }

  /** What checking the material in use found. */
  get check(): ServerTlsCheck {
    return this.inUse.check;
  }

  /** When each part of the material in use ends, as the metrics' expiry gauges show it. */
  get ends(): Pick<TlsReloadedEvent, 'serverNotAfter' | 'caNotAfter' | 'crlNextUpdate'> {
    const check = this.inUse.check;
    const ca = caNotAfter(check.caCerts);
    return {
      serverNotAfter: check.notAfter,
      ...(ca ? { caNotAfter: ca } : {}),
      crlNextUpdate: crlNextUpdate(check.crls) ?? null,
    };
  }

  /** See {@link TlslpServer.reload}. */
  reload(material: TlsMaterial, labels?: ServerTlsLabels): TlsReloadResult {
    return this.apply(material, labels);
  }

  /** See {@link TlslpServer.reloadAsync}: a changed CRL is read and indexed in a worker thread. */
  async reloadAsync(material: TlsMaterial, labels?: ServerTlsLabels): Promise<TlsReloadResult> {
    const { crl, ca } = material;
    const next = digests(material);
    let crls: CrlInfo[] | CrlProblem | undefined;
    if (
      crl !== undefined &&
      ca !== undefined &&
      next.crl !== this.inUse.digests.crl &&
      Buffer.byteLength(crl) <= this.options.maxCrlBytes
    )
      try {
        crls = await readCrlsOffThread(crl, caBundle(ca, labels ?? { ca: 'tls.ca' }));
      } catch (err) {
        // A CA bundle that does not parse, or a worker that failed: apply() says why.
        if (err instanceof CrlProblem) crls = err;
      }
    return this.apply(material, labels, crls, next);
  }

  private apply(
    material: TlsMaterial,
    labels: ServerTlsLabels | undefined,
    read?: CrlInfo[] | CrlProblem,
    next: Record<TlsPart, string> = digests(material),
  ): TlsReloadResult {
    const now = new Date();
    const inUse = this.inUse;
    // The same CRL of the same CA as in use: its index is kept, not built again.
    const crls =
      read ??
      (next.crl !== '' && next.crl === inUse.digests.crl && next.ca === inUse.digests.ca
        ? inUse.check.crls
        : undefined);
    const changed = TLS_PARTS.filter((p) => next[p] !== inUse.digests[p]);
    const serverSerial = inUse.check.cert.serialNumber;
    const current = {
      serverSerial,
      notAfter: inUse.check.notAfter,
      ...(inUse.check.crls.length > 0 ? { revoked: countRevoked(inUse.check) } : {}),
    };
    if (changed.length === 0) {
      const warnings = this.expiryWarnings(inUse.check, now, false);
      return { outcome: 'unchanged', repeated: false, changed, ...current, warnings };
    }
    const key = TLS_PARTS.map((p) => next[p]).join(':');
    let check: ServerTlsCheck;
    try {
      check = checkMaterial(material, labels, now, { ...this.options, crls });
      setContext(this.tlsServer, material);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      const repeated = key === this.lastFailed;
      this.lastFailed = key;
      if (!repeated) {
        this.options.logger.error(
          `TLS reload failed, still serving the previous material: ${err.message}`,
        );
        const events = this.options.events;
        events.emit('tlsReloaded', {
          server: events.server,
          ok: false,
          changed,
          serverSerial,
          caSerials: inUse.check.caCerts.map((c) => c.serialNumber),
          serverNotAfter: inUse.check.notAfter,
          error: err,
        });
      }
      const warnings = this.expiryWarnings(inUse.check, now, false);
      return { outcome: 'failed', repeated, error: err, changed, ...current, warnings };
    }
    this.lastFailed = '';
    this.inUse = { digests: next, check };
    this.trustedCas.splice(0, this.trustedCas.length, ...check.caCerts);
    this.revocation.crls = check.crls;
    if (labels?.crl) this.crlLabel = labels.crl;
    if (changed.includes('crl') || changed.includes('ca')) this.watchCrl(now, true);
    const revoked = check.crls.length > 0 ? countRevoked(check) : undefined;
    const newSerial = check.cert.serialNumber;
    this.options.logger.info(
      `TLS material reloaded (${changed.join(', ')} changed): server certificate ${newSerial === serverSerial ? newSerial : `${newSerial} (was ${serverSerial})`}, valid until ${check.notAfter.toISOString()}` +
        (revoked !== undefined ? `; CRL lists ${revoked} revoked` : '') +
        '; new connections use it',
    );
    const events = this.options.events;
    events.emit('tlsReloaded', {
      server: events.server,
      ok: true,
      changed,
      serverSerial: newSerial,
      previousSerial: serverSerial,
      caSerials: check.caCerts.map((c) => c.serialNumber),
      ...this.ends,
      ...(revoked !== undefined ? { revoked } : {}),
    });
    const warnings = this.expiryWarnings(check, now, changed.includes('cert'));
    return {
      outcome: 'reloaded',
      repeated: false,
      changed,
      serverSerial: newSerial,
      previousSerial: serverSerial,
      notAfter: check.notAfter,
      ...(revoked !== undefined ? { revoked } : {}),
      warnings,
    };
  }

  /**
   * Arm the CRL's timers: from 7 days before its nextUpdate a WARNING a day, and at its
   * nextUpdate one ERROR naming the file and the fix. Past it every client is refused (fail
   * closed, counted as `crl_expired`) until a fresh CRL is reloaded.
   * @param warnNow within the 7 days already, warn now (a reload) rather than in a day (the start)
   */
  watchCrl(now: Date, warnNow: boolean): void {
    this.stop();
    const next = crlNextUpdate(this.revocation.crls);
    if (!next || this.options.draining()) return;
    const label = this.crlLabel;
    const logger = this.options.logger;
    const warnFrom = next.getTime() - CRL_WARNING_DAYS * DAY_MS;
    const warn = (): void => {
      const at = new Date();
      if (at >= next) return;
      logger.warning(crlExpiryWarning(label, next, at));
      this.crlAt(at.getTime() + DAY_MS, warn);
    };
    // Within the 7 days already: a reload warns now; at start the maker of the material has
    // had checkServerTls's warning (the CLI logs it), so the next is a day on.
    if (now.getTime() < warnFrom) this.crlAt(warnFrom, warn);
    else if (warnNow) warn();
    else this.crlAt(now.getTime() + DAY_MS, warn);
    this.crlAt(next.getTime(), () =>
      logger.error(
        `${label}: the CRL passed its nextUpdate (${next.toISOString()}): every client is refused from now on (crl_expired) until a fresh CRL is reloaded; re-sign it with tlslp certs crl --refresh (or the CA's own tool), then SIGHUP`,
      ),
    );
  }

  /** Clear the CRL's timers (the server is closing, or they are armed again). */
  stop(): void {
    for (const t of this.crlTimers.splice(0)) clearTimeout(t);
  }

  /** Call `fn` at the time `at` (ms since the epoch), however far off (setTimeout stops at 24.8 days). */
  private crlAt(at: number, fn: () => void): void {
    const wait = at - Date.now();
    const step = Math.min(Math.max(0, wait), MAX_TIMER_MS);
    this.crlTimers.push(
      setTimeout(() => (wait > MAX_TIMER_MS ? this.crlAt(at, fn) : fn()), step).unref(),
    );
  }

  /** The expiry warnings of `check`, logged when a new certificate came or a day has passed. */
  private expiryWarnings(check: ServerTlsCheck, now: Date, fresh: boolean): string[] {
    const warnings = check.warnings;
    // The CRL's own warning is watchCrl's to log, on its own clock.
    const crlWarning = `${this.crlLabel}: the CRL's nextUpdate`;
    const own = warnings.filter((w) => !w.startsWith(crlWarning));
    if (own.length > 0 && (fresh || now.getTime() - this.expiryWarnedAt >= DAY_MS)) {
      this.expiryWarnedAt = now.getTime();
      for (const w of own) this.options.logger.warning(w);
    }
    return warnings;
  }
}
