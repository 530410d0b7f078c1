/**
 * Typed errors. Every failure tlslp reports is one of these, so callers (and the CLIs)
 * can tell a misbehaving peer from a broken network from a mistake in the configuration.
 * Each carries a code of the catalog (`src/errors/catalog.ts`, listed in docs/errors.md)
 * and a message rendered from that code's template; a class takes only its own codes.
 * @module
 */
import {
  ERROR_CATALOG,
  renderMessage,
  type ErrorArgs,
  type ErrorClassName,
  type ErrorCode,
  type ErrorOptions,
  type ParamValue,
} from './catalog.js';

export {
  ERROR_CATALOG,
  isErrorCode,
  renderMessage,
  type CatalogEntry,
  type CodeOf,
  type ErrorArgs,
  type ErrorClassName,
  type ErrorCode,
  type ErrorOptions,
  type ParamValue,
  type ParamsOf,
  type PlainCodeOf,
} from './catalog.js';
export {
  HANDSHAKE_FAILURE_REASONS,
  OTHER_REASON,
  SESSION_FAILURE_REASONS,
  handshakeFailureReason,
  sessionFailureReason,
  type HandshakeFailureReason,
  type SessionFailureReason,
} from './reasons.js';

type Params = Readonly<Record<string, ParamValue | undefined>>;

/** Base class of every error tlslp throws on purpose (only its subclasses are thrown). */
export abstract class TlslpError extends Error {
  /** A stable code of the catalog, e.g. `TLSLP_ERR_LINE_TOO_LONG`, for programs to branch on. */
  readonly code: ErrorCode;
  /** The parameters the message was rendered from. */
  readonly params: Readonly<Record<string, ParamValue>>;
  /**
   * The code of the Node.js or OpenSSL error this one wraps (`ECONNRESET`,
   * `ERR_SSL_WRONG_VERSION_NUMBER`, `ENOENT`), so logs still say what happened.
   */
  readonly causeCode?: string;

  protected constructor(
    type: ErrorClassName,
    code: ErrorCode,
    params: Params | undefined,
    options: ErrorOptions | undefined,
  ) {
    const entry = Object.hasOwn(ERROR_CATALOG, code) ? ERROR_CATALOG[code] : undefined;
    // The types already forbid both; this keeps plain-JS callers honest.
    if (entry === undefined) throw new TypeError(`${String(code)} is not a tlslp error code`);
    if (entry.type !== type) throw new TypeError(`${code} is a ${entry.type}, not a ${type}`);
    super(renderMessage(entry.message, params ?? {}), options);
    this.name = new.target.name;
    this.code = code;
    // An optional part's parameter left undefined is not one the message was rendered from.
    this.params = Object.fromEntries(
      Object.entries(params ?? {}).filter(
        (entry): entry is [string, ParamValue] => entry[1] !== undefined,
      ),
    );
    const causeCode = (options?.cause as { code?: unknown } | undefined)?.code;
    if (typeof causeCode === 'string') this.causeCode = causeCode;
  }
}

/** The peer broke the wire contract (bad line, bad answer, unknown command, …). */
export class ProtocolError extends TlslpError {
  constructor(...[code, params, options]: ErrorArgs<'ProtocolError'>) {
    super('ProtocolError', code, params, options);
  }
}

/** The connection failed: refused, reset, TLS handshake rejected, or a step timed out. */
export class TransportError extends TlslpError {
  constructor(...[code, params, options]: ErrorArgs<'TransportError'>) {
    super('TransportError', code, params, options);
  }
}

/** Options of a {@link ConfigError}. */
export interface ConfigErrorOptions extends ErrorOptions {
  /** The library option at fault, when the template does not name it as `{option}`. */
  option?: string;
}

/** The configuration is unusable: a missing certificate, a bad option value, an unsafe path. */
export class ConfigError extends TlslpError {
  /**
   * The library option at fault (e.g. `maxConnections`), when one is; the CLI maps it to
   * its flag (`--max-connections`) in one place.
   */
  readonly option?: string;
  constructor(...[code, params, options]: ErrorArgs<'ConfigError', ConfigErrorOptions>) {
    super('ConfigError', code, params, options);
    const named = (params as Params | undefined)?.option;
    const option = options?.option ?? (typeof named === 'string' ? named : undefined);
    if (option !== undefined) this.option = option;
  }
}

/** The proof-of-work solver failed or was cancelled. */
export class SolverError extends TlslpError {
  constructor(...[code, params, options]: ErrorArgs<'SolverError'>) {
    super('SolverError', code, params, options);
  }
}

/** The server aborted the session with `FAIL <reason>` (code `TLSLP_ERR_SERVER_FAIL`). */
export class ServerFailError extends TlslpError {
  /** The text the server sent after `FAIL ` (may be empty). */
  readonly reason: string;
  /**
   * The FAIL looks like the protocol's simulated server-side failure: it came among the body
   * requests, after WORK was accepted, with a random argument as its reason (normal mode draws
   * it for about 9 sessions in 10). Not the client's fault, and not a malfunction.
   */
  readonly simulated: boolean;
  constructor(reason: string, options: { simulated?: boolean } = {}) {
    super('ServerFailError', 'TLSLP_ERR_SERVER_FAIL', { reason }, undefined);
    this.reason = reason;
    this.simulated = options.simulated === true;
  }
}

/**
 * The same error (class, code, parameters) with `context` before its message and the
 * original as its cause: "could not connect to h on port 1: connection refused …".
 */
export function withContext<E extends TlslpError>(err: E, context: string): E {
  const copy = Object.create(Object.getPrototypeOf(err) as object) as E;
  Object.assign(copy, err);
  Object.defineProperties(copy, {
    message: { value: `${context}: ${err.message}`, writable: true, configurable: true },
    cause: { value: err, writable: true, configurable: true },
    stack: { value: err.stack, writable: true, configurable: true },
  });
  return copy;
}
