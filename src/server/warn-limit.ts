/**
 * Rate limiting of the warnings strangers can cause (refused connections, failed handshakes,
 * rejected certificates), as nginx and HAProxy do it: per kind, the first few in each second
 * are written, the rest are counted and summed up in one line per interval. Metrics still
 * count every event; only the log is limited.
 * @module
 */
import { SECOND_MS } from '../util/time.js';

/** How the server limits the warnings strangers can cause (`warningLimit`). */
export interface WarningLimitOptions {
  /** Warnings of one kind written per second before the rest are only counted (default 5). */
  burst?: number;
  /** How often the suppressed counts are written, in ms (default 10000). */
  intervalMs?: number;
}

/** Most kinds tracked at once; kinds come from fixed code lists, this only bounds memory. */
const MAX_KINDS = 1000;

/** The second of the monotonic clock now: the limiter counts per second. */
function currentSecond(): number {
  return Math.floor(performance.now() / SECOND_MS);
}

interface KindState {
  second: number;
  inSecond: number;
  suppressed: number;
}

/** Writes warnings through `write`, at most `burst` a second per kind. */
export class WarningLimiter {
  private readonly burst: number;
  private readonly intervalMs: number;
  private readonly kinds = new Map<string, KindState>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly write: (msg: string, fields?: Record<string, unknown>) => void,
    options: WarningLimitOptions = {},
  ) {
    this.burst = options.burst ?? 5;
    this.intervalMs = options.intervalMs ?? 10_000;
  }

  /** Write `msg` unless `kind` already had its share this second; then count it. */
  warn(kind: string, msg: string, fields?: Record<string, unknown>): void {
    const second = currentSecond();
    let state = this.kinds.get(kind);
    if (!state) {
      if (this.kinds.size >= MAX_KINDS) this.flush();
      if (this.kinds.size >= MAX_KINDS) this.kinds.clear();
      state = { second, inSecond: 0, suppressed: 0 };
      this.kinds.set(kind, state);
    }
    if (state.second !== second) {
      state.second = second;
      state.inSecond = 0;
    }
    if (state.inSecond < this.burst) {
      state.inSecond++;
      this.write(msg, fields);
      return;
    }
    state.suppressed++;
    this.timer ??= setTimeout(() => {
      this.timer = null;
      this.flush();
    }, this.intervalMs).unref();
  }

  /** Write one summary line per kind with suppressed warnings, and forget idle kinds. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const second = currentSecond();
    for (const [kind, state] of this.kinds) {
      if (state.suppressed > 0)
        this.write(
          `${state.suppressed} more "${kind}" warning${state.suppressed === 1 ? '' : 's'} suppressed (at most ${this.burst} a second are written)`,
          { event: 'suppressed', kind, count: state.suppressed },
        );
      state.suppressed = 0;
      // This second's count stays, so a flush never grants a second burst within it.
      if (state.second !== second) this.kinds.delete(kind);
    }
  }

  /** Write what is still suppressed and stop the timer. */
  close(): void {
    this.flush();
  }
}
