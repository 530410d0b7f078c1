import { Duplex, PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ProtocolError, TransportError } from '../src/errors/index.js';
import { SocketLineChannel, describeSocketError } from '../src/transport/channel.js';

/** A duplex whose readable side the test feeds and whose written bytes it collects. */
function fakeSocket(): {
  socket: Duplex;
  feed: (s: string | Buffer) => void;
  written: () => string;
  end: () => void;
} {
  const incoming = new PassThrough();
  const chunks: Buffer[] = [];
  const socket = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk);
      cb();
    },
  });
  incoming.on('data', (d: Buffer) => socket.push(d));
  incoming.on('end', () => socket.push(null));
  return {
    socket,
    feed: (s) => incoming.write(s),
    written: () => Buffer.concat(chunks).toString(),
    end: () => incoming.end(),
  };
}

describe('SocketLineChannel', () => {
  it('reads lines in order and writes lines with a newline', async () => {
    const f = fakeSocket();
    const ch = new SocketLineChannel(f.socket);
    f.feed('HELLO\nWORK ab');
    expect(await ch.readLine(1000)).toBe('HELLO');
    const pending = ch.readLine(1000);
    f.feed('c 4\n');
    expect(await pending).toBe('WORK abc 4');
    ch.writeLine('HELLOBACK');
    expect(f.written()).toBe('HELLOBACK\n');
  });

  it('ends a line that never ends with the step timeout, however it trickles', async () => {
    const f = fakeSocket();
    const ch = new SocketLineChannel(f.socket);
    const timer = setInterval(() => f.feed('a'), 20);
    const err = await ch.readLine(300).catch((e: unknown) => e);
    clearInterval(timer);
    expect(err).toBeInstanceOf(TransportError);
    expect((err as TransportError).code).toBe('TLSLP_ERR_TIMEOUT');
  });

  it('reports an overlong line as a protocol violation', async () => {
    const f = fakeSocket();
    const ch = new SocketLineChannel(f.socket);
    f.feed('x'.repeat(1500));
    const err = await ch.readLine(1000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as ProtocolError).code).toBe('TLSLP_ERR_LINE_TOO_LONG');
  });

  it('reports a flood of unasked lines', async () => {
    const f = fakeSocket();
    const ch = new SocketLineChannel(f.socket, { maxQueuedLines: 4 });
    f.feed('a\n'.repeat(10));
    await new Promise((r) => setImmediate(r));
    await expect(ch.readLine(1000)).rejects.toMatchObject({ code: 'TLSLP_ERR_FLOOD' });
  });

  it('delivers lines sent just before the peer closed, then reports the close', async () => {
    const f = fakeSocket();
    const ch = new SocketLineChannel(f.socket);
    f.feed('FAIL bye\n');
    f.end();
    await new Promise((r) => setImmediate(r));
    expect(await ch.readLine(1000)).toBe('FAIL bye');
    await expect(ch.readLine(1000)).rejects.toMatchObject({ code: 'TLSLP_ERR_CLOSED' });
  });

  it('reports the peer closing', async () => {
    const f = fakeSocket();
    const ch = new SocketLineChannel(f.socket);
    const p = ch.readLine(1000);
    f.end();
    await expect(p).rejects.toMatchObject({ code: 'TLSLP_ERR_CLOSED' });
  });

  it('stops waiting when aborted', async () => {
    const f = fakeSocket();
    const ch = new SocketLineChannel(f.socket);
    const c = new AbortController();
    const p = ch.readLine(10_000, c.signal);
    c.abort();
    await expect(p).rejects.toMatchObject({ code: 'TLSLP_ERR_ABORTED' });
  });

  it('refuses a second concurrent read', async () => {
    const f = fakeSocket();
    const ch = new SocketLineChannel(f.socket);
    const first = ch.readLine(200).catch(() => 'timeout');
    await expect(ch.readLine(200)).rejects.toThrow(/already pending/);
    expect(await first).toBe('timeout');
  });
});

describe('describeSocketError', () => {
  const e = (code: string, message = 'x'): Error => Object.assign(new Error(message), { code });
  it('names the fix for common failures', () => {
    expect(describeSocketError(e('ECONNREFUSED'))).toMatch(/refused/);
    expect(
      describeSocketError(
        e(
          'ERR_TLS_CERT_ALTNAME_INVALID',
          "Hostname/IP does not match certificate's altnames: Host: a. is not in the cert's altnames: DNS:b",
        ),
      ),
    ).toMatch(/does not match the host name.*Host: a/);
    expect(describeSocketError(e('UNABLE_TO_VERIFY_LEAF_SIGNATURE'))).toMatch(/tls\.ca/);
    expect(describeSocketError(e('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED'))).toMatch(
      /tls\.cert/,
    );
    expect(describeSocketError(e('SOMETHING', 'raw message'))).toBe('raw message');
  });

  it('never passes an OpenSSL dump through', () => {
    const dump =
      'C0F7D1F4A27F0000:error:0A000410:SSL routines:ssl3_read_bytes:sslv3 alert handshake failure:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1605:SSL alert number 40';
    expect(describeSocketError(e('ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE', dump))).toMatch(
      /^peer aborted the TLS handshake \(handshake failure alert/,
    );
    const other = describeSocketError(e('ERR_SSL_SOMETHING_NEW', dump));
    expect(other).toBe(
      'TLS handshake failed (ERR_SSL_SOMETHING_NEW; the DEBUG log has the detail)',
    );
    expect(describeSocketError(e('', dump))).not.toMatch(/SSL routines/);
  });
});
