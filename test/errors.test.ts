import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, expectTypeOf, it } from 'vitest';
import {
  ConfigError,
  ERROR_CATALOG,
  HANDSHAKE_FAILURE_REASONS,
  ProtocolError,
  SESSION_FAILURE_REASONS,
  ServerFailError,
  SolverError,
  TlslpError,
  TransportError,
  handshakeFailureReason,
  isErrorCode,
  renderMessage,
  sessionFailureReason,
  withContext,
  type ErrorClassName,
  type ErrorCode,
  type HandshakeFailureReason,
  type SessionFailureReason,
} from '../src/errors/index.js';
import { templateParams, type ParamsOf } from '../src/errors/catalog.js';
import { CLIENT_ALIASES } from '../src/cli/client.js';
import { describeError } from '../src/cli/common.js';
import { withFlagNames } from '../src/cli/options.js';
import { CLIENT_OPTIONS } from '../src/options/client.js';
import { toTransportError } from '../src/transport/channel.js';
import { readPem, unreadable } from '../src/tls/material.js';
import { rawClient, scriptedServer, testCerts } from './helpers.js';

const root = join(import.meta.dirname, '..');
const codes = Object.keys(ERROR_CATALOG) as ErrorCode[];
/** Every parameter of a template, needed or of an optional part. */
const placeholders = (template: string): string[] => {
  const { required, optional } = templateParams(template);
  return [...required, ...optional];
};

/** Build an error of `code` through its class, as a caller would (params untyped here). */
function build(code: ErrorCode, params: Record<string, string>): TlslpError {
  type Loose = new (code: string, params?: Record<string, string>) => TlslpError;
  const classes: Record<Exclude<ErrorClassName, 'ServerFailError'>, Loose> = {
    ProtocolError: ProtocolError as unknown as Loose,
    TransportError: TransportError as unknown as Loose,
    ConfigError: ConfigError as unknown as Loose,
    SolverError: SolverError as unknown as Loose,
  };
  const { type } = ERROR_CATALOG[code];
  if (type === 'ServerFailError') return new ServerFailError(params.reason ?? '');
  return new classes[type](code, params);
}

const errno = (code: string, message: string): Error => Object.assign(new Error(message), { code });

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => join(e.parentPath, e.name));
}

describe('the catalog', () => {
  it('has unique, prefixed codes, each with a class, a template and a one-line summary', async () => {
    const text = await readFile(join(root, 'src', 'errors', 'catalog.ts'), 'utf8');
    for (const code of codes) {
      expect(code).toMatch(/^TLSLP_ERR_[A-Z0-9]+(_[A-Z0-9]+)*$/);
      // An object literal keeps the last of two equal keys silently: count them in the source.
      expect(text.split(`  ${code}: {`).length - 1, code).toBe(1);
      const entry = ERROR_CATALOG[code];
      expect([
        'ProtocolError',
        'TransportError',
        'ConfigError',
        'SolverError',
        'ServerFailError',
      ]).toContain(entry.type);
      expect(entry.message.length, code).toBeGreaterThan(0);
      expect(entry.summary, code).toMatch(/^[A-Z].*\.$/);
      expect(entry.summary, code).not.toContain('\n');
    }
  });

  it('renders every parameter of every template, and leaves none unfilled', () => {
    for (const code of codes) {
      const names = placeholders(ERROR_CATALOG[code].message);
      const params = Object.fromEntries(names.map((n) => [n, `<${n}:${code}>`]));
      const message = renderMessage(ERROR_CATALOG[code].message, params);
      for (const n of templateParams(ERROR_CATALOG[code].message).required)
        expect(message, code).toContain(`<${n}:${code}>`);
      expect(message, code).not.toMatch(/\{\w+\}/);
      // With every optional part off, its other text is written, filled as well.
      const heads = [...ERROR_CATALOG[code].message.matchAll(/\{(\w+)\?/g)].map((m) => m[1]);
      const off = Object.fromEntries(names.map((n) => [n, heads.includes(n) ? false : `<${n}>`]));
      expect(renderMessage(ERROR_CATALOG[code].message, off), code).not.toMatch(/[{}]/);
    }
    expect(renderMessage('{a} and {a}, {b}', { a: 1, b: false })).toBe('1 and 1, false');
  });

  it('writes an optional part only when its parameter is given, else its other text', () => {
    const t = 'closed{peer? by peer}, {n?{n} left|none left}{why?: {why}}';
    expect(renderMessage(t, { peer: true, n: 3, why: 'x' })).toBe('closed by peer, 3 left: x');
    expect(renderMessage(t, { peer: false, n: 0, why: '' })).toBe('closed, 0 left');
    expect(renderMessage(t, {})).toBe('closed, none left');
    expect(templateParams(t)).toEqual({ required: [], optional: ['peer', 'n', 'why'] });
    expect(templateParams('{a} {b?{a} and {c}|{d}}')).toEqual({
      required: ['a'],
      optional: ['b', 'c', 'd'],
    });
    // The messages users see, from values rather than pieces of sentences.
    expect(new TransportError('TLSLP_ERR_CLOSED', { peer: true }).message).toBe(
      'connection closed by peer',
    );
    expect(new TransportError('TLSLP_ERR_CLOSED').message).toBe('connection closed');
    expect(new SolverError('TLSLP_ERR_SOLVER_EXIT', { exitCode: 2, stderr: 'boom' }).message).toBe(
      'external solver failed (exit 2): boom',
    );
    expect(
      new SolverError('TLSLP_ERR_SOLVER_EXIT', { signal: 'SIGKILL', exitCode: 0 }).message,
    ).toBe('external solver failed (SIGKILL)');
    const parts = new ConfigError('TLSLP_ERR_NOT_RELOADABLE', { option: 'port' });
    expect(parts.message).toBe(
      'port cannot change on a running server: not one of the reloadable options; restart it to apply',
    );
    // A parameter left undefined is not among the error's parameters.
    expect(new TransportError('TLSLP_ERR_CLOSED', { peer: undefined }).params).toEqual({});
  });

  it("types each code's parameters from its template: needed, optional, nothing else", () => {
    expectTypeOf<ParamsOf<'TLSLP_ERR_CLOSED'>>().toEqualTypeOf<{
      readonly peer?: string | number | bigint | boolean | undefined;
    }>();
    expectTypeOf<keyof ParamsOf<'TLSLP_ERR_NOT_RELOADABLE'>>().toEqualTypeOf<
      'option' | 'from' | 'to'
    >();
    expectTypeOf<{ option: string }>().toExtend<ParamsOf<'TLSLP_ERR_NOT_RELOADABLE'>>();
    expectTypeOf<{ from: string }>().not.toExtend<ParamsOf<'TLSLP_ERR_NOT_RELOADABLE'>>();
    expectTypeOf<keyof ParamsOf<'TLSLP_ERR_SOLVER_EXIT'>>().toEqualTypeOf<
      'signal' | 'exitCode' | 'stderr'
    >();
    expectTypeOf<keyof ParamsOf<'TLSLP_ERR_LISTEN_FAILED'>>().toEqualTypeOf<
      'endpoint' | 'address' | 'reason' | 'privileged'
    >();
    // @ts-expect-error a piece of sentence is no parameter of the template
    void new TransportError('TLSLP_ERR_CLOSED', { by: ' by peer' });
  });

  it('no template takes a free-text detail or a sentence fragment', () => {
    // Names that held pieces of sentences: a template names values (a path, a count, a flag).
    for (const code of codes)
      for (const name of ['detail', 'problem', 'action', 'why', 'who', 'needs'])
        expect(placeholders(ERROR_CATALOG[code].message), code).not.toContain(name);
  });

  it('every class builds each of its codes: instanceof, code, name, params and message', () => {
    for (const code of codes) {
      const { type, message } = ERROR_CATALOG[code];
      const params = Object.fromEntries(placeholders(message).map((n) => [n, `v${n}`]));
      const err = build(code, params);
      expect(err).toBeInstanceOf(TlslpError);
      expect(err).toBeInstanceOf(Error);
      expect(err.name).toBe(type);
      expect(err.code).toBe(code);
      if (type !== 'ServerFailError') {
        expect(err.params).toEqual(params);
        expect(err.message).toBe(renderMessage(message, params));
      }
    }
  });

  it('refuses a code of another class or outside the catalog (tsc refuses both too)', () => {
    // @ts-expect-error TLSLP_ERR_FLOOD is a ProtocolError
    expect(() => new ConfigError('TLSLP_ERR_FLOOD')).toThrow(
      /is a ProtocolError, not a ConfigError/,
    );
    // @ts-expect-error not a code of the catalog
    expect(() => new ProtocolError('LINE_TOO_LONG', { max: 1 })).toThrow(/not a tlslp error code/);
    // @ts-expect-error `value` is missing
    expect(new ConfigError('TLSLP_ERR_BAD_N_BITS', { option: 'nBits' }).message).toContain(
      '{value}',
    );
  });

  it('a ConfigError carries the option it names, from the template or the options', () => {
    const named = new ConfigError('TLSLP_ERR_BAD_N_BITS', { option: 'nBits', value: 65 });
    expect(named.option).toBe('nBits');
    expect(named.message).toBe('nBits must be a whole number 0..64, not 65');
    const given = new ConfigError('TLSLP_ERR_NO_CA', { option: 'tls.ca' });
    expect(given.option).toBe('tls.ca');
    const explicit = new ConfigError(
      'TLSLP_ERR_CERT_EXPIRED',
      { cert: 'c.pem', date: '2020-01-01' },
      { option: 'tls.cert' },
    );
    expect(explicit.option).toBe('tls.cert');
    expect(new ConfigError('TLSLP_ERR_CERT_DIR', { dir: 'd', reason: 'x' }).option).toBeUndefined();
  });

  it('library templates name options, not flags (the CLI-only codes say so)', () => {
    for (const code of codes) {
      const { message, summary } = ERROR_CATALOG[code];
      // `tlslp certs --force`, `tlslp certs crl --init` are commands to run, not options of
      // the failing call.
      const flags = message.replace(/tlslp certs( [a-z]+)?( --\w+)*/g, '').match(/--[a-z]/g);
      if (flags) expect(summary, code).toMatch(/\(CLI\)\.$/);
    }
  });
});

describe('the source', () => {
  it('uses only catalog codes, and every catalog code is used', async () => {
    const used = new Set<string>();
    for (const file of await sourceFiles(join(root, 'src'))) {
      if (file.endsWith(join('errors', 'catalog.ts'))) continue;
      const text = await readFile(file, 'utf8');
      for (const m of text.matchAll(/TLSLP_ERR_[A-Z0-9]+(?:_[A-Z0-9]+)*/g)) {
        expect(isErrorCode(m[0]), `${m[0]} in ${file}`).toBe(true);
        used.add(m[0]);
      }
    }
    expect(codes.filter((c) => !used.has(c))).toEqual([]);
  });

  it('throws no plain Error, TypeError or RangeError that would reach a caller', async () => {
    for (const file of await sourceFiles(join(root, 'src'))) {
      const text = await readFile(file, 'utf8');
      // The catalog's own guard against plain-JS misuse is the one exception.
      const plain = [...text.matchAll(/new (Error|TypeError|RangeError)\(/g)].length;
      expect(plain, file).toBe(file.endsWith(join('errors', 'index.ts')) ? 2 : 0);
    }
  });
});

describe('foreign errors', () => {
  it('a socket errno error becomes a TransportError of the catalog, the original as cause', () => {
    const raw = errno('ECONNRESET', 'read ECONNRESET');
    const err = toTransportError(raw);
    expect(err).toBeInstanceOf(TransportError);
    expect(err.code).toBe('TLSLP_ERR_CONNECTION_RESET');
    expect(err.cause).toBe(raw);
    expect(err.causeCode).toBe('ECONNRESET');
    expect(toTransportError(errno('ECONNREFUSED', 'x')).code).toBe('TLSLP_ERR_CONNECTION_REFUSED');
    expect(toTransportError(errno('EAI_AGAIN', 'x')).code).toBe('TLSLP_ERR_HOST_NOT_FOUND');
    // A TlslpError passes through as it is.
    const own = new TransportError('TLSLP_ERR_NOT_READING');
    expect(toTransportError(own)).toBe(own);
  });

  it('an unknown OpenSSL code is one catch-all code naming it; anything else keeps its text', () => {
    const tls = toTransportError(errno('ERR_SSL_SOMETHING_NEW', 'error:0A000410:SSL routines'));
    expect(tls.code).toBe('TLSLP_ERR_TLS_FAILED');
    expect(tls.message).toContain('ERR_SSL_SOMETHING_NEW');
    expect(tls.message).not.toContain('SSL routines');
    expect(tls.causeCode).toBe('ERR_SSL_SOMETHING_NEW');
    const other = toTransportError(new Error('socket hang up'));
    expect(other).toMatchObject({ code: 'TLSLP_ERR_SOCKET', message: 'socket hang up' });
    expect(other.causeCode).toBeUndefined();
  });

  describe('over a real TLS connection', () => {
    const closers: Array<() => void> = [];
    afterAll(() => closers.forEach((c) => c()));

    it('a reset reaches the reader as TLSLP_ERR_CONNECTION_RESET with the errno error as cause', async () => {
      const certs = await testCerts();
      const server = await scriptedServer(certs, (_socket, raw) => raw.resetAndDestroy());
      closers.push(server.close);
      const { ch, socket } = await rawClient(server.port, certs);
      closers.push(() => socket.destroy());
      const err = await ch.readLine(10_000).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TransportError);
      expect(err).toMatchObject({ code: 'TLSLP_ERR_CONNECTION_RESET', causeCode: 'ECONNRESET' });
      expect((err as TransportError).cause).toMatchObject({ code: 'ECONNRESET' });
    });
  });

  it('withContext keeps class, code and parameters, prefixes the message, and keeps the cause', () => {
    const inner = toTransportError(errno('ECONNREFUSED', 'connect ECONNREFUSED'));
    const outer = withContext(inner, 'could not connect to h on port 1');
    expect(outer).toBeInstanceOf(TransportError);
    expect(outer).toMatchObject({
      code: inner.code,
      params: inner.params,
      causeCode: 'ECONNREFUSED',
    });
    expect(outer.message).toBe(`could not connect to h on port 1: ${inner.message}`);
    expect(outer.cause).toBe(inner);
    expect(inner.message).not.toContain('could not connect');
  });
});

describe('a file that cannot be read', () => {
  it('unreadable() says in words what TLSLP_ERR_CERT_FILE says of it', async () => {
    const err = (code?: string): Error => Object.assign(new Error('x'), code ? { code } : {});
    expect(unreadable(err('ENOENT'))).toBe('not found');
    expect(unreadable(err('EACCES'))).toBe('not readable (check its permissions)');
    expect(unreadable(err('EISDIR'))).toBe('is a folder');
    expect(unreadable(err('EIO'))).toBe('cannot be read (EIO)');
    expect(unreadable(err())).toBe('cannot be read (error)');
    // The same words in the error a missing file gets.
    await expect(readPem({ path: '/nonexistent/tlslp-ca.pem', flag: '--ca-cert' })).rejects.toThrow(
      /^--ca-cert \/nonexistent\/tlslp-ca\.pem: not found; /,
    );
  });
});

describe('the CLI line', () => {
  it('names the flag where the library message names the option', () => {
    const path = new ConfigError('TLSLP_ERR_SOLVER_PATH', {
      option: 'workBinary',
      path: '/x',
      missing: true,
    });
    expect(path.message).toBe('workBinary /x: not found');
    const flags = (err: Error): string =>
      describeError(withFlagNames(err, CLIENT_OPTIONS, CLIENT_ALIASES));
    expect(flags(path)).toBe('--work-binary /x: not found');
    const untrusted = withContext(
      toTransportError(errno('UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'x')),
      'could not connect to h on port 1',
    );
    expect(untrusted.message).toMatch(/\(check tls\.ca\)$/);
    expect(flags(untrusted)).toBe(
      'could not connect to h on port 1: server certificate is not issued by the configured CA (check --ca-cert)',
    );
    // Nothing to map: the message as it is.
    const plain = new ConfigError('TLSLP_ERR_CERT_DIR', { dir: 'd', reason: 'EACCES' });
    expect(flags(plain)).toBe(plain.message);
  });
});

describe('metric reasons', () => {
  it('a session outcome code maps to its listed label, anything else to other', () => {
    expect(sessionFailureReason('TLSLP_ERR_BAD_HELLO')).toBe('bad_hello');
    expect(sessionFailureReason('TLSLP_ERR_TIMEOUT')).toBe('timeout');
    expect(sessionFailureReason('TLSLP_ERR_CONNECTION_RESET')).toBe('connection_reset');
    expect(sessionFailureReason('TLSLP_ERR_BAD_KERNEL')).toBe('other');
    expect(sessionFailureReason(undefined)).toBe('other');
    // Each listed label but the catch-all is a code of the catalog.
    for (const label of Object.keys(SESSION_FAILURE_REASONS).filter((l) => l !== 'other'))
      expect(isErrorCode(`TLSLP_ERR_${label.toUpperCase()}`), label).toBe(true);
  });

  it("a handshake failure maps the server's verdicts and OpenSSL's codes, unknown ones to other", () => {
    for (const [code, label] of [
      ['HANDSHAKE_TIMEOUT', 'handshake_timeout'],
      ['HANDSHAKE_TOO_LARGE', 'handshake_too_large'],
      ['CLOSED_EARLY', 'closed_early'],
      ['NO_CLIENT_CERT', 'no_client_cert'],
      ['CHAIN_TOO_DEEP', 'chain_too_deep'],
      ['WEAK_CLIENT_KEY', 'weak_client_key'],
      ['CERT_HAS_EXPIRED', 'cert_has_expired'],
      ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'unable_to_verify_leaf_signature'],
      ['ECONNRESET', 'econnreset'],
      ['ERR_SSL_WRONG_VERSION_NUMBER', 'ssl_wrong_version_number'],
      // A revoked client is counted as `revoked`, as the operator's guide names it.
      ['CERT_REVOKED', 'revoked'],
      ['CRL_HAS_EXPIRED', 'crl_has_expired'],
    ] as const)
      expect(handshakeFailureReason(code)).toBe(label);
    expect(handshakeFailureReason('ERR_SSL_SOMETHING_NEW')).toBe('other');
    expect(handshakeFailureReason('A'.repeat(500))).toBe('other');
    expect(handshakeFailureReason(undefined)).toBe('other');
  });

  it('the labels the tests and docs use are listed, and every label is short and plain', () => {
    for (const label of [
      'handshake_timeout',
      'handshake_too_large',
      'closed_early',
      'chain_too_deep',
      'weak_client_key',
      'no_client_cert',
      'cert_has_expired',
      'invalid_purpose',
      'unable_to_verify_leaf_signature',
      'unable_to_get_issuer_cert_locally',
      'ssl_wrong_curve',
      'econnreset',
    ])
      expect(Object.hasOwn(HANDSHAKE_FAILURE_REASONS, label), label).toBe(true);
    expect(Object.hasOwn(SESSION_FAILURE_REASONS, 'bad_hello')).toBe(true);
    for (const label of [
      ...Object.keys(HANDSHAKE_FAILURE_REASONS),
      ...Object.keys(SESSION_FAILURE_REASONS),
    ])
      expect(label).toMatch(/^[a-z0-9_]{1,60}$/);
  });

  it('the label types are the listed labels, not any string', () => {
    expectTypeOf<SessionFailureReason>().toEqualTypeOf<keyof typeof SESSION_FAILURE_REASONS>();
    expectTypeOf<'bad_hello' | 'max_per_identity' | 'other'>().toExtend<SessionFailureReason>();
    expectTypeOf<string>().not.toExtend<SessionFailureReason>();
    expectTypeOf<'revoked' | 'ssl_wrong_curve' | 'other'>().toExtend<HandshakeFailureReason>();
    expectTypeOf<string>().not.toExtend<HandshakeFailureReason>();
    expectTypeOf<'bad_hello'>().not.toExtend<HandshakeFailureReason>();
  });
});

describe('docs/errors.md', () => {
  it('lists every code with its class and summary, in catalog order, and nothing else', async () => {
    const doc = await readFile(join(root, 'docs', 'errors.md'), 'utf8');
    const rows = [...doc.matchAll(/^\| `(TLSLP_ERR_\w+)` +\| (\w+) +\| (.*?) +\|$/gm)].map((m) => ({
      code: m[1],
      type: m[2],
      summary: (m[3] as string).replaceAll('\\|', '|'),
    }));
    expect(rows).toEqual(
      codes.map((code) => ({
        code,
        type: ERROR_CATALOG[code].type,
        summary: ERROR_CATALOG[code].summary,
      })),
    );
    for (const label of [
      ...Object.keys(SESSION_FAILURE_REASONS),
      ...Object.keys(HANDSHAKE_FAILURE_REASONS),
    ])
      expect(doc).toMatch(new RegExp(`^\\| \`${label}\` +\\|`, 'm'));
  });
});
