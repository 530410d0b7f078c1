/** Shared test helpers: throwaway certificates, a server on a free loopback port, raw clients. */
import { spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import net from 'node:net';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import tls from 'node:tls';
import { afterAll, afterEach, expect, inject } from 'vitest';
import type { SharedSetName } from './global-setup.js';
import type { Logger, LogLevel } from '../src/logging/index.js';
import { CERT_FILE_NAMES, writeCertificateSet, type CertificateSet } from '../src/pki/generate.js';
import { runClient } from '../src/client/client.js';
import { CRL_FILE_NAME } from '../src/pki/crl.js';
import { TlslpServer, type ServerOptions, type SessionReport } from '../src/server/server.js';
import { SocketLineChannel } from '../src/transport/channel.js';

/**
 * The run's shared certificate set (test/global-setup.ts makes it once per run: RSA key
 * generation is the slow part). `foreign` is another CA's set, `ec` another CA's with an EC
 * server key.
 */
export function testCerts(name: SharedSetName = 'main'): Promise<CertificateSet> {
  return Promise.resolve(inject('certSets')[name].set);
}

/**
 * Copy a shared set's files (CERT_FILE_NAMES, as `tlslp certs` writes them) into `dir`, made
 * if missing, for a test that changes them or runs a bin on them; returns `dir`.
 */
export async function copySharedCerts(dir: string, name: SharedSetName = 'main'): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await cp(inject('certSets')[name].dir, dir, { recursive: true });
  return dir;
}

/** A started server on 127.0.0.1 with a free port, and the sessions it reports. */
export interface TestServer {
  server: TlslpServer;
  port: number;
  reports: SessionReport[];
  /** Resolves with the next session report not yet taken (reports that already arrived count). */
  nextReport(): Promise<SessionReport>;
  /** Resolves once `n` sessions have ended in all. */
  sessionsEnded(n: number): Promise<void>;
}

export async function startServer(
  certs: CertificateSet,
  options: Partial<ServerOptions> = {},
): Promise<TestServer> {
  const reports: SessionReport[] = [];
  const waiters: Array<() => void> = [];
  let taken = 0;
  const server = new TlslpServer({
    host: '127.0.0.1',
    port: 0,
    nBits: 8,
    otherTimeoutMs: 5000,
    tls: { cert: certs.serverCert, key: certs.serverKey, ca: certs.caCert },
    ...options,
    onSession: (r) => {
      reports.push(r);
      for (const w of waiters.splice(0)) w();
      options.onSession?.(r);
    },
  });
  const { port } = await server.listen();
  return {
    server,
    port,
    reports,
    async nextReport() {
      while (reports.length <= taken) await new Promise<void>((resolve) => waiters.push(resolve));
      return reports[taken++] as SessionReport;
    },
    async sessionsEnded(n) {
      while (reports.length < n) await new Promise<void>((resolve) => waiters.push(resolve));
    },
  };
}

/**
 * A starter of servers for one test file: `server(options)` runs {@link startServer} with
 * `defaults` under `options`, and every server in `servers` (add ones started otherwise) is
 * closed after each test. Call it before the file's own afterEach hooks: those then run first
 * (vitest runs after-hooks in reverse order), so sockets a test kept are gone before the close.
 */
export function useServers(
  certs: () => CertificateSet,
  defaults: Partial<ServerOptions> = {},
): { server: (options?: Partial<ServerOptions>) => Promise<TestServer>; servers: TestServer[] } {
  const servers: TestServer[] = [];
  afterEach(async () => {
    while (servers.length) await servers.pop()?.server.close();
  });
  const server = async (options: Partial<ServerOptions> = {}): Promise<TestServer> => {
    const s = await startServer(certs(), { ...defaults, ...options });
    servers.push(s);
    return s;
  };
  return { server, servers };
}

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

/** Poll `predicate` every 10 ms until it holds; rejects naming `what` once `ms` have passed. */
export async function until(
  predicate: () => boolean | Promise<boolean>,
  what = 'the condition',
  ms = 10_000,
): Promise<void> {
  const end = performance.now() + ms;
  while (!(await predicate())) {
    if (performance.now() > end) throw new Error(`not reached within ${ms} ms: ${what}`);
    await sleep(10);
  }
}

/** Resolves with `promise`'s value, or rejects naming `what` once `ms` passed (a bounded wait, no timing check). */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`still waiting after ${ms} ms: ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Client TLS material from a set. */
export function clientTls(certs: CertificateSet): { ca: string; cert: string; key: string } {
  return { ca: certs.caCert, cert: certs.clientCert, key: certs.clientKey };
}

/** A raw mutual-TLS connection as a line channel, for playing a misbehaving client. */
export async function rawClient(
  port: number,
  certs: CertificateSet,
): Promise<{ ch: SocketLineChannel; socket: tls.TLSSocket }> {
  const socket = tls.connect({
    host: '127.0.0.1',
    port,
    ...clientTls(certs),
    servername: 'localhost',
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', resolve);
    socket.once('error', reject);
  });
  return { ch: new SocketLineChannel(socket), socket };
}

/**
 * A mutual-TLS session to `port` left waiting at WORK (HELLO answered, WORK received and not
 * answered); `track` gets the socket so the test can destroy it.
 */
export async function heldAtWork(
  port: number,
  certs: CertificateSet,
  track: (socket: tls.TLSSocket) => void,
): Promise<tls.TLSSocket> {
  const { ch, socket } = await rawClient(port, certs);
  socket.on('error', () => {});
  track(socket);
  expect(await ch.readLine(5000)).toBe('HELLO');
  ch.writeLine('HELLOBACK');
  expect(await ch.readLine(5000)).toMatch(/^WORK /);
  return socket;
}

/**
 * A hand-driven TLS server for playing a hostile or unusual server: `onSecure` gets each
 * connection once its mutual-TLS handshake is done, with the raw TCP socket beside it (so a
 * test can reset the connection itself).
 */
export async function scriptedServer(
  certs: CertificateSet,
  onSecure: (socket: tls.TLSSocket, raw: net.Socket) => void,
): Promise<{ port: number; close(): void }> {
  const context = tls.createSecureContext({
    cert: certs.serverCert,
    key: certs.serverKey,
    ca: certs.caCert,
  });
  const server = net.createServer((raw) => {
    raw.on('error', () => {});
    const socket = new tls.TLSSocket(raw, {
      isServer: true,
      secureContext: context,
      requestCert: true,
      rejectUnauthorized: true,
    });
    socket.on('error', () => {});
    socket.once('secure', () => onSecure(socket, raw));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => {
      server.close();
    },
  };
}

/**
 * Write a set's client-side files into `dir` and return the tlslp-client flags that use
 * them (`--ca-cert`, `--client-cert`, `--private-key`).
 */
export async function clientCertFlags(certs: CertificateSet, dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const ca = join(dir, 'ca_cert.pem');
  const cert = join(dir, 'client_cert.pem');
  const key = join(dir, 'client_key.pem');
  await writeFile(ca, certs.caCert);
  await writeFile(cert, certs.clientCert);
  await writeFile(key, certs.clientKey, { mode: 0o600 });
  return ['--ca-cert', ca, '--client-cert', cert, '--private-key', key];
}

/** The tlslp-server flags for the files of a set written into `dir` (`writeCertificateSet`). */
export function serverCertFlags(dir: string): string[] {
  const f = (k: keyof typeof CERT_FILE_NAMES): string => join(dir, CERT_FILE_NAMES[k]);
  return [
    '--server-cert',
    f('serverCert'),
    '--server-key',
    f('serverKey'),
    '--ca-cert',
    f('caCert'),
  ];
}

/** What a bin run printed and how it ended. */
export interface BinRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Run a bin by its path (`node dist/cli/<bin>.js`, never npx) with its logs in `stateDir`
 * (XDG_STATE_HOME), and collect what it printed. With `stopWhen`, the bin gets SIGTERM once its
 * stdout matches (for a server: once it is up).
 */
export function runBin(
  bin: 'client' | 'server' | 'tlslp' | 'work',
  args: string[],
  stateDir: string,
  options: { stopWhen?: RegExp } = {},
): Promise<BinRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [`dist/cli/${bin}.js`, ...args], {
      env: { ...process.env, XDG_STATE_HOME: stateDir, FORCE_COLOR: '0' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      if (options.stopWhen?.test(stdout)) child.kill('SIGTERM');
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** What a program run printed and how it ended, signal included. */
export interface ProgramRun extends BinRun {
  signal: NodeJS.Signals | null;
}

/**
 * Run `file` with `args` (TLSLP_DEBUG cleared; `env` replaces the named variables) and collect
 * what it printed. `onSpawn` gets the pid and a kill function once it runs.
 */
export function runProgram(
  file: string,
  args: string[],
  options: {
    env?: NodeJS.ProcessEnv;
    cwd?: string;
    onSpawn?: (pid: number, kill: (signal: NodeJS.Signals) => void) => void;
  } = {},
): Promise<ProgramRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      cwd: options.cwd,
      env: { ...process.env, TLSLP_DEBUG: '', ...options.env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    if (options.onSpawn && child.pid !== undefined) {
      options.onSpawn(child.pid, (signal) => child.kill(signal));
    }
  });
}

/** {@link runBin} for `tlslp-client`. */
export function runClientBin(args: string[], stateDir: string): Promise<BinRun> {
  return runBin('client', args, stateDir);
}

/**
 * Run `count` full client sessions at once against `port`; each must end in DONE/OK or a
 * drawn FAIL (either is a completed session). Resolves with how many ended in DONE/OK.
 */
export async function completeSessions(
  port: number,
  certs: CertificateSet,
  count: number,
): Promise<number> {
  const results = await Promise.allSettled(
    Array.from({ length: count }, () =>
      runClient({
        host: '127.0.0.1',
        ports: [port],
        tls: clientTls(certs),
        solverOptions: { threads: 1 },
      }),
    ),
  );
  let done = 0;
  for (const r of results) {
    if (r.status === 'fulfilled') done++;
    else if ((r.reason as Error).name !== 'ServerFailError') throw r.reason;
  }
  return done;
}

/** A maker of temporary folders (named `<prefix>…`) that are removed after the file's tests. */
export function useTempDirs(prefix: string): () => Promise<string> {
  const dirs: string[] = [];
  afterAll(async () => {
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });
  return async () => {
    const dir = await mkdtemp(join(tmpdir(), prefix));
    dirs.push(dir);
    return dir;
  };
}

/** A stderr stand-in that collects what is written to it. */
export function capture(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (b: Buffer) => chunks.push(b));
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

/** Whether this host can use 127.0.0.2 as a source address (Linux: yes; macOS: not by default). */
export async function haveSecondLoopback(): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      const c = net.connect({ host: '127.0.0.1', port, localAddress: '127.0.0.2' });
      const done = (ok: boolean): void => {
        c.destroy();
        srv.close();
        resolve(ok);
      };
      c.once('connect', () => done(true));
      c.once('error', () => done(false));
    });
  });
}

/**
 * A plain TCP connection to 127.0.0.1:`port`, added to `track` for cleanup. Resolves once
 * connected (rejects after 5 s); with `resetIsRefusal`, also once the server resets it, since
 * a refusal can arrive before the client has seen its connect.
 */
export async function tcpConnect(
  port: number,
  track: Set<net.Socket>,
  options: { localAddress?: string; resetIsRefusal?: boolean } = {},
): Promise<net.Socket> {
  const socket = net.connect({
    host: '127.0.0.1',
    port,
    ...(options.localAddress ? { localAddress: options.localAddress } : {}),
  });
  track.add(socket);
  socket.on('error', () => {});
  let timer: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      timer = setTimeout(() => reject(new Error('timed out waiting for a TCP connection')), 5000);
      socket.once('connect', resolve);
      socket.once('error', (err: NodeJS.ErrnoException) =>
        options.resetIsRefusal && err.code === 'ECONNRESET' ? resolve() : reject(err),
      );
    });
  } finally {
    clearTimeout(timer);
  }
  return socket;
}

/** A client's certificate and key files (an issued certificate has both). */
export interface ClientFiles {
  certPath: string;
  keyPath: string;
}

export interface Attempt {
  /** The client got its byte echoed: the server accepted its certificate. */
  ok: boolean;
  /** Why the server refused the client's certificate, if it did (e.g. `CERT_REVOKED`). */
  serverError?: string;
}

/**
 * A mutual-TLS server on 127.0.0.1 with the folder's server certificate, the CA and the CRL
 * (`requestCert`, `rejectUnauthorized`), and a function that connects with a client's files.
 */
export async function crlServer(d: string): Promise<{
  attempt: (c: ClientFiles | CertificateSet) => Promise<Attempt>;
  close: () => Promise<void>;
}> {
  const caPem = await readFile(join(d, CERT_FILE_NAMES.caCert), 'utf8');
  const server = tls.createServer({
    cert: await readFile(join(d, CERT_FILE_NAMES.serverCert), 'utf8'),
    key: await readFile(join(d, CERT_FILE_NAMES.serverKey), 'utf8'),
    ca: caPem,
    crl: await readFile(join(d, CRL_FILE_NAME), 'utf8'),
    requestCert: true,
    rejectUnauthorized: true,
  });
  let lastError: string | undefined;
  server.on('secureConnection', (socket) => {
    socket.on('error', () => {});
    socket.once('data', (b: Buffer) => socket.end(b));
  });
  // Node destroys a client whose certificate fails verification after the handshake; the
  // socket it reports the failure with still carries OpenSSL's reason.
  server.on('tlsClientError', (_err, socket: tls.TLSSocket) => {
    const reason = socket.authorizationError;
    if (reason !== undefined) lastError = typeof reason === 'string' ? reason : reason.message;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;

  const attempt = async (c: ClientFiles | CertificateSet): Promise<Attempt> => {
    const [cert, key] =
      'certPath' in c
        ? await Promise.all([readFile(c.certPath, 'utf8'), readFile(c.keyPath, 'utf8')])
        : [c.clientCert, c.clientKey];
    lastError = undefined;
    const ok = await new Promise<boolean>((resolve) => {
      const socket = tls.connect({
        host: '127.0.0.1',
        port,
        servername: 'localhost',
        ca: caPem,
        cert,
        key,
      });
      const chunks: Buffer[] = [];
      socket.on('secureConnect', () => socket.write('*'));
      socket.on('data', (b: Buffer) => chunks.push(b));
      socket.on('end', () => resolve(Buffer.concat(chunks).toString() === '*'));
      socket.on('error', () => resolve(false));
    });
    return ok ? { ok } : { ok, ...(lastError === undefined ? {} : { serverError: lastError }) };
  };
  const close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return { attempt, close };
}

/** A running `tlslp-server` bin (see {@link serverBin}). */
export interface ServerBin {
  /** The port it listens on. */
  port: number;
  /** Resolves with its exit code. */
  exited: Promise<number | null>;
  stdout: () => string;
  stderr: () => string;
  /** Its log file so far. */
  log: () => Promise<string>;
  kill: (signal: NodeJS.Signals) => void;
}

/**
 * Start `node dist/cli/server.js` on 127.0.0.1 with `certs` written into `dir` (and its log
 * there), n_bits 4, and `args`; resolves once it listens.
 */
export async function serverBin(
  certs: CertificateSet,
  dir: string,
  args: string[],
): Promise<ServerBin> {
  const { paths } = await writeCertificateSet(join(dir, 'certificates'), certs);
  const logFile = join(dir, 'server.log');
  const tlsFlags = Object.entries({
    '--server-cert': paths.serverCert,
    '--server-key': paths.serverKey,
    '--ca-cert': paths.caCert,
  }).flat();
  const base = ['--host=127.0.0.1', '--port=0', '--n_bits=4', `--log-file=${logFile}`];
  const child = spawn(process.execPath, ['dist/cli/server.js', ...base, ...tlsFlags, ...args], {
    env: { ...process.env, XDG_STATE_HOME: dir },
  });
  let stdout = '';
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      const m = /listening on [^:]+:(\d+)/.exec(stdout);
      if (m) resolve(Number(m[1]));
    });
    void exited.then(() => reject(new Error(`server exited: ${stderr}`)));
  });
  return {
    port,
    exited,
    stdout: () => stdout,
    stderr: () => stderr,
    log: () => readFile(logFile, 'utf8').catch(() => ''),
    kill: (signal) => child.kill(signal),
  };
}

/** A logger that keeps every line with its level. */
export function memoryLogger(): Logger & { lines: Array<{ level: LogLevel; msg: string }> } {
  const lines: Array<{ level: LogLevel; msg: string }> = [];
  const at =
    (level: LogLevel) =>
    (msg: string): void =>
      void lines.push({ level, msg });
  return {
    name: 'tlslp.server',
    level: 'DEBUG',
    lines,
    debug: at('DEBUG'),
    info: at('INFO'),
    warning: at('WARNING'),
    error: at('ERROR'),
    isEnabled: () => true,
    close: async () => {},
  };
}

/** A free TCP port on 127.0.0.1 (closed again; the caller binds it next). */
export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as net.AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** A session of `set` left at WORK (added to `track`): resolves with the n_bits it was asked. */
export async function workBits(
  port: number,
  set: CertificateSet,
  track: Set<tls.TLSSocket>,
): Promise<number> {
  const { ch, socket } = await rawClient(port, set);
  socket.on('error', () => {});
  track.add(socket);
  expect(await ch.readLine(5000)).toBe('HELLO');
  ch.writeLine('HELLOBACK');
  const work = await ch.readLine(5000);
  expect(work).toMatch(/^WORK \S+ \d+$/);
  return Number(work.split(' ')[2]);
}

/** An error class whose instances carry a `code` (ConfigError, ProtocolError, …). */
interface CodedErrorClass {
  readonly name: string;
  readonly prototype: Error & { code: string };
}

/**
 * The `code` of the error `fn` throws, which must be a `type`; undefined when `fn` returns.
 * The instance check fails the test on any other error, so a wrong throw is never read as a code.
 */
export function codeOf(fn: () => unknown, type: CodedErrorClass): string | undefined {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(type);
    return (err as CodedErrorClass['prototype']).code;
  }
  return undefined;
}

/** The `code` of the `type` error `promise` rejects with; fails the test when it resolves. */
export async function rejectionCodeOf(
  promise: Promise<unknown>,
  type: CodedErrorClass,
): Promise<string> {
  const outcome = await promise.then(
    (value: unknown) => ({ resolved: true as const, value }),
    (err: unknown) => ({ resolved: false as const, err }),
  );
  if (outcome.resolved) throw new Error(`expected a ${type.name} rejection, got a value`);
  expect(outcome.err).toBeInstanceOf(type);
  return (outcome.err as CodedErrorClass['prototype']).code;
}
