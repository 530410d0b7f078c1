/**
 * What a person sees on a terminal while a session runs: a per-step transcript, a WORK
 * progress line, a final summary. Colour only on a TTY and never with NO_COLOR.
 * @module
 */
import pc from 'picocolors';
import type { ClientEvent } from '../client/client.js';
import type { SolveProgress } from '../solver/index.js';
import { escapeControl } from '../text/escape.js';
import { hostPort } from '../text/address.js';

/** A place to print to. */
export interface Out {
  write(text: string): unknown;
  isTTY?: boolean;
}

/** Colour functions for a stream: on for a TTY unless NO_COLOR is set. */
export function colorsFor(stream: Out): ReturnType<typeof pc.createColors> {
  const enabled =
    stream.isTTY === true && !('NO_COLOR' in process.env) && process.env.TERM !== 'dumb';
  return pc.createColors(enabled);
}

/**
 * A peer's line as the transcript shows it: control characters escaped first (a hostile
 * server must not reach the terminal with CSI/OSC sequences), then shortened.
 */
function shorten(line: string, max = 100): string {
  const safe = escapeControl(line);
  return safe.length > max ? `${safe.slice(0, max - 1)}…` : safe;
}

/** Prints client events as a transcript: `S:` lines from the server, `C:` lines from the client. */
export function transcriptPrinter(
  out: Out,
  options: { peer?: string } = {},
): (event: ClientEvent) => void {
  const c = colorsFor(out);
  return (event) => {
    switch (event.type) {
      case 'connecting':
        out.write(c.dim(`… connecting to ${hostPort(event.host, event.port)}\n`));
        break;
      case 'connect-failed':
        out.write(
          c.yellow(`! ${hostPort(event.host, event.port)}: ${escapeControl(event.reason)}\n`),
        );
        break;
      case 'connected':
        out.write(
          c.green(`✓ connected to ${hostPort(event.host, event.port)} (${event.protocol})\n`),
        );
        break;
      case 'recv':
        out.write(`${c.cyan(options.peer ?? 'S:')} ${shorten(event.line)}\n`);
        break;
      case 'send':
        out.write(`${c.magenta('C:')} ${shorten(event.line)}\n`);
        break;
      case 'work-start':
        out.write(
          c.dim(
            `  solving WORK (n_bits ${event.nBits}, about ${formatCount(2 ** event.nBits)} hashes expected)…\n`,
          ),
        );
        break;
      case 'work-done': {
        const s = event.solution;
        const rate = s.hashesPerSecond
          ? `, ${(s.hashesPerSecond / 1e6).toFixed(1)} M hashes/s`
          : '';
        out.write(c.dim(`  solved in ${s.seconds.toFixed(3)} s with ${s.solver}${rate}\n`));
        break;
      }
    }
  };
}

/** 268435456 → `268.4M`. */
export function formatCount(n: number): string {
  if (n >= 1e12) return `${(n / 1e12).toFixed(1)}T`;
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)}G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return String(Math.round(n));
}

/** Seconds as `3.2 s`, `4 min 10 s`, `2 h 5 min`. */
export function formatDuration(s: number): string {
  if (!Number.isFinite(s)) return '∞';
  if (s < 60) return `${s.toFixed(1)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}

/**
 * A one-line WORK progress display for a terminal: shown once a solve has run for a second,
 * redrawn in place, erased when done. Does nothing on a non-TTY.
 */
export function progressLine(
  out: Out,
  showAfterMs = 1000,
): { update(p: SolveProgress): void; clear(): void } {
  let shown = false;
  return {
    update(p) {
      if (out.isTTY !== true || p.elapsedMs < showAfterMs) return;
      shown = true;
      const rate = `${(p.hashesPerSecond / 1e6).toFixed(1)} M/s`;
      // Past the expected work an estimate of the time left means nothing (the search is
      // memoryless): say how long it has run instead.
      const text =
        p.hashes <= p.expectedHashes
          ? `  WORK: ${formatCount(p.hashes)} of ~${formatCount(p.expectedHashes)} hashes, ${rate}, ~${formatDuration(p.etaSeconds)} left`
          : `  WORK: ${formatCount(p.hashes)} hashes (past the ~${formatCount(p.expectedHashes)} expected), ${rate}, ${formatDuration(p.elapsedMs / 1000)} so far`;
      out.write(`\r\x1b[K${text}`);
    },
    clear() {
      if (shown) out.write('\r\x1b[K');
      shown = false;
    },
  };
}
