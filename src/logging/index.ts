/**
 * Logging as the wire contract describes it (docs/protocol.md §7): one line per record,
 * `<timestamp> <LEVEL> <logger>: <message>`, to `$XDG_STATE_HOME/tlslp/logs/<role>.log`,
 * with warnings and errors also on stderr. Normal mode appends and rotates (50 MiB, 2 backups,
 * logrotate naming `server.log.1`, `server.log.2`); tutorial mode truncates the file at open and
 * writes a fixed timestamp so its logs can be compared with golden files. A log file that stops
 * working (disk full, I/O error, folder removed, failed rotation) never stops the program: lines
 * are dropped and counted meanwhile, the file is retried with backoff, and both the failure and
 * the recovery are reported once. {@link Logger.reopen} follows the path after logrotate moved
 * the file away.
 *
 * The parts live in logging/: levels, paths (XDG), format, the options table, the logger core,
 * createLogger, and the sinks (file, stderr, and the IPC sink of cluster workers). This barrel
 * is the public surface; it loads the file sink (through createLogger), which the library's
 * own modules never import.
 * @module
 */
export { LOG_LEVELS, parseLogLevel, type LogLevel } from './levels.js';
export { defaultLogDir, logFilePath } from './paths.js';
export { CONTEXT_FIELDS, TUTORIAL_TIMESTAMP, formatTimestamp, type LogFormat } from './format.js';
export { createLogger } from './create.js';
export { createNullLogger, type Logger } from './logger.js';
export type { LoggerOptions, RetryDelays } from './options.js';
