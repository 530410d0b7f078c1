/**
 * The tlslp client: dials the server over mutual TLS (trying ports in order), then runs
 * the session.
 * @module
 */
import { isIP } from 'node:net';
import tls from 'node:tls';
import { resolveClientOptions, type ClientTableOptions } from '../options/client.js';
import { ConfigError, TlslpError, TransportError, withContext } from '../errors/index.js';
import { createNullLogger, type Logger } from '../logging/logger.js';
import {
  builtinSolver,
  externalSolver,
  type WorkSolution,
  type WorkSolver,
} from '../solver/adapters.js';
import { checkSolverPath } from '../solver/external.js';
import type { SolveOptions } from '../solver/index.js';
import { assertInsecureAllowed, type TlsMaterial } from '../tls/material.js';
import { SocketLineChannel, rawErrorDetail, toTransportError } from '../transport/channel.js';
import { DEFAULT_PROFILE, type Profile } from './profile.js';
import { formatKernelRates, prestartSolver } from './prestart.js';
import { runClientSession, type ClientSessionResult, type SessionEvent } from './session.js';
import { hostPort } from '../text/address.js';

// Where they were defined before the solver had its own adapters module.
export { builtinSolver, externalSolver };

/** Something the client did: connection attempts, then the session's events. */
export type ClientEvent =
  | SessionEvent
  | {
      /** About to dial one port. */
      type: 'connecting';
      /** The host dialled. */
      host: string;
      /** The port dialled. */
      port: number;
    }
  | {
      /** That port failed; the next one is tried. */
      type: 'connect-failed';
      /** The host dialled. */
      host: string;
      /** The port that failed. */
      port: number;
      /** Why, in words (refused, certificate not trusted, host-name mismatch, …). */
      reason: string;
      /** The error's catalog code, e.g. `TLSLP_ERR_CONNECTION_REFUSED` for a closed port. */
      code?: string;
    }
  | {
      /** TLS is up; the session starts. */
      type: 'connected';
      /** The host connected to. */
      host: string;
      /** The port connected to. */
      port: number;
      /** Negotiated TLS version, e.g. `TLSv1.3`. */
      protocol: string;
      /** The chain the server presented, its own certificate first. */
      chain: PeerCertificateInfo[];
    };

/** One certificate of the server's chain, as `openssl s_client -showcerts` users expect. */
export interface PeerCertificateInfo {
  /** Subject, e.g. `CN=localhost`. */
  subject: string;
  /** Subject alternative names, e.g. `DNS:localhost, IP Address:127.0.0.1`. */
  subjectAltName: string | null;
  /** Issuer, e.g. `CN=My Test CA`. */
  issuer: string;
  /** Serial number, hex. */
  serial: string;
  /** Start of validity (ISO 8601). */
  validFrom: string;
  /** End of validity (ISO 8601). */
  validTo: string;
  /** SHA-256 fingerprint, colon-separated hex. */
  fingerprint256: string;
}

function distinguishedName(name: Record<string, string | string[]> | undefined): string {
  if (!name) return '';
  return Object.entries(name)
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : v}`)
    .join(', ');
}

/** The chain a TLS socket's peer presented, leaf first (the root once, not looped). */
export function peerChain(socket: tls.TLSSocket): PeerCertificateInfo[] {
  const chain: PeerCertificateInfo[] = [];
  const seen = new Set<string>();
  let cert: tls.DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
  while (cert && cert.fingerprint256 && !seen.has(cert.fingerprint256) && chain.length < 16) {
    seen.add(cert.fingerprint256);
    chain.push({
      subject: distinguishedName(cert.subject as unknown as Record<string, string>),
      subjectAltName: cert.subjectaltname ?? null,
      issuer: distinguishedName(cert.issuer as unknown as Record<string, string>),
      serial: cert.serialNumber,
      validFrom: new Date(cert.valid_from).toISOString(),
      validTo: new Date(cert.valid_to).toISOString(),
      fingerprint256: cert.fingerprint256,
    });
    cert = cert.issuerCertificate;
  }
  return chain;
}

/**
 * Options of {@link runClient}. Those of the client's option table (host, ports, insecure,
 * workTimeoutMs, otherTimeoutMs, maxRequests, sessionTimeoutMs, workBinary, tutorial: see
 * `CLIENT_OPTIONS`, whose help texts say what each does) are checked and defaulted by
 * `resolveClientOptions`.
 */
export interface ClientOptions extends ClientTableOptions {
  /** CA to verify the server, and this client's certificate and key. */
  tls: TlsMaterial;
  /** Answers to the body commands (default: neutral sample data). */
  profile?: Profile;
  /** Options of the built-in solver (kernel, threads, progress). */
  solverOptions?: Omit<SolveOptions, 'signal'>;
  /** A custom solver (overrides `workBinary` and the built-in one). */
  solver?: WorkSolver;
  /** Where the client logs (default: nowhere). See {@link createLogger}. */
  logger?: Logger;
  /** Stops everything, the solver included (Ctrl-C). */
  signal?: AbortSignal;
  /** Called for every connection attempt, every line sent and received, and WORK start/end. */
  onEvent?: (event: ClientEvent) => void;
}

/** A session that ended with DONE/OK. */
export interface ClientResult extends ClientSessionResult {
  /** The host connected to. */
  host: string;
  /** The port that answered. */
  port: number;
  /** Negotiated TLS version, e.g. `TLSv1.3`. */
  protocol: string;
}

/** Parsed TLS contexts by their PEM material: parsing costs more than a handshake's signature. */
const contexts = new Map<string, tls.SecureContext>();
const MAX_CONTEXTS = 16;

function secureContextFor(material: TlsMaterial): tls.SecureContext {
  const key = [material.ca, material.cert, material.key]
    .map((v) => (v === undefined ? '' : v.toString()))
    .join('\0');
  let context = contexts.get(key);
  if (!context) {
    context = tls.createSecureContext({
      ca: material.ca,
      cert: material.cert,
      key: material.key,
      minVersion: 'TLSv1.2',
    });
    if (contexts.size >= MAX_CONTEXTS) contexts.delete(contexts.keys().next().value as string);
    contexts.set(key, context);
  }
  return context;
}

/**
 * Open a TLS connection to one port.
 * @throws TransportError with a readable reason.
 */
export function connectTls(
  host: string,
  port: number,
  material: TlsMaterial,
  insecure: boolean,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host,
      port,
      ...(insecure
        ? { rejectUnauthorized: false, checkServerIdentity: () => undefined }
        : { secureContext: secureContextFor(material), rejectUnauthorized: true }),
      // SNI takes names only; the identity check still uses `host` for IP addresses.
      ...(isIP(host) ? {} : { servername: host }),
      minVersion: 'TLSv1.2',
    });
    const fail = (err: Error): void => {
      cleanup();
      // TLS 1.2: a tlslp server that cannot verify our chain closes before its Finished.
      const endOfHandshake =
        !insecure &&
        (err as NodeJS.ErrnoException).code === 'ECONNRESET' &&
        /before secure TLS connection was established/.test(err.message);
      const identity = endOfHandshake ? ownIdentity(socket) : undefined;
      socket.destroy();
      reject(
        identity === undefined
          ? toTransportError(err)
          : new TransportError('TLSLP_ERR_CLOSED_BEFORE_HELLO', { identity }, { cause: err }),
      );
    };
    const onAbort = (): void => fail(new TransportError('TLSLP_ERR_ABORTED'));
    const timer = setTimeout(
      () =>
        fail(new TransportError('TLSLP_ERR_TLS_CONNECT_TIMEOUT', { seconds: timeoutMs / 1000 })),
      timeoutMs,
    );
    const cleanup = (): void => {
      clearTimeout(timer);
      socket.off('error', fail);
      signal?.removeEventListener('abort', onAbort);
    };
    socket.once('error', fail);
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('secureConnect', () => {
      cleanup();
      socket.on('error', () => {
        /* reported by the channel */
      });
      socket.setNoDelay(true);
      resolve(socket);
    });
  });
}

/**
 * Connect (trying each port in order) and run one session.
 * @throws ServerFailError, ProtocolError, TransportError, SolverError, ConfigError.
 *
 * @example Mutual TLS with the files of tlslp certs, as tlslp-client does
 * ```ts
 * import { ServerFailError, closeSolverPool, readTlsFiles, runClient } from 'tlslp';
 *
 * const tls = await readTlsFiles({
 *   ca: { path: 'certificates/ca_cert.pem', flag: '--ca-cert' },
 *   cert: { path: 'certificates/client_cert.pem', flag: '--client-cert' },
 *   key: { path: 'certificates/ec_private_key.pem', flag: '--private-key' },
 * });
 * try {
 *   const result = await runClient({
 *     host: 'localhost', // must be in the server certificate
 *     ports: [1234],
 *     tls,
 *     signal: AbortSignal.timeout(60_000),
 *     onEvent: (e) => {
 *       if (e.type === 'recv' || e.type === 'send') console.log(e.type, e.line);
 *     },
 *   });
 *   console.log(`DONE/OK: ${result.answered.length} answers, suffix ${result.work.suffix}`);
 * } catch (err) {
 *   if (err instanceof ServerFailError) console.error(`server sent FAIL ${err.reason}`);
 *   else throw err;
 * } finally {
 *   await closeSolverPool(); // end the solver's worker threads, as the CLIs do
 * }
 * ```
 */
export async function runClient(options: ClientOptions): Promise<ClientResult> {
  // Checked first: a bad option starts no solver threads.
  const resolved = resolveClientOptions(options);
  // Started before dialling, so that it overlaps the TLS handshake (see prestart.ts).
  const prestart =
    options.solver || options.workBinary ? null : prestartSolver(options.solverOptions ?? {});
  void prestart?.then((ready) => {
    if (!ready || options.tutorial) return;
    const rates = ready.kernelRates
      ? `; variants ${formatKernelRates(ready.kernelRates)} M hashes/s`
      : '';
    const pool = ready.poolThreads ? `, ${ready.poolThreads} pool threads started` : '';
    options.logger?.debug(`Solver ready: ${ready.kernel}${rates}${pool}`);
  });
  try {
    return await connectAndRun(options, resolved);
  } finally {
    // A session over before WORK (a FAIL, no port open) leaves no warm-up task running.
    await prestart;
  }
}

async function connectAndRun(
  options: ClientOptions,
  resolved: ReturnType<typeof resolveClientOptions>,
): Promise<ClientResult> {
  const { host, ports, insecure, workTimeoutMs, otherTimeoutMs, maxRequests, sessionTimeoutMs } =
    resolved;
  const logger = options.logger ?? createNullLogger('tlslp.client');
  const emit = options.onEvent ?? (() => {});
  if (insecure) assertInsecureAllowed(host);
  else if (!options.tls.ca || !options.tls.cert || !options.tls.key) {
    throw new ConfigError(
      'TLSLP_ERR_NO_CERT',
      { ca: 'tls.ca', cert: 'tls.cert', key: 'tls.key' },
      { option: !options.tls.ca ? 'tls.ca' : !options.tls.cert ? 'tls.cert' : 'tls.key' },
    );
  }

  if (!insecure) {
    try {
      secureContextFor(options.tls);
    } catch (err) {
      throw new ConfigError(
        'TLSLP_ERR_BAD_TLS_MATERIAL',
        { side: 'client', reason: (err as Error).message, options: 'tls.ca, tls.cert and tls.key' },
        { cause: err, option: 'tls' },
      );
    }
  }

  // Refuse an unusable solver before dialling, not when WORK arrives (it is checked again
  // right before it runs, in case it changed meanwhile).
  if (options.workBinary && !options.solver) await checkSolverPath(options.workBinary);

  let socket: tls.TLSSocket | null = null;
  let port = 0;
  let lastError: TlslpError | null = null;
  for (const p of ports) {
    emit({ type: 'connecting', host, port: p });
    logger.info(`Connecting to ${hostPort(host, p)}`);
    try {
      socket = await connectTls(host, p, options.tls, insecure, otherTimeoutMs, options.signal);
      port = p;
      break;
    } catch (err) {
      const e = err as TlslpError;
      if (e.code === 'TLSLP_ERR_ABORTED') throw e;
      // A refused port says less than a TLS failure on another port: report the latter.
      if (!lastError || e.code !== 'TLSLP_ERR_CONNECTION_REFUSED') lastError = e;
      emit({ type: 'connect-failed', host, port: p, reason: e.message, code: e.code });
      // The port list is the original's: closed ports before the one that answers are normal.
      // Anything else (a TLS failure, a timeout) is worth a warning; so is the end of the list.
      const what = `Connection to ${hostPort(host, p)} failed: ${e.message}`;
      const raw = rawErrorDetail(e);
      if (raw) logger.debug(`Connection to ${hostPort(host, p)}: ${raw}`);
      if (e.code === 'TLSLP_ERR_CONNECTION_REFUSED') logger.info(what);
      else logger.warning(what);
    }
  }
  if (!socket) {
    // The last port's error, code and all, with what was tried before its message.
    throw withContext(
      lastError as TlslpError,
      `could not connect to ${host} on port${ports.length > 1 ? 's' : ''} ${ports.join(',')}`,
    );
  }
  const protocol = socket.getProtocol() ?? 'TLS';
  emit({ type: 'connected', host, port, protocol, chain: peerChain(socket) });
  logger.info(
    `Connected to ${hostPort(host, port)} (${protocol}${insecure ? ', insecure' : ', mutual TLS'})`,
  );

  const solver =
    options.solver ??
    (options.workBinary
      ? externalSolver(options.workBinary, workTimeoutMs)
      : builtinSolver(options.solverOptions));
  const channel = new SocketLineChannel(socket);
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(), sessionTimeoutMs);
  const signal = options.signal
    ? AbortSignal.any([options.signal, deadline.signal])
    : deadline.signal;
  try {
    const result = await runClientSession(channel, {
      profile: options.profile ?? DEFAULT_PROFILE,
      solve: solver,
      workTimeoutMs,
      otherTimeoutMs,
      maxRequests,
      signal,
      log: logger,
      identity: ownIdentity(socket),
      onEvent: (event) => {
        if (event.type === 'work-done') logSolve(logger, event.solution, options.tutorial === true);
        emit(event);
      },
    });
    logger.info(`Session complete: ${result.answered.length} requests answered, DONE/OK`);
    return { ...result, host, port, protocol };
  } catch (err) {
    channel.destroy();
    if (deadline.signal.aborted && !options.signal?.aborted) {
      throw new TransportError(
        'TLSLP_ERR_SESSION_TIMEOUT',
        { seconds: sessionTimeoutMs / 1000 },
        { cause: err },
      );
    }
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Our certificate as the server's logs name it (CN and the first 16 hex digits of its
 * SHA-256 fingerprint), so a refusal points at the line to look for there.
 */
function ownIdentity(socket: tls.TLSSocket): string | undefined {
  const cert = socket.getCertificate();
  if (!cert || !('fingerprint256' in cert)) return undefined;
  const cn = cert.subject.CN;
  const name = Array.isArray(cn) ? cn.join('+') : cn;
  const fp = cert.fingerprint256.replace(/:/g, '').slice(0, 16).toLowerCase();
  return `${name ? `${JSON.stringify(name)} ` : ''}(fp ${fp})`;
}

function logSolve(
  logger: Logger,
  s: WorkSolution & { fallbackReason?: string },
  tutorial: boolean,
): void {
  if (tutorial) {
    // Timing and kernel differ between runs and machines; the golden logs must not.
    logger.info(`WORK solved: suffix ${s.suffix}`);
    return;
  }
  if (s.fallbackReason) logger.warning(s.fallbackReason);
  const rate = s.hashesPerSecond ? `, ${(s.hashesPerSecond / 1e6).toFixed(1)} M hashes/s` : '';
  const threads = s.threads ? `, ${s.threads} thread${s.threads > 1 ? 's' : ''}` : '';
  if (s.kernelRates) {
    logger.debug(`Solver ${s.solver}: variants ${formatKernelRates(s.kernelRates)} M hashes/s`);
  }
  logger.info(
    `WORK solved in ${s.seconds.toFixed(3)} s with ${s.solver}${threads}${rate}: suffix ${s.suffix}`,
  );
}
