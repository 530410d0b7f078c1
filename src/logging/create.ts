/**
 * {@link createLogger}: the logger core with the text or JSON formatter, the log file and
 * stderr behind it. The only module of the library that loads the file sink; the CLIs and
 * callers of `tlslp/logging` reach it, the server and client do not.
 * @module
 */
import { resolve } from 'node:path';
import { ConfigError } from '../errors/index.js';
import { SELF, openSink } from './file-sink.js';
import { formatLine, lineTimestamp } from './format.js';
import { parseLogLevel, type LogLevel } from './levels.js';
import { createLoggerCore, type Logger } from './logger.js';
import { LOGGER_OPTIONS as O, type LoggerOptions } from './options.js';
import { fileLines, formattedLines, stderrLines, type LineSink } from './sinks.js';

/**
 * Create a logger writing to a file and/or stderr.
 * @throws ConfigError naming the path when the log folder cannot be created or the file cannot
 * be opened for writing; ConfigError too for an unknown level or format, or malformed
 * `maxSize`/`maxFiles`.
 */
export function createLogger(options: LoggerOptions): Logger {
  // Validated again because callers may hand over unchecked strings (config files, plain JS).
  const level = options.level === undefined ? O.level.default : parseLogLevel(options.level);
  const format = options.format ?? O.format.default;
  if (format !== 'text' && format !== 'json') {
    throw new ConfigError(
      'TLSLP_ERR_BAD_LOG_FORMAT',
      { value: JSON.stringify(format) },
      { option: 'format' },
    );
  }
  const fixed = options.fixedTimestamp;
  const stderr = options.stderr === undefined ? process.stderr : options.stderr;
  // The logger's own lines about its file use the file's format, so a file never mixes formats.
  const selfLine = (lvl: LogLevel, msg: string): string =>
    formatLine(format, fixed ?? lineTimestamp(format, new Date()), {
      level: lvl,
      name: SELF,
      msg,
      fields: undefined,
    });
  const file = options.file ? openSink(resolve(options.file), options, stderr, selfLine) : null;
  const lines: LineSink[] = [];
  if (file) lines.push(fileLines(file));
  if (stderr) lines.push(stderrLines(stderr, options.stderrLevel ?? O.stderrLevel.default));
  return createLoggerCore(options.name, level, formattedLines(format, fixed, lines));
}
