/**
 * Sinks of formatted lines: the record is formatted once, then each line sink (the log file,
 * stderr) takes or leaves it.
 * @module
 */
import type { Sink } from './file-sink.js';
import { formatLine, lineTimestamp, type LogFormat } from './format.js';
import { SEVERITY, type LogLevel } from './levels.js';
import type { LogRecord, RecordSink } from './logger.js';

/** A destination of formatted lines; it sees the record too, to pick by level. */
export interface LineSink {
  write(line: string, record: LogRecord): void;
  reopen(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Format each record as one line of `format` (timestamp `fixedTimestamp` when given, else now
 * as {@link lineTimestamp} writes it)
 * and hand it to every sink in order.
 */
export function formattedLines(
  format: LogFormat,
  fixedTimestamp: string | undefined,
  sinks: readonly LineSink[],
): RecordSink {
  return {
    write(record) {
      const time = fixedTimestamp ?? lineTimestamp(format, new Date());
      const line = formatLine(format, time, record);
      for (const sink of sinks) sink.write(line, record);
    },
    reopen: () => Promise.all(sinks.map((s) => s.reopen())).then(() => undefined),
    close: () => Promise.all(sinks.map((s) => s.close())).then(() => undefined),
  };
}

/** The log file: lines logged once close() was called are dropped, not queued behind it. */
export function fileLines(file: Sink): LineSink {
  let closed = false;
  return {
    write: (line) => {
      if (!closed) file.write(line);
    },
    reopen: () => file.reopen(),
    close: () => {
      closed = true;
      return file.close();
    },
  };
}

/** A stream (stderr) that gets records at `minLevel` and above, unless the caller kept one off it. */
export function stderrLines(stream: NodeJS.WritableStream, minLevel: LogLevel): LineSink {
  const threshold = SEVERITY[minLevel];
  return {
    write: (line, record) => {
      if (record.stderr && SEVERITY[record.level] >= threshold) stream.write(line);
    },
    // Not ours to close: the stream stays open for the rest of the process.
    reopen: () => Promise.resolve(),
    close: () => Promise.resolve(),
  };
}
