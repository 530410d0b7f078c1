/**
 * Who a client is, once its certificate has passed the handshake: the names in the
 * certificate (subject CN and OU, DNS and URI subject alternative names), a short SHA-256
 * fingerprint for the records, and the allow-lists (`allowCn`, `allowOu`, `allowDns`,
 * `allowUri`) that decide whether it may have a session at all.
 *
 * Only certificates our CA issued and the gate accepted get this far, so the set of
 * identities is the set of certificates the operator issued, not something a stranger can
 * grow.
 * @module
 */
import type { PeerCertificate } from 'node:tls';
import { escapeControl } from '../text/escape.js';

/** The client's identity as records carry it (log lines, session reports, events). */
export interface ClientIdentity {
  /**
   * The subject CN, escaped (control and bidi characters written as `\xHH`/`\uHHHH`, at
   * most 128 characters); several CNs are joined with `+`; `''` when the subject has none.
   */
  readonly cn: string;
  /** The first 16 hex digits (lowercase) of the certificate's SHA-256 fingerprint. */
  readonly fp: string;
}

/** The names of a client certificate the allow-lists match, as the certificate has them. */
export interface CertNames {
  /** Subject CN values (usually one). */
  readonly cn: readonly string[];
  /** Subject OU values. */
  readonly ou: readonly string[];
  /** DNS subject alternative names. */
  readonly dns: readonly string[];
  /** URI subject alternative names. */
  readonly uri: readonly string[];
}

/** Length of the fingerprint records carry (64 bits: enough to tell certificates apart). */
export const FINGERPRINT_CHARS = 16;
const MAX_CN_CHARS = 128;

/** The longest description of a certificate's other names in a log line (cut with `…`). */
const MAX_NAMES_CHARS = 300;

/** A subject attribute's values: Node gives a string, or an array when it repeats. */
function values(v: string | string[] | undefined): string[] {
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}

/**
 * The DNS and URI names of Node's `subjectaltname` string. Node writes each entry as
 * `TYPE:value`, or, when the value holds a comma, quote, backslash or control character, as
 * `TYPE:"value"` with the value a JSON string whose commas are escaped (`\u002c`); entries are
 * joined by `, `. So a raw `, ` never occurs inside an entry and the split is unambiguous. An
 * entry that does not parse is skipped: it can only fail to match.
 */
export function parseSubjectAltNames(san: string | undefined): { dns: string[]; uri: string[] } {
  const dns: string[] = [];
  const uri: string[] = [];
  if (!san) return { dns, uri };
  for (const entry of san.split(', ')) {
    const colon = entry.indexOf(':');
    if (colon < 0) continue;
    const type = entry.slice(0, colon);
    let value = entry.slice(colon + 1);
    if (value.startsWith('"')) {
      try {
        value = JSON.parse(value) as string;
      } catch {
        continue;
      }
      if (typeof value !== 'string') continue;
    }
    if (type === 'DNS') dns.push(value);
    else if (type === 'URI') uri.push(value);
  }
  return { dns, uri };
}

/** The names of a peer certificate (from `getPeerCertificate()`). */
export function certNames(cert: PeerCertificate): CertNames {
  // Node builds the subject with a null prototype, so a `__proto__` attribute is only data.
  const subject = (cert.subject ?? {}) as unknown as Record<string, string | string[] | undefined>;
  return {
    cn: values(subject.CN),
    ou: values(subject.OU),
    ...parseSubjectAltNames(cert.subjectaltname),
  };
}

/** The identity records carry for a peer certificate and its names. */
export function identityOf(cert: PeerCertificate, names: CertNames): ClientIdentity {
  let cn = escapeControl(names.cn.join('+'));
  if (cn.length > MAX_CN_CHARS) cn = `${cn.slice(0, MAX_CN_CHARS - 1)}…`;
  const fp = (cert.fingerprint256 ?? '')
    .replaceAll(':', '')
    .toLowerCase()
    .slice(0, FINGERPRINT_CHARS);
  return { cn, fp };
}

/** An identity in one short word, for a metric label and log lines: `<cn>:<fp8>`. */
export function identityLabel(identity: ClientIdentity): string {
  const cn = identity.cn.length > 64 ? `${identity.cn.slice(0, 63)}…` : identity.cn;
  return `${cn}:${identity.fp.slice(0, 8)}`;
}

/** The allow-lists of the server's options; each empty or absent list matches nothing. */
export interface AllowLists {
  readonly allowCn?: readonly string[];
  readonly allowOu?: readonly string[];
  readonly allowDns?: readonly string[];
  readonly allowUri?: readonly string[];
}

/** The allow-lists that are set, in words: `['CN a, b', 'OU ops']` (the start-up line and `--check`). */
export function describeAllowLists(lists: AllowLists): string[] {
  return (
    [
      ['CN', lists.allowCn],
      ['OU', lists.allowOu],
      ['DNS', lists.allowDns],
      ['URI', lists.allowUri],
    ] as const
  )
    .filter(([, v]) => v !== undefined && v.length > 0)
    .map(([name, v]) => `${name} ${(v ?? []).join(', ')}`);
}

/** A DNS name as it is compared: ASCII lowercase, without a final dot. */
function dnsKey(name: string): string {
  return name.replace(/\.$/, '').replace(/[A-Z]+/g, (s) => s.toLowerCase());
}

/**
 * Who may have a session: a certificate passes when any of its names is on a list (CN and OU
 * exactly, DNS names without regard to ASCII case, URIs exactly). No list at all: every
 * certificate our CA issued passes, as without allow-lists.
 */
export class AllowList {
  private readonly cn: ReadonlySet<string>;
  private readonly ou: ReadonlySet<string>;
  private readonly dns: ReadonlySet<string>;
  private readonly uri: ReadonlySet<string>;
  /** Some list is set: certificates are checked. */
  readonly active: boolean;

  constructor(lists: AllowLists) {
    this.cn = new Set(lists.allowCn ?? []);
    this.ou = new Set(lists.allowOu ?? []);
    this.dns = new Set((lists.allowDns ?? []).map(dnsKey));
    this.uri = new Set(lists.allowUri ?? []);
    this.active = this.cn.size + this.ou.size + this.dns.size + this.uri.size > 0;
  }

  /** Whether a certificate with `names` may have a session. */
  allows(names: CertNames): boolean {
    if (!this.active) return true;
    // A subject with several CNs is ambiguous about who it is: no CN entry vouches for it.
    if (names.cn.length === 1 && this.cn.has(names.cn[0] as string)) return true;
    if (names.ou.some((o) => this.ou.has(o))) return true;
    if (names.dns.some((d) => this.dns.has(dnsKey(d)))) return true;
    return names.uri.some((u) => this.uri.has(u));
  }
}

/** The names of `names` in short, escaped, for the warning about a refused certificate. */
export function describeNames(names: CertNames): string {
  const parts: string[] = [];
  const add = (key: string, list: readonly string[]): void => {
    for (const v of list.slice(0, 4)) parts.push(`${key}=${JSON.stringify(escapeControl(v))}`);
    if (list.length > 4) parts.push(`${key}=(${list.length - 4} more)`);
  };
  add('OU', names.ou);
  add('DNS', names.dns);
  add('URI', names.uri);
  const text = parts.join(' ');
  return text.length > MAX_NAMES_CHARS ? `${text.slice(0, MAX_NAMES_CHARS - 1)}…` : text;
}
