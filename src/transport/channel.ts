/**
 * A line channel over any duplex byte stream (a TLS socket in practice): reads whole lines
 * with a deadline, writes lines. The session logic talks to this interface only.
 * @module
 */
import type { Duplex } from 'node:stream';
import { ProtocolError, TlslpError, TransportError, type PlainCodeOf } from '../errors/index.js';
import { LineDecoder, MAX_LINE_BYTES, encodeLine } from '../protocol/framing.js';

/** What a session needs from a connection. */
export interface LineChannel {
  /**
   * The next complete line (without `\n`). Rejects with TransportError `TLSLP_ERR_TIMEOUT` when no
   * complete line arrives within `timeoutMs` (however slowly its bytes trickle in),
   * `TLSLP_ERR_CLOSED` when the peer goes away, `TLSLP_ERR_ABORTED` when `signal` fires, or with the
   * ProtocolError that framing raised.
   */
  readLine(timeoutMs: number, signal?: AbortSignal): Promise<string>;
  /** Send one line. */
  writeLine(text: string): void;
  /** Finish sending and close. */
  end(): void;
  /** Close at once. */
  destroy(): void;
}

/** Options of {@link SocketLineChannel}. */
export interface ChannelOptions {
  /** Longest line accepted, counting its `\n` (default {@link MAX_LINE_BYTES}, 1000). */
  maxLineBytes?: number;
  /** Complete lines held unread before the peer counts as flooding (default 16). */
  maxQueuedLines?: number;
  /** Bytes queued for sending before the peer counts as not reading (default 64 KiB). */
  maxWriteBuffer?: number;
  /**
   * After {@link LineChannel.end}, time the peer gets to close its side before the
   * connection is destroyed (default 2000 ms): a peer that keeps it half-open holds nothing.
   */
  lingerMs?: number;
}

type Waiter = {
  resolve: (line: string) => void;
  reject: (err: Error) => void;
};

/** {@link LineChannel} over a Node duplex stream. */
export class SocketLineChannel implements LineChannel {
  private readonly decoder: LineDecoder;
  private readonly queue: string[] = [];
  private readonly maxQueuedLines: number;
  private readonly maxWriteBuffer: number;
  private readonly lingerMs: number;
  private failure: Error | null = null;
  /**
   * How the connection ended, made into an error only if a read is told of it: most
   * sessions are over when their socket ends and closes, and an error (its stack) costs.
   */
  private ending: (() => Error) | null = null;
  private waiter: Waiter | null = null;

  constructor(
    private readonly socket: Duplex,
    options: ChannelOptions = {},
  ) {
    this.decoder = new LineDecoder(options.maxLineBytes ?? MAX_LINE_BYTES);
    this.maxQueuedLines = options.maxQueuedLines ?? 16;
    this.maxWriteBuffer = options.maxWriteBuffer ?? 64 * 1024;
    this.lingerMs = options.lingerMs ?? 2000;
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.fail(() => new TransportError('TLSLP_ERR_CLOSED', { peer: true })));
    socket.on('close', () =>
      this.fail(() => new TransportError('TLSLP_ERR_CLOSED', { peer: false })),
    );
    socket.on('error', (err: Error) => this.fail(toTransportError(err)));
  }

  private onData(chunk: Buffer): void {
    if (this.failure || this.ending) return;
    let lines: string[];
    try {
      lines = this.decoder.push(chunk);
    } catch (err) {
      this.violation(err as ProtocolError);
      return;
    }
    for (const line of lines) this.queue.push(line);
    if (this.queue.length > this.maxQueuedLines) {
      this.violation(new ProtocolError('TLSLP_ERR_FLOOD'));
      return;
    }
    this.deliver();
  }

  /**
   * A broken peer: report it on the next read rather than after queued lines, and discard
   * whatever else it sends (onData ignores data once failed). Not pausing the socket keeps
   * its end and close events flowing, so the connection is released.
   */
  private violation(err: ProtocolError): void {
    this.queue.length = 0;
    this.fail(err);
  }

  private deliver(): void {
    if (!this.waiter || this.queue.length === 0) return;
    const w = this.waiter;
    this.waiter = null;
    w.resolve(this.queue.shift() as string);
  }

  /** @param cause the error, or how to make it when a read needs it */
  private fail(cause: Error | (() => Error)): void {
    // The first cause wins: a later 'close' must not hide the protocol error that caused it.
    if (!this.failure && !this.ending) {
      if (typeof cause === 'function') this.ending = cause;
      else this.failure = cause;
    }
    if (this.waiter && this.queue.length === 0) {
      const w = this.waiter;
      this.waiter = null;
      w.reject(this.failed() as Error);
    }
  }

  /** The failure reads are told of, made now if it was only noted; null while the channel is good. */
  private failed(): Error | null {
    if (!this.failure && this.ending) {
      this.failure = this.ending();
      this.ending = null;
    }
    return this.failure;
  }

  readLine(timeoutMs: number, signal?: AbortSignal): Promise<string> {
    if (this.waiter) return Promise.reject(new TransportError('TLSLP_ERR_READ_PENDING'));
    const queued = this.queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    const failure = this.failed();
    if (failure) return Promise.reject(failure);
    if (signal?.aborted) return Promise.reject(abortError());
    return new Promise<string>((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const onAbort = (): void => {
        this.waiter = null;
        cleanup();
        reject(abortError());
      };
      const timer = setTimeout(() => {
        this.waiter = null;
        cleanup();
        reject(new TransportError('TLSLP_ERR_TIMEOUT', { seconds: formatSeconds(timeoutMs) }));
      }, timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiter = {
        resolve: (line) => {
          cleanup();
          resolve(line);
        },
        reject: (err) => {
          cleanup();
          reject(err);
        },
      };
    });
  }

  writeLine(text: string): void {
    if (this.socket.destroyed || this.socket.writableEnded) return;
    this.socket.write(encodeLine(text));
    // The protocol is lock-step: a peer that lets this much pile up is not reading.
    if (this.socket.writableLength > this.maxWriteBuffer) {
      this.fail(new TransportError('TLSLP_ERR_NOT_READING'));
      this.socket.destroy();
    }
  }

  end(): void {
    if (this.socket.destroyed) return;
    this.socket.end();
    setTimeout(() => this.socket.destroy(), this.lingerMs).unref();
  }

  destroy(): void {
    this.socket.destroy();
  }
}

function abortError(): TlslpError {
  return new TransportError('TLSLP_ERR_ABORTED');
}

function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}

/** Node's and OpenSSL's codes for the socket and TLS failures tlslp names, by catalog code. */
const SOCKET_CODES: Readonly<Record<string, SocketErrorCode>> = {
  ECONNREFUSED: 'TLSLP_ERR_CONNECTION_REFUSED',
  ECONNRESET: 'TLSLP_ERR_CONNECTION_RESET',
  EPIPE: 'TLSLP_ERR_BROKEN_PIPE',
  ETIMEDOUT: 'TLSLP_ERR_CONNECT_TIMEOUT',
  ENOTFOUND: 'TLSLP_ERR_HOST_NOT_FOUND',
  EAI_AGAIN: 'TLSLP_ERR_HOST_NOT_FOUND',
  EHOSTUNREACH: 'TLSLP_ERR_HOST_UNREACHABLE',
  ENETUNREACH: 'TLSLP_ERR_HOST_UNREACHABLE',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'TLSLP_ERR_TLS_UNTRUSTED_CERT',
  UNABLE_TO_GET_ISSUER_CERT: 'TLSLP_ERR_TLS_UNTRUSTED_CERT',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'TLSLP_ERR_TLS_UNTRUSTED_CERT',
  SELF_SIGNED_CERT_IN_CHAIN: 'TLSLP_ERR_TLS_UNTRUSTED_CERT',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'TLSLP_ERR_TLS_UNTRUSTED_CERT',
  CERT_SIGNATURE_FAILURE: 'TLSLP_ERR_TLS_UNTRUSTED_CERT',
  CERT_HAS_EXPIRED: 'TLSLP_ERR_TLS_CERT_EXPIRED',
  CERT_NOT_YET_VALID: 'TLSLP_ERR_TLS_CERT_NOT_YET_VALID',
  ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED: 'TLSLP_ERR_TLS_CERT_REQUIRED',
  ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: 'TLSLP_ERR_TLS_CERT_REJECTED',
  ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE: 'TLSLP_ERR_TLS_CERT_REJECTED',
  ERR_SSL_TLSV1_ALERT_DECRYPT_ERROR: 'TLSLP_ERR_TLS_CERT_REJECTED',
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED: 'TLSLP_ERR_TLS_CERT_REJECTED',
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN: 'TLSLP_ERR_TLS_CERT_REJECTED',
  ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE: 'TLSLP_ERR_TLS_CERT_REJECTED',
  ERR_SSL_TLSV1_ALERT_ACCESS_DENIED: 'TLSLP_ERR_TLS_CERT_REJECTED',
  ERR_SSL_WRONG_VERSION_NUMBER: 'TLSLP_ERR_TLS_NOT_TLS',
  ERR_SSL_PACKET_LENGTH_TOO_LONG: 'TLSLP_ERR_TLS_NOT_TLS',
  ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE: 'TLSLP_ERR_TLS_NO_PEER_CERT',
  ERR_TLS_HANDSHAKE_TIMEOUT: 'TLSLP_ERR_TLS_HANDSHAKE_TIMEOUT',
  ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE: 'TLSLP_ERR_TLS_HANDSHAKE_FAILURE',
  ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION: 'TLSLP_ERR_TLS_VERSION',
  ERR_SSL_UNSUPPORTED_PROTOCOL: 'TLSLP_ERR_TLS_VERSION',
};

/** The catalog codes a foreign socket or TLS error is wrapped as. */
type SocketErrorCode =
  | PlainCodeOf<'TransportError'>
  | 'TLSLP_ERR_TLS_CERT_REJECTED'
  | 'TLSLP_ERR_TLS_UNTRUSTED_CERT'
  | 'TLSLP_ERR_TLS_CERT_REQUIRED';

/** Why the peer rejected our certificate, when its alert says. */
const REJECTED_WHY: Readonly<Record<string, 'untrusted' | 'expired'>> = {
  ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: 'untrusted',
  ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE: 'untrusted',
  ERR_SSL_TLSV1_ALERT_DECRYPT_ERROR: 'untrusted',
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED: 'expired',
};

/**
 * Wrap a socket or TLS error in a TransportError of the catalog, the original as its
 * `cause` (and its code as `causeCode`). A TlslpError passes through.
 */
export function toTransportError(err: Error): TlslpError {
  if (err instanceof TlslpError) return err;
  const code = (err as NodeJS.ErrnoException).code ?? '';
  const options = { cause: err };
  const known = Object.hasOwn(SOCKET_CODES, code) ? SOCKET_CODES[code] : undefined;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    const reason = err.message.replace(/^Hostname\/IP does not match certificate's altnames: /, '');
    return new TransportError('TLSLP_ERR_TLS_HOSTNAME_MISMATCH', { reason }, options);
  }
  if (known === 'TLSLP_ERR_TLS_UNTRUSTED_CERT')
    return new TransportError(known, { option: 'tls.ca' }, options);
  if (known === 'TLSLP_ERR_TLS_CERT_REQUIRED')
    return new TransportError(known, { certOption: 'tls.cert', keyOption: 'tls.key' }, options);
  if (known === 'TLSLP_ERR_TLS_CERT_REJECTED') {
    const why = REJECTED_WHY[code];
    return new TransportError(
      known,
      { untrusted: why === 'untrusted', expired: why === 'expired' },
      options,
    );
  }
  if (known) return new TransportError(known, undefined, options);
  // Never an OpenSSL dump (`…:error:0A000410:SSL routines:…`) for a user; the code and
  // the raw text stay on the error's `cause` for DEBUG logs.
  if (code.startsWith('ERR_SSL_') || /error:[0-9A-F]{8}:|SSL routines/.test(err.message))
    return new TransportError('TLSLP_ERR_TLS_FAILED', { opensslCode: code }, options);
  return new TransportError(
    'TLSLP_ERR_SOCKET',
    { reason: err.message || code || 'connection failed' },
    options,
  );
}

/** A readable, one-line description of a socket or TLS error, naming the fix when known. */
export function describeSocketError(err: Error): string {
  return toTransportError(err).message;
}

/** The raw text behind a transport error, for a DEBUG log line. */
export function rawErrorDetail(err: unknown): string | null {
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : null;
  if (!cause) return null;
  const code = (cause as NodeJS.ErrnoException).code;
  return `${code ? `${code}: ` : ''}${cause.message}`;
}

/**
 * A failed `listen()` of the server or of its metrics endpoint as a TransportError: in use,
 * not allowed, or whatever Node said.
 */
export function listenError(
  err: unknown,
  what: 'server' | 'metrics' | 'health',
  address: string,
): TlslpError {
  const code = (err as NodeJS.ErrnoException).code;
  const options = { cause: err };
  const endpoint = what === 'server' ? undefined : what === 'metrics' ? 'metrics' : 'health checks';
  if (code === 'EADDRINUSE' && what === 'server')
    return new TransportError('TLSLP_ERR_ADDRESS_IN_USE', { address, option: 'port' }, options);
  if (code === 'EADDRINUSE' && what === 'metrics')
    return new TransportError('TLSLP_ERR_METRICS_ADDRESS_IN_USE', { address }, options);
  const reason =
    code === 'EACCES'
      ? 'permission denied'
      : code === 'EADDRINUSE'
        ? 'address already in use'
        : (err as Error).message;
  return new TransportError(
    'TLSLP_ERR_LISTEN_FAILED',
    { endpoint, address, reason, privileged: code === 'EACCES' },
    options,
  );
}
