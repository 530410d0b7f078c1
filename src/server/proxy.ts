/**
 * PROXY protocol in front of the gate: which sources may send a header (a balancer's
 * addresses), and reading one header off a socket with a deadline and a size bound.
 * @module
 */
import { BlockList, isIP, isIPv4, type Socket } from 'node:net';
import { ConfigError } from '../errors/index.js';
import {
  parseProxyHeader,
  PROXY_HEADER_MAX_BYTES,
  type ProxyHeader,
} from '../protocol/proxy-header.js';
import { parseCidr } from '../text/address.js';

/** The address as IPv4 when it is an IPv4-mapped IPv6 one (a dual-stack listener's view). */
export function plainAddress(address: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m && isIPv4(m[1] as string) ? (m[1] as string) : address;
}

/** The sources a header is accepted from: a set of CIDRs. */
export class ProxyTrust {
  private readonly list = new BlockList();
  /** The CIDRs, as given. */
  readonly cidrs: readonly string[];

  /** @throws ConfigError (option `proxyFrom`) on a CIDR that does not parse */
  constructor(cidrs: readonly string[]) {
    const expected = 'a non-empty list of addresses or CIDRs (e.g. 10.0.0.0/8, ::1/128)';
    if (cidrs.length === 0)
      throw new ConfigError('TLSLP_ERR_BAD_OPTION', { option: 'proxyFrom', expected, value: '[]' });
    for (const text of cidrs) {
      const cidr = parseCidr(text);
      if (!cidr)
        throw new ConfigError('TLSLP_ERR_BAD_OPTION', {
          option: 'proxyFrom',
          expected,
          value: JSON.stringify(text),
        });
      this.list.addSubnet(cidr.address, cidr.prefix, cidr.family);
    }
    this.cidrs = [...cidrs];
  }

  /** Whether a connection from `address` may (and must) send a PROXY header. */
  trusts(address: string): boolean {
    const plain = plainAddress(address);
    const family = isIP(plain);
    return family !== 0 && this.list.check(plain, family === 4 ? 'ipv4' : 'ipv6');
  }
}

/** What reading a header off a socket gave. */
export type HeaderRead =
  { ok: true; header: ProxyHeader; rest: Buffer } | { ok: false; reason: string };

/**
 * Read one PROXY header from `socket`, then leave it paused with the bytes after the header
 * put back for the next reader. Gives up at `timeoutMs`, past `maxBytes`, or on close.
 */
export function readProxyHeader(
  socket: Socket,
  timeoutMs: number,
  maxBytes = PROXY_HEADER_MAX_BYTES,
): Promise<HeaderRead> {
  return new Promise((resolve) => {
    let seen: Buffer = Buffer.alloc(0);
    const finish = (result: HeaderRead): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      resolve(result);
    };
    const onData = (chunk: Buffer): void => {
      seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
      const parse = parseProxyHeader(seen, maxBytes);
      if (parse.status === 'incomplete') {
        if (seen.length >= maxBytes)
          finish({ ok: false, reason: `no header in ${maxBytes} bytes` });
        return;
      }
      socket.pause();
      if (parse.status === 'invalid') {
        finish({ ok: false, reason: parse.reason });
        return;
      }
      finish({ ok: true, header: parse.header, rest: seen.subarray(parse.header.length) });
    };
    const onClose = (): void =>
      finish({
        ok: false,
        reason: seen.length === 0 ? 'closed before its PROXY header' : 'closed in its PROXY header',
      });
    const timer = setTimeout(
      () => finish({ ok: false, reason: `no complete PROXY header within ${timeoutMs} ms` }),
      timeoutMs,
    );
    socket.on('data', onData);
    socket.once('close', onClose);
  });
}
