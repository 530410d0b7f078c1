/**
 * The `--state` URL: where a fleet of servers keeps its shared limits. Parsed and checked
 * here, and masked wherever it is shown, so a password in it never reaches a log or `--help`.
 * @module
 */
import { maskUrlPassword } from '../text/secret.js';

/** What a `--state` URL names. */
export interface StateUrl {
  /** TLS to the store (`rediss://`, `valkeys://`). */
  readonly tls: boolean;
  /** Host name or address. */
  readonly host: string;
  /** Port (default 6379). */
  readonly port: number;
  /** ACL user name. */
  readonly username?: string;
  /** Password (never shown: see {@link StateUrl.shown}). */
  readonly password?: string;
  /** Database number (the path, `/0` by default). */
  readonly database: number;
  /** The URL as it may be shown: the password replaced by `***`. */
  readonly shown: string;
}

const SCHEMES: Readonly<Record<string, boolean>> = {
  'redis:': false,
  'rediss:': true,
  // Valkey speaks the same protocol; the alias saves users a translation.
  'valkey:': false,
  'valkeys:': true,
};

/** What a `--state` URL must look like, for messages. */
export const STATE_URL_FORM =
  'a redis://[user:pass@]host:port[/db] URL (rediss:// for TLS; valkey:// works too)';

/** Parse a `--state` URL; null when it is not one. */
export function parseStateUrl(text: string): StateUrl | null {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return null;
  }
  const tls = SCHEMES[url.protocol];
  if (tls === undefined || url.hostname === '' || url.search !== '' || url.hash !== '') return null;
  const path = url.pathname.replace(/^\//, '');
  if (path !== '' && !/^\d{1,2}$/.test(path)) return null;
  const port = url.port === '' ? 6379 : Number(url.port);
  return {
    tls,
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port,
    ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
    database: path === '' ? 0 : Number(path),
    shown: maskStateUrl(text),
  };
}

/** `text` with the password of its user part (if any) replaced by `***`. */
export const maskStateUrl: (text: string) => string = maskUrlPassword;
