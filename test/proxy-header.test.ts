/**
 * The PROXY protocol header parser: headers built by an independent implementation
 * (proxy-protocol-js) parse back to their addresses at every split point, whatever follows
 * them; malformed and truncated ones are invalid or incomplete, never accepted.
 */
import fc from 'fast-check';
import * as pp from 'proxy-protocol-js';
import { describe, expect, it } from 'vitest';
import {
  looksLikeProxyHeader,
  parseProxyHeader,
  PROXY_V2_SIGNATURE,
} from '../src/protocol/proxy-header.js';

function v1(family: 'TCP4' | 'TCP6', src: string, dst: string, sp: number, dp: number): Buffer {
  const proto = family === 'TCP4' ? pp.INETProtocol.TCP4 : pp.INETProtocol.TCP6;
  return Buffer.from(
    new pp.V1ProxyProtocol(proto, new pp.Peer(src, sp), new pp.Peer(dst, dp)).build(),
    'latin1',
  );
}

function v2ipv4(
  src: number[],
  dst: number[],
  sp: number,
  dp: number,
  command = pp.Command.PROXY,
): Buffer {
  return Buffer.from(
    new pp.V2ProxyProtocol(
      command,
      pp.TransportProtocol.STREAM,
      new pp.IPv4ProxyAddress(
        pp.IPv4Address.createFrom(src),
        sp,
        pp.IPv4Address.createFrom(dst),
        dp,
      ),
    ).build(),
  );
}

function v2ipv6(src: number[], dst: number[], sp: number, dp: number): Buffer {
  return Buffer.from(
    new pp.V2ProxyProtocol(
      pp.Command.PROXY,
      pp.TransportProtocol.STREAM,
      new pp.IPv6ProxyAddress(
        pp.IPv6Address.createFrom(src),
        sp,
        pp.IPv6Address.createFrom(dst),
        dp,
      ),
    ).build(),
  );
}

/** The parse of `bytes` fed whole, and fed only up to each shorter prefix. */
function everyPrefix(bytes: Buffer): {
  prefixes: string[];
  whole: ReturnType<typeof parseProxyHeader>;
} {
  const prefixes: string[] = [];
  for (let n = 1; n < bytes.length; n++)
    prefixes.push(parseProxyHeader(bytes.subarray(0, n)).status);
  return { prefixes, whole: parseProxyHeader(bytes) };
}

const octet = fc.integer({ min: 0, max: 255 });
const port = fc.integer({ min: 0, max: 65535 });
const tail = fc.uint8Array({ maxLength: 64 });

describe('PROXY protocol v1', () => {
  it('parses what an independent builder writes, at every split, with any bytes after it', () => {
    fc.assert(
      fc.property(
        fc.array(octet, { minLength: 4, maxLength: 4 }),
        fc.array(octet, { minLength: 4, maxLength: 4 }),
        port,
        port,
        tail,
        (s, d, sp, dp, rest) => {
          const header = v1('TCP4', s.join('.'), d.join('.'), sp, dp);
          const { prefixes, whole } = everyPrefix(Buffer.concat([header, rest]));
          expect(prefixes.slice(0, header.length - 1).every((p) => p === 'incomplete')).toBe(true);
          expect(whole).toEqual({
            status: 'ok',
            header: {
              version: 1,
              command: 'proxy',
              source: { address: s.join('.'), port: sp },
              destination: { address: d.join('.'), port: dp },
              length: header.length,
            },
          });
        },
      ),
      { numRuns: 200 },
    );
  });

  it('TCP6 and UNKNOWN', () => {
    const h = v1('TCP6', '2001:db8::1', '::1', 40000, 1234);
    expect(parseProxyHeader(h)).toMatchObject({
      status: 'ok',
      header: { source: { address: '2001:db8::1', port: 40000 }, destination: { address: '::1' } },
    });
    const unknown = parseProxyHeader(Buffer.from('PROXY UNKNOWN\r\n'));
    expect(unknown).toEqual({ status: 'ok', header: { version: 1, command: 'proxy', length: 15 } });
  });

  it.each([
    ['PROXY TCP4 127.0.0.1 127.0.0.1 1 2\n', 'a lone LF'],
    ['PROXY TCP4 127.0.0.1  127.0.0.1 1 2\r\n', 'two spaces'],
    ['PROXY TCP4 127.0.0.256 127.0.0.1 1 2\r\n', 'a bad IPv4'],
    ['PROXY TCP4 ::1 127.0.0.1 1 2\r\n', 'IPv6 under TCP4'],
    ['PROXY TCP4 127.0.0.1 127.0.0.1 65536 2\r\n', 'a port over 65535'],
    ['PROXY TCP4 127.0.0.1 127.0.0.1 01 2\r\n', 'a leading zero'],
    ['PROXY UDP4 127.0.0.1 127.0.0.1 1 2\r\n', 'an unknown family'],
    ['PROXY TCP4 127.0.0.1 127.0.0.1 1\r\n', 'a missing field'],
    [`PROXY TCP4 ${'1'.repeat(120)}\r\n`, 'over 107 bytes'],
  ])('refuses %j (%s)', (text) => {
    expect(parseProxyHeader(Buffer.from(text, 'latin1')).status).toBe('invalid');
  });

  it('says invalid as soon as a long line without CRLF passes 107 bytes', () => {
    expect(parseProxyHeader(Buffer.from(`PROXY TCP4 ${'1'.repeat(200)}`)).status).toBe('invalid');
    expect(parseProxyHeader(Buffer.from('PROXY TCP4 1.2.3.4\x00')).status).toBe('invalid');
  });
});

describe('PROXY protocol v2', () => {
  it('parses IPv4 headers of an independent builder at every split, with any bytes after', () => {
    fc.assert(
      fc.property(
        fc.array(octet, { minLength: 4, maxLength: 4 }),
        fc.array(octet, { minLength: 4, maxLength: 4 }),
        port,
        port,
        tail,
        (s, d, sp, dp, rest) => {
          const header = v2ipv4(s, d, sp, dp);
          const { prefixes, whole } = everyPrefix(Buffer.concat([header, rest]));
          expect(prefixes.slice(0, header.length - 1).every((p) => p === 'incomplete')).toBe(true);
          expect(whole).toEqual({
            status: 'ok',
            header: {
              version: 2,
              command: 'proxy',
              source: { address: s.join('.'), port: sp },
              destination: { address: d.join('.'), port: dp },
              length: 28,
            },
          });
        },
      ),
      { numRuns: 200 },
    );
  });

  it('parses IPv6 headers into the text form sockets report', () => {
    fc.assert(
      fc.property(fc.array(octet, { minLength: 16, maxLength: 16 }), port, (s, sp) => {
        const dst: number[] = [...new Array<number>(15).fill(0), 1];
        const result = parseProxyHeader(v2ipv6(s, dst, sp, 1234));
        expect(result.status).toBe('ok');
        if (result.status !== 'ok') return;
        const address = result.header.source?.address ?? '';
        // Same 16 bytes back, whatever the written form.
        const expanded = new URL(`http://[${address}]/`).hostname;
        const groups: string[] = [];
        for (let i = 0; i < 16; i += 2) groups.push(((s[i]! << 8) | s[i + 1]!).toString(16));
        expect(expanded).toBe(new URL(`http://[${groups.join(':')}]/`).hostname);
        expect(result.header.destination?.address).toBe('::1');
      }),
      { numRuns: 200 },
    );
    const mapped = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 2];
    expect(parseProxyHeader(v2ipv6(mapped, mapped, 1, 2))).toMatchObject({
      header: { source: { address: '::ffff:127.0.0.2' } },
    });
  });

  it('a LOCAL header (a health check of the balancer) has no addresses', () => {
    const h = v2ipv4([127, 0, 0, 1], [127, 0, 0, 1], 1, 2, pp.Command.LOCAL);
    expect(parseProxyHeader(h)).toEqual({
      status: 'ok',
      header: { version: 2, command: 'local', length: 28 },
    });
  });

  it('skips TLVs within the stated length', () => {
    const h = v2ipv4([10, 0, 0, 1], [10, 0, 0, 2], 1, 2);
    const tlv = Buffer.from([0x05, 0x00, 0x02, 0xab, 0xcd]);
    const withTlv = Buffer.concat([
      h.subarray(0, 14),
      Buffer.from([0, 12 + tlv.length]),
      h.subarray(16),
      tlv,
    ]);
    expect(parseProxyHeader(withTlv)).toMatchObject({
      status: 'ok',
      header: { length: 28 + tlv.length, source: { address: '10.0.0.1' } },
    });
  });

  it('refuses a bad version, command, family, a short address block or an oversized header', () => {
    const h = v2ipv4([10, 0, 0, 1], [10, 0, 0, 2], 1, 2);
    const patch = (at: number, value: number): Buffer => {
      const b = Buffer.from(h);
      b[at] = value;
      return b;
    };
    expect(parseProxyHeader(patch(12, 0x11)).status).toBe('invalid'); // version 1 in a v2 header
    expect(parseProxyHeader(patch(12, 0x22)).status).toBe('invalid'); // command 2
    expect(parseProxyHeader(patch(13, 0x41)).status).toBe('invalid'); // family 4
    expect(parseProxyHeader(patch(15, 4)).status).toBe('invalid'); // 4 bytes for an IPv4 block
    const big = Buffer.from(h);
    big.writeUInt16BE(2000, 14);
    expect(parseProxyHeader(big)).toMatchObject({
      status: 'invalid',
      reason: expect.stringMatching(/over the limit/) as unknown,
    });
  });

  it('random bytes after the signature never throw and never pass a wrong length', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 300 }), (rest) => {
        const bytes = Buffer.concat([PROXY_V2_SIGNATURE, rest]);
        const result = parseProxyHeader(bytes);
        if (result.status === 'ok') {
          expect(result.header.length).toBeLessThanOrEqual(bytes.length);
          expect(result.header.length).toBe(16 + bytes.readUInt16BE(14));
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('looksLikeProxyHeader', () => {
  it('tells a header start from a TLS ClientHello', () => {
    expect(looksLikeProxyHeader(Buffer.from('PRO'))).toBe(true);
    expect(looksLikeProxyHeader(PROXY_V2_SIGNATURE.subarray(0, 5))).toBe(true);
    expect(looksLikeProxyHeader(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00]))).toBe(false);
    expect(looksLikeProxyHeader(Buffer.from('GET / HTTP/1.1\r\n'))).toBe(false);
  });
});
