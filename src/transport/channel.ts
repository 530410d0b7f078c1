/**
 * A line channel over any duplex byte stream (a TLS socket in practice): reads whole lines
 * with a deadline, writes lines. The session logic talks to this interface only.
 * @module
 */
import type { Duplex } from 'node:stream';
import { ProtocolError, TlslpError, TransportError } from '../errors.js';
import { LineDecoder, MAX_LINE_BYTES, encodeLine } from '../protocol/framing.js';

/** What a session needs from a connection. */
export interface LineChannel {
  /**
   * The next complete line (without `\n`). Rejects with TransportError `TIMEOUT` when no
   * complete line arrives within `timeoutMs` (however slowly its bytes trickle in),
   * `CLOSED` when the peer goes away, `ABORTED` when `signal` fires, or with the
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
    socket.on('end', () => this.fail(new TransportError('CLOSED', 'connection closed by peer')));
    socket.on('close', () => this.fail(new TransportError('CLOSED', 'connection closed')));
    socket.on('error', (err: Error) => this.fail(toTransportError(err)));
  }

  private onData(chunk: Buffer): void {
    if (this.failure) return;
    let lines: string[];
    try {
      lines = this.decoder.push(chunk);
    } catch (err) {
      this.violation(err as ProtocolError);
      return;
    }
    for (const line of lines) this.queue.push(line);
    if (this.queue.length > this.maxQueuedLines) {
      this.violation(new ProtocolError('FLOOD', 'peer sent lines it was not asked for'));
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

  private fail(err: Error): void {
    // The first cause wins: a later 'close' must not hide the protocol error that caused it.
    if (!this.failure) this.failure = err;
    if (this.waiter && this.queue.length === 0) {
      const w = this.waiter;
      this.waiter = null;
      w.reject(this.failure);
    }
  }

  readLine(timeoutMs: number, signal?: AbortSignal): Promise<string> {
    if (this.waiter) return Promise.reject(new Error('readLine already pending'));
    const queued = this.queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.failure) return Promise.reject(this.failure);
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
        reject(
          new TransportError('TIMEOUT', `no complete line within ${formatSeconds(timeoutMs)}`),
        );
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
      this.fail(new TransportError('NOT_READING', 'peer is not reading'));
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
  return new TransportError('ABORTED', 'aborted');
}

function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}

/** Wrap a socket error in a TransportError with a readable message. */
export function toTransportError(err: Error): TlslpError {
  if (err instanceof TlslpError) return err;
  const code = (err as NodeJS.ErrnoException).code ?? 'TRANSPORT';
  return new TransportError(code, describeSocketError(err), { cause: err });
}

/** A readable, one-line description of a socket or TLS error, naming the fix when known. */
export function describeSocketError(err: Error): string {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused (is the server running on that host and port?)';
    case 'ECONNRESET':
      return 'connection reset by peer';
    case 'ETIMEDOUT':
      return 'connection timed out';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host name not found';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'host unreachable';
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return `server certificate does not match the host name: ${err.message.replace(/^Hostname\/IP does not match certificate's altnames: /, '')} (dial a name listed in the certificate, or regenerate it with that name)`;
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'CERT_SIGNATURE_FAILURE':
      return 'server certificate is not issued by the configured CA (check --ca-cert)';
    case 'CERT_HAS_EXPIRED':
      return 'certificate has expired (regenerate it: tlslp certs --force)';
    case 'CERT_NOT_YET_VALID':
      return 'certificate is not yet valid (check the clock)';
    case 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED':
      return 'server requires a client certificate (check --client-cert and --private-key)';
    case 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA':
    case 'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE':
    case 'ERR_SSL_TLSV1_ALERT_DECRYPT_ERROR':
      return 'peer rejected the certificate (it is not issued by the CA the peer trusts)';
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
    case 'ERR_SSL_PACKET_LENGTH_TOO_LONG':
      return 'peer does not speak TLS';
    case 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE':
      return 'peer presented no certificate';
    case 'ERR_TLS_HANDSHAKE_TIMEOUT':
      return 'TLS handshake timed out';
    case 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE':
      return "peer aborted the TLS handshake (handshake failure alert: a certificate, key or CA on one side is wrong; check the peer's setup)";
    case 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION':
    case 'ERR_SSL_UNSUPPORTED_PROTOCOL':
      return 'no TLS version in common (tlslp needs TLS 1.2 or later)';
    case 'ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED':
      return 'peer rejected the certificate: it has expired';
    case 'ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN':
    case 'ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE':
    case 'ERR_SSL_TLSV1_ALERT_ACCESS_DENIED':
      return 'peer rejected the certificate';
    default:
      // Never an OpenSSL dump (`…:error:0A000410:SSL routines:…`) for a user; the code and
      // the raw text stay on the error's `cause` for DEBUG logs.
      if (code.startsWith('ERR_SSL_') || /error:[0-9A-F]{8}:|SSL routines/.test(err.message))
        return `TLS handshake failed (${code || 'OpenSSL error'}; the DEBUG log has the detail)`;
      return err.message || code || 'connection failed';
  }
}

/** The raw text behind a transport error, for a DEBUG log line. */
export function rawErrorDetail(err: unknown): string | null {
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : null;
  if (!cause) return null;
  const code = (cause as NodeJS.ErrnoException).code;
  return `${code ? `${code}: ` : ''}${cause.message}`;
}
