/**
 * The PROXY protocol header (versions 1 and 2, as HAProxy specifies them) that a load balancer
 * sends before the client's bytes, to say whose connection it passes on. Pure and strict: a
 * parser of bytes, no sockets; anything not exactly as specified is invalid, and it says so as
 * soon as the bytes seen prove it.
 * @module
 */
import { isIPv4, isIPv6 } from 'node:net';

/** The most bytes a header may take here (v1 is at most 107; v2 with TLVs is bounded by this). */
export const PROXY_HEADER_MAX_BYTES = 1024;

/** The 12 bytes every v2 header starts with. */
export const PROXY_V2_SIGNATURE = Buffer.from([
  0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
]);
const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
const V1_MAX = 107;

/** One end of the proxied connection. */
export interface ProxyEndpoint {
  address: string;
  port: number;
}

/** A complete, valid header. */
export interface ProxyHeader {
  version: 1 | 2;
  /**
   * `proxy`: a client's connection, with its addresses when the family is TCP over IPv4/IPv6.
   * `local`: the balancer's own connection (a health check); use the socket's own address.
   */
  command: 'proxy' | 'local';
  /** The client's end, when the header carries an IP address. */
  source?: ProxyEndpoint;
  /** The address the client connected to, when the header carries one. */
  destination?: ProxyEndpoint;
  /** Bytes the header took: what follows is the client's stream. */
  length: number;
}

/** What the bytes seen so far amount to. */
export type ProxyParse =
  | { status: 'incomplete' }
  | { status: 'invalid'; reason: string }
  | { status: 'ok'; header: ProxyHeader };

/** True when `bytes` could be the start of a PROXY header (v1 or v2). */
export function looksLikeProxyHeader(bytes: Uint8Array): boolean {
  if (bytes.length === 0) return false;
  const n = Math.min(bytes.length, 6);
  const v1 = Buffer.from(bytes.subarray(0, n)).equals(V1_PREFIX.subarray(0, n));
  const m = Math.min(bytes.length, 12);
  const v2 = Buffer.from(bytes.subarray(0, m)).equals(PROXY_V2_SIGNATURE.subarray(0, m));
  return v1 || v2;
}

/** Parse the header at the start of `bytes`. */
export function parseProxyHeader(bytes: Uint8Array, maxBytes = PROXY_HEADER_MAX_BYTES): ProxyParse {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (!looksLikeProxyHeader(buf)) return invalid('not a PROXY protocol header');
  if (buf[0] === 0x50) return parseV1(buf);
  return parseV2(buf, maxBytes);
}

function invalid(reason: string): ProxyParse {
  return { status: 'invalid', reason };
}

const PORT = /^(0|[1-9][0-9]{0,4})$/;

function port(text: string): number | null {
  if (!PORT.test(text)) return null;
  const n = Number(text);
  return n <= 65535 ? n : null;
}

function parseV1(buf: Buffer): ProxyParse {
  if (buf.length < V1_PREFIX.length) return { status: 'incomplete' };
  const end = buf.indexOf('\r\n', 0, 'latin1');
  if (end < 0) {
    if (buf.length >= V1_MAX) return invalid('v1 header longer than 107 bytes');
    // Only printable ASCII may come before the CRLF; a lone CR or LF is never valid.
    for (let i = 0; i < buf.length; i++) {
      const b = buf[i] as number;
      const lastCr = b === 0x0d && i === buf.length - 1;
      if ((b < 0x20 || b > 0x7e) && !lastCr) return invalid('v1 header has a control byte');
    }
    return { status: 'incomplete' };
  }
  const length = end + 2;
  if (length > V1_MAX) return invalid('v1 header longer than 107 bytes');
  const line = buf.toString('latin1', 0, end);
  if (!/^[\x20-\x7e]*$/.test(line)) return invalid('v1 header has a control byte');
  const parts = line.split(' ');
  if (parts[1] === 'UNKNOWN')
    return { status: 'ok', header: { version: 1, command: 'proxy', length } };
  if (parts.length !== 6)
    return invalid('v1 header needs PROXY <family> <src> <dst> <sport> <dport>');
  const [, family, src, dst, sport, dport] = parts as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  const isIp = family === 'TCP4' ? isIPv4 : family === 'TCP6' ? isIPv6 : null;
  if (!isIp)
    return invalid(`v1 header family must be TCP4, TCP6 or UNKNOWN, not ${JSON.stringify(family)}`);
  if (!isIp(src) || !isIp(dst)) return invalid(`v1 header addresses are not ${family} addresses`);
  const sp = port(sport);
  const dp = port(dport);
  if (sp === null || dp === null) return invalid('v1 header ports must be 0..65535');
  return {
    status: 'ok',
    header: {
      version: 1,
      command: 'proxy',
      source: { address: src, port: sp },
      destination: { address: dst, port: dp },
      length,
    },
  };
}

/** The text form of the IPv6 address at `at`, as sockets report one (RFC 5952). */
function ipv6(buf: Buffer, at: number): string {
  const bytes = buf.subarray(at, at + 16);
  // An IPv4-mapped address is written with its IPv4 tail, as inet_ntop writes it.
  if (bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff)
    return `::ffff:${Array.from(bytes.subarray(12)).join('.')}`;
  const groups: string[] = [];
  for (let i = 0; i < 8; i++) groups.push(bytes.readUInt16BE(i * 2).toString(16));
  // The URL parser writes the shortest form: lowercase, the longest run of zeros as `::`.
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
}

function parseV2(buf: Buffer, maxBytes: number): ProxyParse {
  if (buf.length < 16) return { status: 'incomplete' };
  const verCmd = buf[12] as number;
  if (verCmd >> 4 !== 2) return invalid(`v2 header version must be 2, not ${verCmd >> 4}`);
  const cmd = verCmd & 0x0f;
  if (cmd > 1) return invalid(`v2 header command must be LOCAL or PROXY, not ${cmd}`);
  const famProto = buf[13] as number;
  const len = buf.readUInt16BE(14);
  const length = 16 + len;
  if (length > maxBytes)
    return invalid(`v2 header of ${length} bytes is over the limit of ${maxBytes}`);
  const family = famProto >> 4;
  const transport = famProto & 0x0f;
  if (family > 3 || transport > 2)
    return invalid(`v2 header family/protocol byte 0x${famProto.toString(16)} is not defined`);
  const need = family === 1 ? 12 : family === 2 ? 36 : family === 3 ? 216 : 0;
  if (len < need) return invalid(`v2 header too short for its address family (${len} < ${need})`);
  if (buf.length < length) return { status: 'incomplete' };
  if (cmd === 0) return { status: 'ok', header: { version: 2, command: 'local', length } };
  // PROXY over TCP (stream) with an IP family carries the client's address; other families
  // (UNSPEC, UNIX) or datagrams say nothing usable about an IP client.
  if (transport !== 1 || (family !== 1 && family !== 2))
    return { status: 'ok', header: { version: 2, command: 'proxy', length } };
  const at = 16;
  if (family === 1) {
    const ip = (o: number): string => Array.from(buf.subarray(at + o, at + o + 4)).join('.');
    return {
      status: 'ok',
      header: {
        version: 2,
        command: 'proxy',
        source: { address: ip(0), port: buf.readUInt16BE(at + 8) },
        destination: { address: ip(4), port: buf.readUInt16BE(at + 10) },
        length,
      },
    };
  }
  return {
    status: 'ok',
    header: {
      version: 2,
      command: 'proxy',
      source: { address: ipv6(buf, at), port: buf.readUInt16BE(at + 32) },
      destination: { address: ipv6(buf, at + 16), port: buf.readUInt16BE(at + 34) },
      length,
    },
  };
}
