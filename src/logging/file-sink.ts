/**
 * The log file behind {@link createLogger}: an fd written in order through a bounded queue,
 * logrotate-style rotation by size, and recovery from faults (disk full, I/O errors, a deleted
 * folder, a failed rotation) with backoff. Formatting stays in format.ts.
 * @module
 */
import {
  closeSync,
  existsSync,
  fstatSync,
  mkdirSync,
  openSync,
  readSync,
  renameSync,
  statSync,
  write as fsWrite,
  writeSync,
  type Stats,
} from 'node:fs';
import { dirname } from 'node:path';
import { ConfigError } from '../errors/index.js';
import type { LogFormat } from './format.js';
import type { LogLevel } from './levels.js';
import {
  DEFAULT_RETRY_MS,
  LOGGER_OPTIONS as O,
  type LoggerOptions,
  type RetryDelays,
} from './options.js';

const DEFAULT_MAX_SIZE = O.maxSize.default;
const DEFAULT_MAX_FILES = O.maxFiles.default;
const DEFAULT_CHECK_MS = O.checkMs.default;
/**
 * Lines waiting for the disk beyond this many characters are dropped (and counted) instead of
 * queued: a stalled disk must not grow the process without bound.
 */
const MAX_QUEUED_CHARS = 8 * 1024 * 1024;
/** Largest single write, so one huge backlog does not become one huge buffer. */
const MAX_BATCH_BYTES = 1024 * 1024;
/** Name on the lines the logger writes about its own file. */
export const SELF = 'tlslp.logging';

/** Where formatted lines go; `write` keeps the order of calls. */
export interface Sink {
  write(line: string): void;
  reopen(): Promise<void>;
  close(): Promise<void>;
}

export function openSink(
  path: string,
  options: LoggerOptions,
  stderr: NodeJS.WritableStream | null,
  selfLine: (level: LogLevel, msg: string) => string,
): Sink {
  const append = options.mode !== 'overwrite';
  let maxSize: number | null = null;
  let maxFiles: number = DEFAULT_MAX_FILES;
  if (append) {
    maxFiles = options.maxFiles ?? DEFAULT_MAX_FILES;
    if (!Number.isInteger(maxFiles) || maxFiles < 1) {
      throw new ConfigError(
        'TLSLP_ERR_BAD_LOG_BACKUPS',
        { value: maxFiles },
        { option: 'maxFiles' },
      );
    }
    maxSize = parseSize(options.maxSize ?? DEFAULT_MAX_SIZE, path);
  }
  const retry = options.retryMs ?? DEFAULT_RETRY_MS;
  if (!(retry.min > 0 && Number.isFinite(retry.max) && retry.max >= retry.min)) {
    // min 0 would retry a lasting fault in a busy loop.
    throw new ConfigError(
      'TLSLP_ERR_BAD_LOG_RETRY',
      { min: retry.min, max: retry.max },
      { option: 'retryMs' },
    );
  }
  const checkMs = options.checkMs ?? DEFAULT_CHECK_MS;
  if (!(checkMs >= 0 && Number.isFinite(checkMs))) {
    throw new ConfigError('TLSLP_ERR_BAD_LOG_CHECK', { value: checkMs }, { option: 'checkMs' });
  }
  try {
    mkdirSync(dirname(path), { recursive: true });
  } catch (err) {
    throw new ConfigError(
      'TLSLP_ERR_LOG_FILE',
      { folder: true, path: dirname(path), reason: errorText(err) },
      { cause: err, option: 'file' },
    );
  }
  try {
    // A file written in the other format is moved aside (as a rotation would), so one file
    // never mixes text and JSON lines for the tools that read it.
    if (append) {
      const existing = formatOfFile(path);
      if (existing !== null && existing !== (options.format ?? O.format.default))
        shiftBackups(path, maxFiles);
    }
    // Opened synchronously so that an unusable path is a ConfigError at startup.
    return new FileSink({
      path,
      sync: !append,
      maxSize,
      maxFiles,
      retry: { min: retry.min, max: retry.max },
      checkMs,
      onRotated: options.onRotated,
      selfLine,
      stderr,
    });
  } catch (err) {
    throw new ConfigError(
      'TLSLP_ERR_LOG_FILE',
      { path, reason: errorText(err) },
      { cause: err, option: 'file' },
    );
  }
}

const SIZE_UNITS: Readonly<Record<string, number>> = { B: 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };

/** `300B`, `10K`, `50M`, `1G` (an optional trailing `B`: `10KB`) as a number of bytes. */
function parseSize(value: string, path: string): number {
  const m = typeof value === 'string' ? /^\s*(\d+)\s*([BKMG])B?\s*$/i.exec(value) : null;
  const bytes = m ? Number(m[1]) * (SIZE_UNITS[(m[2] ?? '').toUpperCase()] ?? 0) : 0;
  if (!(bytes > 0 && Number.isSafeInteger(bytes))) {
    throw new ConfigError(
      'TLSLP_ERR_BAD_LOG_SIZE',
      { value: JSON.stringify(value), path },
      { option: 'maxSize' },
    );
  }
  return bytes;
}

/** The format of the last line of an existing log file, or null when there is none. */
function formatOfFile(path: string): LogFormat | null {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return null;
  }
  try {
    const info = fstatSync(fd);
    // Not a file (a folder where the log should be): the open below reports it.
    if (!info.isFile() || info.size === 0) return null;
    const size = info.size;
    const length = Math.min(size, 4096);
    const buf = Buffer.alloc(length);
    readSync(fd, buf, 0, length, size - length);
    const last = buf.toString('utf8').trimEnd().split('\n').pop() ?? '';
    return last.startsWith('{') ? 'json' : 'text';
  } finally {
    closeSync(fd);
  }
}

/** logrotate's shift: `<file>.(n-1)` → `<file>.n` … `<file>` → `<file>.1`, the oldest dropped. */
function shiftBackups(path: string, keep: number): void {
  for (let i = keep - 1; i >= 1; i--)
    if (existsSync(`${path}.${i}`)) renameSync(`${path}.${i}`, `${path}.${i + 1}`);
  renameSync(path, `${path}.1`);
}

/** `stat` of a path, or null when nothing is there (or it cannot be looked at). */
function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

/** Write all of `buf` at the end of `fd`; `written` tells how far it got when it failed. */
function writeAll(
  fd: number,
  buf: Buffer,
  done: (err: NodeJS.ErrnoException | null, written: number) => void,
): void {
  const step = (off: number): void => {
    if (off >= buf.length) return done(null, off);
    fsWrite(fd, buf, off, buf.length - off, null, (err, n) =>
      err ? done(err, off) : step(off + n),
    );
  };
  step(0);
}

/** Count of complete lines in `buf[0, end)`: records never contain a raw newline. */
function linesIn(buf: Buffer, end: number): number {
  let n = 0;
  for (let i = buf.indexOf(0x0a); i !== -1 && i < end; i = buf.indexOf(0x0a, i + 1)) n++;
  return n;
}

/** `1 line`, `2 lines`. */
function lineCount(n: number): string {
  return `${n} line${n === 1 ? '' : 's'}`;
}

/** What {@link FileSink} needs, all checked by openSink. */
interface FileSinkSettings {
  path: string;
  /** Overwrite (tutorial) mode: truncate at open, and every line is in the file when write() returns. */
  sync: boolean;
  /** Rotate once the file reaches this many bytes; null = never. */
  maxSize: number | null;
  maxFiles: number;
  retry: RetryDelays;
  checkMs: number;
  onRotated: ((backup: string) => void) | undefined;
  /** Formats one of the logger's own lines (name {@link SELF}) in the file's format. */
  selfLine: (level: LogLevel, msg: string) => string;
  stderr: NodeJS.WritableStream | null;
}

/** reopen() and close() wait in the queue so that they happen after the lines logged before them. */
interface Marker {
  kind: 'reopen' | 'close';
  done: () => void;
}

/**
 * The log file, written through a plain fd: asynchronously in order through a bounded queue
 * (append mode), or synchronously (overwrite mode). Own code rather than rotating-file-stream
 * because that stream is dead after its first 'error', and recovery needs to know which lines
 * reached the file. File operations other than the data writes (open, stat, rotate, close) are
 * rare and synchronous, and run only while no write is in flight, which keeps the order.
 *
 * States: `ok` (writing), `failed` (lines dropped and counted, a retry timer pending), `closed`.
 */
class FileSink implements Sink {
  private readonly s: FileSinkSettings;
  private state: 'ok' | 'failed' | 'closed' = 'ok';
  private fd: number | null = null;
  /** Identity of the open file, to notice that the path now names another one (or none). */
  private dev = 0;
  private ino = 0;
  /** Regular file: only those rotate (not `/dev/stdout`, a FIFO or a device). */
  private regular = true;
  private size = 0;
  private readonly queue: Array<string | Marker> = [];
  private queuedChars = 0;
  /** An asynchronous write is in flight: nothing else may touch the fd. */
  private writing = false;
  private lastCheck = 0;
  /** Lines written since the file was last seen at its path: lost if it turns out deleted. */
  private sinceCheck = 0;
  /** Lines that did not reach the file since the last report. */
  private dropped = 0;
  /** Lines were dropped because the queue was full while the file worked. */
  private lagging = false;
  /** A failed write left a partial line in this file (dev:ino): the next line starts on a new one. */
  private torn: string | null = null;
  private delay: number;
  private timer: NodeJS.Timeout | null = null;

  constructor(settings: FileSinkSettings) {
    this.s = settings;
    this.delay = settings.retry.min;
    this.open(settings.sync);
  }

  write(line: string): void {
    if (this.state === 'closed') return;
    if (this.state === 'failed') {
      this.dropped++;
      return;
    }
    if (this.s.sync) {
      this.writeSyncLine(line);
      return;
    }
    if (this.queuedChars >= MAX_QUEUED_CHARS) {
      this.dropped++;
      this.lagging = true;
      return;
    }
    this.queue.push(line);
    this.queuedChars += line.length;
    this.pump();
  }

  reopen(): Promise<void> {
    if (this.state === 'closed') return Promise.resolve();
    if (this.state === 'failed') {
      // The operator may just have fixed the cause: try now instead of waiting for the timer.
      this.retry();
      return Promise.resolve();
    }
    if (this.s.sync) {
      this.reopenNow();
      return Promise.resolve();
    }
    return this.behindQueue('reopen');
  }

  /** Run `kind` once every line queued before it is written: resolves when it has run. */
  private behindQueue(kind: Marker['kind']): Promise<void> {
    return new Promise((done) => {
      this.queue.push({ kind, done });
      this.pump();
    });
  }

  close(): Promise<void> {
    if (this.state === 'closed') return Promise.resolve();
    if (this.state === 'failed') {
      // One last try, so that the file itself records how many lines it is missing.
      this.retry();
      if (this.state === 'failed') {
        this.finish();
        return Promise.resolve();
      }
    }
    if (this.s.sync) {
      this.finish();
      return Promise.resolve();
    }
    return this.behindQueue('close');
  }

  /**
   * Open the path for appending (truncating in overwrite mode at startup): recreate its folder,
   * and first rotate a file already at the size limit. Throws what the file system throws.
   */
  private open(truncate = false): number {
    const { path, maxSize } = this.s;
    mkdirSync(dirname(path), { recursive: true });
    if (maxSize !== null) {
      const st = statOrNull(path);
      if (st?.isFile() && st.size >= maxSize) this.shift();
    }
    const fd = openSync(path, truncate ? 'w' : 'a', 0o600);
    let st: Stats;
    try {
      st = fstatSync(fd);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    this.fd = fd;
    this.dev = st.dev;
    this.ino = st.ino;
    this.regular = st.isFile();
    this.size = st.size;
    this.lastCheck = Date.now();
    this.sinceCheck = 0;
    return fd;
  }

  private closeFd(): void {
    if (this.fd === null) return;
    try {
      closeSync(this.fd);
    } catch {
      // EIO at close of a broken file: it is being given up anyway.
    }
    this.fd = null;
  }

  /** Shift the backups and report the new one; throws when a rename fails. */
  private shift(): void {
    shiftBackups(this.s.path, this.s.maxFiles);
    const onRotated = this.s.onRotated;
    // Deferred: at startup this runs inside createLogger, before its caller holds the logger.
    if (onRotated)
      queueMicrotask(() => {
        try {
          onRotated(`${this.s.path}.1`);
        } catch {
          // A throwing callback must not break logging.
        }
      });
  }

  private rotates(): boolean {
    return this.s.maxSize !== null && this.regular;
  }

  /** Rotate the full file and open a new one; a failure is a fault like a failed write. */
  private rotate(): void {
    // A rotation is also the moment to notice a vanished file (cheap, and rare).
    if (!this.verify(true)) return;
    this.closeFd();
    try {
      this.open();
    } catch (err) {
      this.fail(`log rotation failed: ${errorText(err)}`, 0);
    }
  }

  /** reopen(): after a check, so that lines lost to a deleted file are reported, not hidden. */
  private reopenNow(): void {
    if (this.verify(true)) this.reopenPath();
  }

  private reopenPath(): void {
    this.closeFd();
    try {
      this.open();
    } catch (err) {
      this.fail(errorText(err), 0);
    }
  }

  /**
   * At most once per `checkMs` (or when `force`d): is the open file still the one at the path?
   * Deleted (no links left): the lines written since the last check are lost, which is reported
   * as a fault, and the path is opened again at once (a removed folder needs no waiting).
   * Moved away or replaced (logrotate without a reopen): follow the path, as Python's
   * WatchedFileHandler does. Returns whether the sink is still `ok`.
   */
  private verify(force: boolean): boolean {
    const now = Date.now();
    if (this.fd === null || (!force && now - this.lastCheck < this.s.checkMs)) return true;
    this.lastCheck = now;
    let own: Stats;
    try {
      own = fstatSync(this.fd);
    } catch (err) {
      this.fail(errorText(err), 0);
      return false;
    }
    // Someone may have truncated the file (logrotate's copytruncate): rotate by its real size.
    this.size = own.size;
    if (own.nlink === 0) {
      this.stop('the file was deleted', this.sinceCheck);
      // Nothing in the queue has been written anywhere yet: keep it if the new file works.
      if (!this.recover()) {
        this.dropQueue();
        this.schedule();
      }
      return this.state === 'ok';
    }
    this.sinceCheck = 0;
    const st = statOrNull(this.s.path);
    if (st === null || st.dev !== this.dev || st.ino !== this.ino) this.reopenPath();
    return this.state === 'ok';
  }

  /** Overwrite mode: the line is in the file when this returns. */
  private writeSyncLine(line: string): void {
    if (!this.verify(false) || this.fd === null) {
      this.dropped++;
      return;
    }
    const buf = Buffer.from(line, 'utf8');
    let off = 0;
    try {
      while (off < buf.length) off += writeSync(this.fd, buf, off);
    } catch (err) {
      this.noteTorn(buf, off);
      this.fail(errorText(err), 1);
      return;
    }
    this.size += buf.length;
    this.sinceCheck++;
    if (this.rotates() && this.size >= (this.s.maxSize ?? Infinity)) this.rotate();
  }

  /** Append mode: write what is queued, one batch at a time, and run markers in their turn. */
  private pump(): void {
    while (!this.writing && this.state === 'ok') {
      const head = this.queue[0];
      if (head === undefined) {
        if (this.lagging) this.reportLag();
        else return;
        continue;
      }
      if (typeof head !== 'string') {
        this.queue.shift();
        if (head.kind === 'reopen') this.reopenNow();
        else this.finish();
        head.done();
        continue;
      }
      const maxSize = this.s.maxSize ?? Infinity;
      if (this.rotates() && this.size >= maxSize) {
        this.rotate();
        continue;
      }
      if (!this.verify(false)) return;
      const fd = this.fd;
      if (fd === null) return;
      // A batch ends at a marker, at the line that reaches the rotation size (so rotation
      // happens exactly there, as with one write per line), or at MAX_BATCH_BYTES.
      const room = this.rotates() ? maxSize - this.size : Infinity;
      let count = 0;
      let bytes = 0;
      for (const entry of this.queue) {
        if (typeof entry !== 'string') break;
        count++;
        bytes += Buffer.byteLength(entry, 'utf8');
        if (bytes >= room || bytes >= MAX_BATCH_BYTES) break;
      }
      const batch = this.queue.splice(0, count) as string[];
      const text = batch.join('');
      this.queuedChars -= text.length;
      const buf = Buffer.from(text, 'utf8');
      this.writing = true;
      writeAll(fd, buf, (err, written) => {
        this.writing = false;
        if (this.state !== 'ok') return;
        if (err) {
          this.noteTorn(buf, written);
          this.fail(errorText(err), count - linesIn(buf, written));
          return;
        }
        this.size += buf.length;
        this.sinceCheck += count;
        if (this.rotates() && this.size >= maxSize) this.rotate();
        this.pump();
      });
    }
  }

  private noteTorn(buf: Buffer, written: number): void {
    if (written > 0 && buf[written - 1] !== 0x0a) this.torn = `${this.dev}:${this.ino}`;
  }

  /** The file works no more: drop what is queued, report once, retry later. */
  private fail(reason: string, lost: number): void {
    this.stop(reason, lost);
    this.dropQueue();
    this.schedule();
  }

  /** Enter `failed`, reporting the failure on stderr only on the way out of `ok`. */
  private stop(reason: string, lost: number): void {
    this.closeFd();
    this.dropped += lost;
    if (this.state !== 'ok') return;
    this.state = 'failed';
    this.s.stderr?.write(
      this.s.selfLine(
        'ERROR',
        `log file failed, lines are dropped until it works again: ${this.s.path}: ${reason}`,
      ),
    );
  }

  /** Count queued lines as dropped; settle markers (a pending close() closes). */
  private dropQueue(): void {
    let close: Marker | null = null;
    for (const entry of this.queue.splice(0)) {
      if (typeof entry === 'string') this.dropped++;
      else if (entry.kind === 'close') close = entry;
      else entry.done();
    }
    this.queuedChars = 0;
    if (close) {
      this.finish();
      close.done();
    }
  }

  private schedule(): void {
    if (this.state !== 'failed') return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.retry(), this.delay);
    // A logger waiting for its disk must not keep a finished program alive.
    this.timer.unref();
    this.delay = Math.min(this.delay * 2, this.s.retry.max);
  }

  /** A retry: get the file working again, or wait longer. */
  private retry(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.state !== 'failed') return;
    if (this.recover()) this.pump();
    else this.schedule();
  }

  /**
   * Open the path and write the "works again" line, which proves that writing works (a full
   * disk accepts the open, not the write). On success the sink is `ok` and stderr told.
   */
  private recover(): boolean {
    const n = this.dropped;
    const msg = `log file works again: ${this.s.path} (${lineCount(n)} dropped)`;
    let line = this.s.selfLine(n > 0 ? 'WARNING' : 'INFO', msg);
    try {
      const fd = this.open();
      if (this.torn === `${this.dev}:${this.ino}` && this.size > 0) line = `\n${line}`;
      const buf = Buffer.from(line, 'utf8');
      let off = 0;
      while (off < buf.length) off += writeSync(fd, buf, off);
      this.size += buf.length;
      this.sinceCheck++;
    } catch {
      this.closeFd();
      return false;
    }
    this.state = 'ok';
    this.dropped = 0;
    this.lagging = false;
    this.torn = null;
    this.delay = this.s.retry.min;
    this.s.stderr?.write(line.trimStart());
    return true;
  }

  /** The queue drained after lines were dropped for want of room: say so, in the file too. */
  private reportLag(): void {
    const line = this.s.selfLine(
      'WARNING',
      `log file fell behind, ${lineCount(this.dropped)} dropped: ${this.s.path}`,
    );
    this.lagging = false;
    this.dropped = 0;
    this.s.stderr?.write(line);
    this.queue.push(line);
    this.queuedChars += line.length;
  }

  private finish(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.closeFd();
    this.state = 'closed';
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
