/**
 * The IPC sink of a cluster worker: records go, unformatted, over the IPC channel to the
 * primary, which logs them with its own logger (one writer of the log file, so rotation stays
 * safe). The primary side is {@link relayLogMessage}.
 * @module
 */
import cluster from 'node:cluster';
import type { Logger, RecordSink } from './logger.js';

/** A log record crossing from a worker to the primary. */
interface LogMessage {
  tlslpLog: {
    level: 'debug' | 'info' | 'warning' | 'error';
    msg: string;
    fields?: Record<string, unknown>;
    stderr?: boolean;
  };
}

function isLogMessage(m: unknown): m is LogMessage {
  return typeof m === 'object' && m !== null && 'tlslpLog' in m;
}

/** Let go of the IPC channel to the primary, which would otherwise keep a worker alive. */
function releaseChannel(): void {
  if (!process.connected) return;
  // worker.disconnect() keeps process.exitCode; a bare process.disconnect() in a cluster
  // worker makes node exit at once with 0, hiding a failure (and racing its error line).
  if (cluster.worker) cluster.worker.disconnect();
  else process.disconnect?.();
}

/**
 * Send each record to the primary. Closing ends the worker's IPC channel: the server's main
 * closes its logger last on every path, so a worker whose main failed (say, its port is taken)
 * exits with its code instead of idling on the channel. Records without a channel are dropped.
 */
export function ipcSink(): RecordSink {
  return {
    write({ level, msg, fields, stderr }) {
      if (!process.send || !process.connected) return;
      // CRITICAL has no method of its own on Logger; nothing logs at it.
      const key =
        level === 'CRITICAL' ? 'error' : (level.toLowerCase() as LogMessage['tlslpLog']['level']);
      process.send({
        tlslpLog: { level: key, msg, fields, stderr: key === 'error' ? stderr : undefined },
      } satisfies LogMessage);
    },
    reopen: () => Promise.resolve(),
    close: () => {
      releaseChannel();
      return Promise.resolve();
    },
  };
}

/**
 * In the primary: log `message` with `logger`, with the field `worker: <id>` first (JSON lines
 * carry it as a key, text lines as a `[w<id>] ` prefix), when it is a worker's log record.
 * Worker ids are never reused while the primary runs, so `worker` and `session` together
 * name one session. Returns whether it was one.
 */
export function relayLogMessage(logger: Logger, workerId: number, message: unknown): boolean {
  if (!isLogMessage(message)) return false;
  const { level, msg, fields: own, stderr } = message.tlslpLog;
  const fields = { worker: workerId, ...own };
  if (level === 'error') logger.error(msg, fields, { stderr: stderr !== false });
  else logger[level](msg, fields);
  return true;
}
