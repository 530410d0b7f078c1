/**
 * The one short line per session a server prints on its terminal, so the person who started
 * it sees sessions come and go without reading the log:
 * `#12 127.0.0.1 done in 0.4 s (n_bits 20, 0.2 s WORK)`.
 * @module
 */
import type { SessionReport } from '../server/server.js';
import { escapeControl } from '../text/escape.js';

/** The client's address without its port: `127.0.0.1`, `::1`. */
function clientIp(remoteAddress: string): string {
  const bracketed = /^\[(.*)\]:\d+$/.exec(remoteAddress);
  if (bracketed) return bracketed[1] as string;
  const i = remoteAddress.lastIndexOf(':');
  return i > 0 ? remoteAddress.slice(0, i) : remoteAddress;
}

function secs(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** One line (without `\n`) for a finished session. */
export function sessionLine(r: SessionReport): string {
  const who = `#${r.id} ${clientIp(r.remoteAddress)}`;
  const work = r.workMs !== undefined ? `, ${secs(r.workMs)} WORK` : '';
  const detail = `(n_bits ${r.nBits}${work})`;
  const o = r.result;
  switch (o.outcome) {
    case 'done':
      return `${who} done in ${secs(r.durationMs)} ${detail}`;
    case 'fail-drawn':
      return `${who} ended by the simulated FAIL in ${secs(r.durationMs)} ${detail}`;
    case 'rejected':
      return `${who} rejected after ${secs(r.durationMs)}: ${escapeControl(o.reason)} ${detail}`;
    case 'transport':
      return `${who} ended after ${secs(r.durationMs)}: ${escapeControl(o.reason)} ${detail}`;
  }
}
