/**
 * The stream a server-side TLS socket reads through, so the server can see what a client
 * sends before it has proven anything. OpenSSL verifies a client's whole certificate chain
 * the moment the last byte of it arrives, on the server's only JS thread, and Node offers no
 * limit on the chain's size or depth; counting the bytes here, before they reach OpenSSL,
 * lets the server cut a client whose handshake grows past a limit before any signature in
 * it is checked.
 * @module
 */
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';

/** Options of {@link HandshakeMeter}. */
export interface HandshakeMeterOptions {
  /** Most bytes the client may send before {@link HandshakeMeter.secured} (0 = no limit). */
  maxBytes: number;
  /** Called once when the client passes `maxBytes`; the connection is destroyed right after. */
  onTooLarge: (bytes: number) => void;
  /** Called once with the first bytes, before they are passed on (create the TLS socket here). */
  onFirstData: () => void;
  /**
   * Looks at the first bytes before anything else: false cuts the connection (the callback
   * has reported why). Unset = every connection goes on.
   */
  screen?: ((first: Buffer) => boolean) | undefined;
}

/**
 * A Duplex over a raw TCP socket that counts incoming bytes until {@link secured} is called.
 * Data flows through unchanged; backpressure follows the reader.
 */
export class HandshakeMeter extends Duplex {
  /** Bytes received so far (counted until the handshake is done). */
  bytesReceived = 0;
  private done = false;
  private started = false;

  constructor(
    /** The TCP socket underneath. */
    readonly raw: Socket,
    private readonly options: HandshakeMeterOptions,
  ) {
    super();
    // A reset can come before the TLS socket listens on this stream, or after it let go;
    // the server learns of it from the close. An unheard 'error' would end the process.
    this.on('error', () => {});
    raw.on('data', (chunk: Buffer) => this.onData(chunk));
    raw.on('end', () => this.push(null));
    raw.on('error', (err) => this.destroy(err));
    raw.on('close', () => {
      if (!this.destroyed) this.destroy();
    });
  }

  /** The handshake is complete: stop counting. */
  secured(): void {
    this.done = true;
  }

  private onData(chunk: Buffer): void {
    if (!this.started && this.options.screen && !this.options.screen(chunk)) {
      this.done = true;
      this.started = true;
      this.raw.destroy();
      return;
    }
    if (!this.done) {
      this.bytesReceived += chunk.length;
      const { maxBytes } = this.options;
      if (maxBytes > 0 && this.bytesReceived > maxBytes) {
        this.done = true;
        this.options.onTooLarge(this.bytesReceived);
        this.raw.destroy();
        return;
      }
    }
    const wanted = this.push(chunk);
    if (!this.started) {
      this.started = true;
      this.options.onFirstData();
    }
    if (!wanted) this.raw.pause();
  }

  override _read(): void {
    this.raw.resume();
  }

  override _write(
    chunk: Buffer,
    encoding: BufferEncoding,
    callback: (err?: Error | null) => void,
  ): void {
    this.raw.write(chunk, encoding, callback);
  }

  override _final(callback: (err?: Error) => void): void {
    this.raw.end(callback);
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.raw.destroy();
    callback(err);
  }
}
