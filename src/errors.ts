/**
 * Typed errors. Every failure tlslp reports is one of these, so callers (and the CLIs)
 * can tell a misbehaving peer from a broken network from a mistake in the configuration.
 * @module
 */

/** Base class of every error tlslp throws on purpose. */
export class TlslpError extends Error {
  /** A short stable code, e.g. `LINE_TOO_LONG`, for programs that branch on the cause. */
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** The peer broke the wire contract (bad line, bad answer, unknown command, …). */
export class ProtocolError extends TlslpError {}

/** The connection failed: refused, reset, TLS handshake rejected, or a step timed out. */
export class TransportError extends TlslpError {}

/** The configuration is unusable: a missing certificate, a bad option value, an unsafe path. */
export class ConfigError extends TlslpError {
  /**
   * The library option at fault (e.g. `maxConnections`), when one is; the CLI maps it to
   * its flag (`--max-connections`) in one place.
   */
  readonly option?: string;
  constructor(code: string, message: string, options?: { cause?: unknown; option?: string }) {
    super(code, message, options);
    if (options?.option !== undefined) this.option = options.option;
  }
}

/** The proof-of-work solver failed or was cancelled. */
export class SolverError extends TlslpError {}

/** The server aborted the session with `FAIL <reason>`. */
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
    super('SERVER_FAIL', reason === '' ? 'server sent FAIL' : `server sent FAIL: ${reason}`);
    this.reason = reason;
    this.simulated = options.simulated === true;
  }
}
