/**
 * `host:port` as people and URLs write it: an IPv6 address in brackets (`[::1]:1234`), so
 * the port cannot be read as one more group of the address.
 * @module
 */
import { isIP } from 'node:net';

/** `host:port`, with an IPv6 `host` bracketed. */
export function hostPort(host: string, port: number | string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** An address range: `10.0.0.0/8`, `::1/128`, or a bare address (its own /32 or /128). */
export interface Cidr {
  readonly address: string;
  readonly prefix: number;
  readonly family: 'ipv4' | 'ipv6';
}

/** `text` as a {@link Cidr}, or null when it is not one. */
export function parseCidr(text: string): Cidr | null {
  const [address = '', bits, extra] = text.split('/');
  const family = isIP(address);
  const max = family === 4 ? 32 : 128;
  const prefix = bits === undefined ? max : /^\d{1,3}$/.test(bits) ? Number(bits) : NaN;
  if (family === 0 || extra !== undefined || !(prefix >= 0 && prefix <= max)) return null;
  return { address, prefix, family: family === 4 ? 'ipv4' : 'ipv6' };
}
