/**
 * The CLI's reloads of the TLS files (SIGHUP, `--reload-interval`, a cluster primary's word),
 * one at a time, with the requests that come meanwhile merged into one more.
 * @module
 */
import { createHash } from 'node:crypto';
import type { Logger } from '../logging/logger.js';
import type { ReloadReason } from './cluster.js';
import type { TlslpServer } from './server.js';
import type { ServerTlsLabels, TlsMaterial } from '../tls/material.js';
import { describeError } from '../errors/describe.js';

/**
 * A reloader of the TLS files into `server`, one reload at a time (a slow read overtaken by a
 * later one would swap older files back in). Requests that come while one runs merge into
 * one more reload after it (a `signal` among them makes it a signal's), so a burst of
 * SIGHUPs costs two rereads, not one per signal. A SIGHUP reloads at once, and says what came
 * of it. An interval tick acts on what it read only once it read the same on the tick
 * before: a certificate and key replaced one after the other, or a file being written, are
 * not taken half-way (nor logged as errors). A file that cannot be read is logged once while
 * it stays so.
 * @returns the reloader: it resolves when the reload that covers this request is done
 */
export function serialReloads(
  logger: Logger,
  server: Pick<TlslpServer, 'reloadAsync'>,
  read: () => Promise<TlsMaterial>,
  labels: ServerTlsLabels,
): (why: ReloadReason) => Promise<void> {
  let lastProblem = '';
  /** What the last read gave: the files' digest, or the problem reading them. */
  let lastSeen = '';
  const settled = (why: ReloadReason, seen: string): boolean => {
    const same = seen === lastSeen;
    lastSeen = seen;
    return why === 'signal' || same;
  };
  const failed = (problem: string): void =>
    logger.error(`TLS reload failed, still serving the previous material: ${problem}`);
  const reloadOnce = async (why: ReloadReason): Promise<void> => {
    let material: TlsMaterial;
    try {
      material = await read();
    } catch (err) {
      const problem = describeError(err);
      if (!settled(why, `problem:${problem}`)) return;
      if (why === 'signal' || problem !== lastProblem) failed(problem);
      lastProblem = problem;
      return;
    }
    const digest = createHash('sha256');
    for (const part of [material.cert, material.key, material.ca, material.crl])
      digest.update(part ?? '').update('\0');
    if (!settled(why, `files:${digest.digest('hex')}`)) return;
    lastProblem = '';
    // Off the event loop: a big CRL is read and indexed in a worker thread.
    const result = await server.reloadAsync(material, labels);
    if (why !== 'signal') return;
    // The server logs a reload and a new failure; a signal hears back about the rest too.
    if (result.outcome === 'unchanged')
      logger.info(`SIGHUP: TLS files unchanged (server certificate ${result.serverSerial})`);
    else if (result.outcome === 'failed' && result.repeated && result.error)
      failed(result.error.message);
  };
  let running: Promise<void> | null = null;
  /** The one reload queued behind the running one, which every later request joins. */
  let queued: { why: ReloadReason; done: Promise<void> } | null = null;
  const start = (why: ReloadReason): Promise<void> => {
    const run: Promise<void> = reloadOnce(why)
      .catch((err: unknown) => failed(describeError(err)))
      .finally(() => {
        if (running === run) running = null;
      });
    running = run;
    return run;
  };
  return (why) => {
    if (!running) return start(why);
    if (queued) {
      if (why === 'signal') queued.why = 'signal';
      return queued.done;
    }
    const entry: { why: ReloadReason; done: Promise<void> } = {
      why,
      done: running.then(() => {
        queued = null;
        return start(entry.why);
      }),
    };
    queued = entry;
    return entry.done;
  };
}
