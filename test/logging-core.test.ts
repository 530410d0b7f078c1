/**
 * The logger core and its sinks on their own: the level filter in front of a sink, child
 * context, and the IPC relay in the primary. (Files, rotation and faults: logging.test.ts and
 * logging-faults.test.ts; the IPC path between real processes: cluster-faults.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { relayLogMessage } from '../src/logging/ipc-sink.js';
import { createLogger } from '../src/logging/create.js';
import {
  childLogger,
  createLoggerCore,
  type LogRecord,
  type RecordSink,
} from '../src/logging/logger.js';
import { capture } from './helpers.js';

/** A sink that keeps the records it gets, and counts closes and reopens. */
function memorySink(): RecordSink & { records: LogRecord[]; closes: number; reopens: number } {
  const sink = {
    records: [] as LogRecord[],
    closes: 0,
    reopens: 0,
    write: (r: LogRecord) => void sink.records.push(r),
    close: () => {
      sink.closes++;
      return Promise.resolve();
    },
    reopen: () => {
      sink.reopens++;
      return Promise.resolve();
    },
  };
  return sink;
}

describe('logger core', () => {
  it('hands the sink only records at or above its level, with their fields and stderr wish', () => {
    const sink = memorySink();
    const log = createLoggerCore('t', 'INFO', sink);
    log.debug('hidden');
    log.info('shown', { port: 1 });
    log.error('quiet', undefined, { stderr: false });
    expect(sink.records).toEqual([
      { level: 'INFO', name: 't', msg: 'shown', fields: { port: 1 }, stderr: true },
      { level: 'ERROR', name: 't', msg: 'quiet', fields: undefined, stderr: false },
    ]);
    expect(log.isEnabled('DEBUG')).toBe(false);
    expect(log.isEnabled('WARNING')).toBe(true);
  });

  it('closes its sink once, and reopens it only while open', async () => {
    const sink = memorySink();
    const log = createLoggerCore('t', 'INFO', sink);
    await log.reopen?.();
    await Promise.all([log.close(), log.close()]);
    await log.reopen?.();
    expect({ closes: sink.closes, reopens: sink.reopens }).toEqual({ closes: 1, reopens: 1 });
  });
});

describe('childLogger', () => {
  it('adds its context under the fields of each record; per-call fields win', () => {
    const sink = memorySink();
    const child = childLogger(createLoggerCore('t', 'DEBUG', sink), { session: 3, peer: 'p' });
    child.info('a');
    child.warning('b', { peer: 'q', reason: 'r' });
    expect(sink.records.map((r) => r.fields)).toEqual([
      { session: 3, peer: 'p' },
      { session: 3, peer: 'q', reason: 'r' },
    ]);
  });

  it('writes the text prefix of a session like the parent would', () => {
    const err = capture();
    const parent = createLogger({
      name: 'tlslp.server',
      fixedTimestamp: 'T',
      stderr: err.stream,
      stderrLevel: 'INFO',
    });
    childLogger(parent, { session: 12, peer: '127.0.0.1:5' }).info('Client connected');
    expect(err.text()).toBe('T INFO tlslp.server: [#12 127.0.0.1:5] Client connected\n');
  });

  it('leaves the parent open when closed', async () => {
    const sink = memorySink();
    const parent = createLoggerCore('t', 'INFO', sink);
    await childLogger(parent, {}).close();
    parent.info('still here');
    expect(sink.closes).toBe(0);
    expect(sink.records).toHaveLength(1);
  });
});

describe('relayLogMessage (the primary side of the IPC sink)', () => {
  it("logs a worker's record with the worker as its first field, and ignores other messages", () => {
    const sink = memorySink();
    const log = createLoggerCore('tlslp.server', 'DEBUG', sink);
    const relayed = [
      relayLogMessage(log, 2, { tlslpLog: { level: 'info', msg: 'up', fields: { port: 9 } } }),
      relayLogMessage(log, 2, { tlslpLog: { level: 'error', msg: 'bad', stderr: false } }),
      relayLogMessage(log, 2, { tlslpMetrics: { id: 1 } }),
    ];
    expect(relayed).toEqual([true, true, false]);
    expect(sink.records).toEqual([
      {
        level: 'INFO',
        name: 'tlslp.server',
        msg: 'up',
        fields: { worker: 2, port: 9 },
        stderr: true,
      },
      { level: 'ERROR', name: 'tlslp.server', msg: 'bad', fields: { worker: 2 }, stderr: false },
    ]);
  });
});
