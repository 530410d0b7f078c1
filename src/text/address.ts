/**
 * `host:port` as people and URLs write it: an IPv6 address in brackets (`[::1]:1234`), so
 * the port cannot be read as one more group of the address.
 * @module
 */

/** `host:port`, with an IPv6 `host` bracketed. */
export function hostPort(host: string, port: number | string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
}
