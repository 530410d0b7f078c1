/**
 * Lines over a byte stream (`SocketLineChannel`: deadlines, bounded buffers) and the meter a
 * connection's handshake bytes go through before TLS.
 * @module
 */
export * from './channel.js';
export * from './handshake-meter.js';
