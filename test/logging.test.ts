import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../src/errors/index.js';
import {
  TUTORIAL_TIMESTAMP,
  createLogger,
  createNullLogger,
  defaultLogDir,
  formatTimestamp,
  logFilePath,
  parseLogLevel,
  type LogFormat,
  type LogLevel,
  type LoggerOptions,
} from '../src/logging/index.js';
import { capture, useTempDirs } from './helpers.js';

const tempDir = useTempDirs('tlslp-logging-');

/** Log through a fresh logger into a fresh file, close, and return the file's lines. */
async function logToFile(
  options: Partial<LoggerOptions>,
  body: (log: ReturnType<typeof createLogger>) => void,
): Promise<string[]> {
  const file = join(await tempDir(), 'logs', 'test.log');
  const log = createLogger({ name: 'tlslp.test', file, stderr: null, ...options });
  body(log);
  await log.close();
  return (await readFile(file, 'utf8')).split('\n').slice(0, -1);
}

const LINE =
  /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} (DEBUG|INFO|WARNING|ERROR|CRITICAL) [\w.]+: .*$/;

describe('text format', () => {
  for (const mode of ['append', 'overwrite'] as const) {
    it(`writes "<timestamp> <LEVEL> <logger>: <message>" lines (${mode})`, async () => {
      const before = Date.now();
      const lines = await logToFile({ mode }, (log) => {
        log.info('Server starting');
        log.warning('careful');
      });
      expect(lines).toHaveLength(2);
      for (const l of lines) expect(l).toMatch(LINE);
      expect(lines[0]).toMatch(/ INFO tlslp\.test: Server starting$/);
      expect(lines[1]).toMatch(/ WARNING tlslp\.test: careful$/);
      // The timestamp is the current local time, to the second.
      const stamp = (lines[0] ?? '').split(' ')[0] ?? '';
      const iso = `${stamp.slice(0, 22)}:${stamp.slice(22)}`;
      expect(Date.parse(iso)).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
      expect(Date.parse(iso)).toBeLessThanOrEqual(Date.now());
    });
  }

  it('writes the fixed tutorial timestamp on every line', async () => {
    const lines = await logToFile(
      { mode: 'overwrite', fixedTimestamp: TUTORIAL_TIMESTAMP, name: 'tlslp.server' },
      (log) => {
        log.info('Server starting');
        log.error('boom');
      },
    );
    expect(lines).toEqual([
      '2000-01-01T00:00:00+0100 INFO tlslp.server: Server starting',
      '2000-01-01T00:00:00+0100 ERROR tlslp.server: boom',
    ]);
  });

  it('appends fields as key=value only when given, quoting values that need it', async () => {
    const lines = await logToFile({ fixedTimestamp: TUTORIAL_TIMESTAMP }, (log) => {
      log.info('plain');
      log.info('empty', {});
      log.info('with', {
        port: 443,
        peer: '127.0.0.1',
        reason: 'bad line',
        ok: true,
        n: 2n,
        none: null,
        obj: { a: [1] },
      });
    });
    expect(lines).toEqual([
      `${TUTORIAL_TIMESTAMP} INFO tlslp.test: plain`,
      `${TUTORIAL_TIMESTAMP} INFO tlslp.test: empty`,
      `${TUTORIAL_TIMESTAMP} INFO tlslp.test: with port=443 peer=127.0.0.1 reason="bad line" ok=true n=2 none=null obj={"a":[1]}`,
    ]);
  });

  it('keeps a record on one line by escaping newlines and control characters', async () => {
    const lines = await logToFile({ fixedTimestamp: TUTORIAL_TIMESTAMP }, (log) => {
      log.info('two\nlines\r\nand a \u0007 bell', { v: 'x\ny' });
    });
    expect(lines).toEqual([
      `${TUTORIAL_TIMESTAMP} INFO tlslp.test: two\\nlines\\r\\nand a \\x07 bell v="x\\ny"`,
    ]);
  });
});

describe('levels', () => {
  it('drops records below the level', async () => {
    const lines = await logToFile(
      { level: 'WARNING', fixedTimestamp: TUTORIAL_TIMESTAMP },
      (log) => {
        expect(log.level).toBe('WARNING');
        expect(log.isEnabled('INFO')).toBe(false);
        expect(log.isEnabled('WARNING')).toBe(true);
        expect(log.isEnabled('CRITICAL')).toBe(true);
        log.debug('d');
        log.info('i');
        log.warning('w');
        log.error('e');
      },
    );
    expect(lines.map((l) => l.split(' ')[1])).toEqual(['WARNING', 'ERROR']);
  });

  it('defaults to INFO and writes DEBUG only when asked', async () => {
    const lines = await logToFile({}, (log) => {
      expect(log.level).toBe('INFO');
      log.debug('hidden');
      log.info('shown');
    });
    expect(lines).toHaveLength(1);
    const debug = await logToFile({ level: 'DEBUG' }, (log) => log.debug('shown'));
    expect(debug[0]).toMatch(/ DEBUG tlslp\.test: shown$/);
  });

  it('does not format a disabled record', () => {
    const log = createLogger({ name: 'x', stderr: null });
    const fields = {
      get expensive(): never {
        throw new Error('formatted a disabled record');
      },
    };
    expect(() => log.debug('nope', fields)).not.toThrow();
  });
});

describe('stderr', () => {
  it('gets WARNING and above in the same line format, INFO not', async () => {
    const err = capture();
    const file = join(await tempDir(), 'x.log');
    const log = createLogger({
      name: 'tlslp.client',
      file,
      stderr: err.stream,
      fixedTimestamp: TUTORIAL_TIMESTAMP,
    });
    log.info('quiet');
    log.warning('loud');
    log.error('louder');
    await log.close();
    expect(err.text()).toBe(
      `${TUTORIAL_TIMESTAMP} WARNING tlslp.client: loud\n${TUTORIAL_TIMESTAMP} ERROR tlslp.client: louder\n`,
    );
    expect(await readFile(file, 'utf8')).toContain('INFO tlslp.client: quiet\n');
  });

  it('works without a file, and null stderr means nowhere', async () => {
    const err = capture();
    const log = createLogger({ name: 'n', stderr: err.stream, format: 'json' });
    log.error('only stderr', { code: 7 });
    await log.close();
    expect(JSON.parse(err.text())).toMatchObject({
      level: 'ERROR',
      logger: 'n',
      msg: 'only stderr',
      code: 7,
    });
    const silent = createLogger({ name: 'n', stderr: null });
    expect(() => silent.error('nowhere')).not.toThrow();
    await silent.close();
  });
});

describe('json format', () => {
  it('writes one parseable object per line with the extra fields', async () => {
    const lines = await logToFile({ format: 'json' }, (log) => {
      log.info('Server starting');
      log.warning('multi\nline', {
        peer: '127.0.0.1',
        port: 443,
        msg: 'clash',
        err: new Error('bad'),
      });
    });
    expect(lines).toHaveLength(2);
    const [a, b] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(Object.keys(a ?? {})).toEqual(['time', 'level', 'logger', 'msg']);
    expect(a).toMatchObject({ level: 'INFO', logger: 'tlslp.test', msg: 'Server starting' });
    // RFC 3339, UTC, with milliseconds (the text format keeps the §7 timestamp).
    expect(String(a?.time)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(Math.abs(Date.parse(String(a?.time)) - Date.now())).toBeLessThan(60_000);
    expect(b).toMatchObject({
      level: 'WARNING',
      msg: 'multi\nline',
      peer: '127.0.0.1',
      port: 443,
      'field.msg': 'clash',
      err: { message: 'bad' },
    });
  });

  it('uses the fixed timestamp and survives cycles and bigints', async () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    const lines = await logToFile({ format: 'json', fixedTimestamp: TUTORIAL_TIMESTAMP }, (log) =>
      log.info('x', { cyclic, big: 10n }),
    );
    expect(JSON.parse(lines[0] ?? '')).toEqual({
      time: TUTORIAL_TIMESTAMP,
      level: 'INFO',
      logger: 'tlslp.test',
      msg: 'x',
      cyclic: { a: 1, self: '[Circular]' },
      big: '10',
    });
  });
});

describe('files', () => {
  it('overwrite mode truncates an existing file; append mode keeps it', async () => {
    const dir = await tempDir();
    const file = join(dir, 'server.log');
    await writeFile(file, 'old line\n');
    const over = createLogger({
      name: 't',
      file,
      mode: 'overwrite',
      stderr: null,
      fixedTimestamp: TUTORIAL_TIMESTAMP,
    });
    over.info('new');
    await over.close();
    expect(await readFile(file, 'utf8')).toBe(`${TUTORIAL_TIMESTAMP} INFO t: new\n`);

    await writeFile(file, 'old line\n');
    const app = createLogger({
      name: 't',
      file,
      mode: 'append',
      stderr: null,
      fixedTimestamp: TUTORIAL_TIMESTAMP,
    });
    app.info('new');
    await app.close();
    expect(await readFile(file, 'utf8')).toBe(`old line\n${TUTORIAL_TIMESTAMP} INFO t: new\n`);
  });

  it('keeps the order of many writes and has them all in the file when close() resolves', async () => {
    const lines = await logToFile({ fixedTimestamp: TUTORIAL_TIMESTAMP }, (log) => {
      for (let i = 0; i < 2000; i++) log.info(`line ${i}`);
    });
    expect(lines).toHaveLength(2000);
    lines.forEach((l, i) => expect(l.endsWith(`: line ${i}`)).toBe(true));
  });

  it('creates the folder and makes the file private', async () => {
    const file = join(await tempDir(), 'a', 'b', 'c.log');
    const log = createLogger({ name: 't', file, stderr: null });
    log.info('x');
    await log.close();
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });

  it('close() is idempotent and later records are not written to the file', async () => {
    const file = join(await tempDir(), 'c.log');
    const log = createLogger({ name: 't', file, stderr: null, fixedTimestamp: TUTORIAL_TIMESTAMP });
    log.info('before');
    await Promise.all([log.close(), log.close()]);
    log.info('after');
    await log.close();
    expect(await readFile(file, 'utf8')).toBe(`${TUTORIAL_TIMESTAMP} INFO t: before\n`);
  });

  it('throws ConfigError naming the path when the file cannot be opened', async () => {
    const dir = await tempDir();
    for (const mode of ['append', 'overwrite'] as const) {
      // A folder where the file should be: fails for root too, unlike a permission test.
      expect(() => createLogger({ name: 't', file: dir, mode, stderr: null })).toThrow(ConfigError);
      expect(() => createLogger({ name: 't', file: dir, mode, stderr: null })).toThrow(dir);
    }
    const notADir = join(dir, 'plain');
    await writeFile(notADir, '');
    expect(() => createLogger({ name: 't', file: join(notADir, 'x.log'), stderr: null })).toThrow(
      ConfigError,
    );
  });

  it('rejects an unknown level or format with ConfigError', () => {
    expect(() => createLogger({ name: 't', level: 'LOUD' as LogLevel, stderr: null })).toThrow(
      ConfigError,
    );
    expect(() => createLogger({ name: 't', format: 'xml' as LogFormat, stderr: null })).toThrow(
      ConfigError,
    );
  });

  it('rejects malformed rotation settings with ConfigError', async () => {
    const file = join(await tempDir(), 'r.log');
    expect(() => createLogger({ name: 't', file, maxSize: 'big', stderr: null })).toThrow(
      ConfigError,
    );
    expect(() => createLogger({ name: 't', file, maxFiles: 0, stderr: null })).toThrow(ConfigError);
  });
});

describe('rotation (append mode)', () => {
  it('rotates by size into <file>.1 and <file>.2 and keeps no more backups', async () => {
    const dir = await tempDir();
    const file = join(dir, 'server.log');
    const rotated: string[] = [];
    let third!: () => void;
    const threeRotations = new Promise<void>((resolve) => (third = resolve));
    const log = createLogger({
      name: 't',
      file,
      stderr: null,
      fixedTimestamp: TUTORIAL_TIMESTAMP,
      maxSize: '100B',
      maxFiles: 2,
      onRotated: (backup) => {
        rotated.push(backup);
        if (rotated.length === 3) third();
      },
    });
    // Each line is exactly 50 bytes, so the file reaches 100 B and rotates every two lines.
    const line = (i: number): string =>
      `${TUTORIAL_TIMESTAMP} INFO t: line ${String(i).padStart(11, '0')}`;
    expect(line(0).length + 1).toBe(50);
    for (let i = 0; i < 6; i++) log.info(line(i).slice(`${TUTORIAL_TIMESTAMP} INFO t: `.length));
    await threeRotations;
    for (let i = 6; i < 11; i++) log.info(line(i).slice(`${TUTORIAL_TIMESTAMP} INFO t: `.length));
    await log.close();

    // 11 lines of 50 B with a 100 B limit: 5 rotations, and line 10 alone in the live file.
    expect(rotated).toEqual(Array(5).fill(`${file}.1`));
    expect((await readdir(dir)).sort()).toEqual(['server.log', 'server.log.1', 'server.log.2']);
    expect(await readFile(`${file}.2`, 'utf8')).toBe(`${line(6)}\n${line(7)}\n`);
    expect(await readFile(`${file}.1`, 'utf8')).toBe(`${line(8)}\n${line(9)}\n`);
    expect(await readFile(file, 'utf8')).toBe(`${line(10)}\n`);
  });

  it('rotates an existing file that is already over the limit before writing', async () => {
    const dir = await tempDir();
    const file = join(dir, 'client.log');
    await writeFile(file, 'x'.repeat(200) + '\n');
    const log = createLogger({
      name: 't',
      file,
      stderr: null,
      fixedTimestamp: TUTORIAL_TIMESTAMP,
      maxSize: '100B',
    });
    log.info('fresh');
    await log.close();
    expect(await readFile(`${file}.1`, 'utf8')).toBe('x'.repeat(200) + '\n');
    expect(await readFile(file, 'utf8')).toBe(`${TUTORIAL_TIMESTAMP} INFO t: fresh\n`);
  });
});

describe('paths', () => {
  it('defaultLogDir honours an absolute XDG_STATE_HOME', () => {
    expect(defaultLogDir({ XDG_STATE_HOME: '/srv/state', HOME: '/home/u' })).toBe(
      '/srv/state/tlslp/logs',
    );
    expect(logFilePath('server', { XDG_STATE_HOME: '/srv/state' })).toBe(
      '/srv/state/tlslp/logs/server.log',
    );
    expect(logFilePath('client', { XDG_STATE_HOME: '/srv/state' })).toBe(
      '/srv/state/tlslp/logs/client.log',
    );
  });

  it('falls back to ~/.local/state when XDG_STATE_HOME is unset, empty or relative', () => {
    for (const XDG_STATE_HOME of [undefined, '', 'relative/state']) {
      expect(defaultLogDir({ XDG_STATE_HOME, HOME: '/home/u' })).toBe(
        '/home/u/.local/state/tlslp/logs',
      );
    }
    expect(defaultLogDir({})).toBe(join(homedir(), '.local', 'state', 'tlslp', 'logs'));
  });
});

describe('formatTimestamp', () => {
  it('matches the local time and offset of this process', () => {
    const d = new Date(2024, 4, 1, 14, 3, 9);
    const off = -d.getTimezoneOffset();
    const sign = off < 0 ? '-' : '+';
    const hhmm = `${String(Math.floor(Math.abs(off) / 60)).padStart(2, '0')}${String(Math.abs(off) % 60).padStart(2, '0')}`;
    expect(formatTimestamp(d)).toBe(`2024-05-01T14:03:09${sign}${hhmm}`);
  });

  it('writes +HHMM / -HHMM offsets in other time zones', () => {
    // Node re-reads TZ when it is assigned at run time; vitest runs each file in its own process.
    const saved = process.env.TZ;
    const at = new Date('2000-01-01T00:00:00Z');
    try {
      const cases: Array<[string, string]> = [
        ['UTC', '2000-01-01T00:00:00+0000'],
        ['Europe/Paris', '2000-01-01T01:00:00+0100'],
        ['Asia/Kolkata', '2000-01-01T05:30:00+0530'],
        ['America/St_Johns', '1999-12-31T20:30:00-0330'],
        ['America/New_York', '1999-12-31T19:00:00-0500'],
      ];
      for (const [tz, expected] of cases) {
        process.env.TZ = tz;
        expect(formatTimestamp(at), tz).toBe(expected);
      }
    } finally {
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    }
  });
});

describe('parseLogLevel', () => {
  it('accepts the Python names in any case, and WARN/FATAL aliases', () => {
    expect(parseLogLevel('DEBUG')).toBe('DEBUG');
    expect(parseLogLevel(' info ')).toBe('INFO');
    expect(parseLogLevel('Warning')).toBe('WARNING');
    expect(parseLogLevel('warn')).toBe('WARNING');
    expect(parseLogLevel('error')).toBe('ERROR');
    expect(parseLogLevel('critical')).toBe('CRITICAL');
    expect(parseLogLevel('FATAL')).toBe('CRITICAL');
  });

  it('throws ConfigError on an unknown level', () => {
    expect(() => parseLogLevel('verbose')).toThrow(ConfigError);
    expect(() => parseLogLevel('verbose')).toThrow(/DEBUG, INFO, WARNING, ERROR, CRITICAL/);
    expect(() => parseLogLevel('toString')).toThrow(ConfigError);
  });
});

describe('createNullLogger', () => {
  it('discards everything', async () => {
    const log = createNullLogger('lib');
    expect(log.name).toBe('lib');
    expect(log.isEnabled('CRITICAL')).toBe(false);
    log.debug('x');
    log.info('x');
    log.warning('x');
    log.error('x');
    await expect(log.close()).resolves.toBeUndefined();
  });
});

describe('context fields', () => {
  const ctx = {
    session: 7,
    peer: '127.0.0.1:5000',
    event: 'session-end',
    outcome: 'done',
    n_bits: 20,
  };

  it('are keys of a JSON line', async () => {
    const [line] = await logToFile({ format: 'json', fixedTimestamp: TUTORIAL_TIMESTAMP }, (log) =>
      log.info('Session ended', ctx),
    );
    expect(JSON.parse(line as string)).toEqual({
      time: TUTORIAL_TIMESTAMP,
      level: 'INFO',
      logger: 'tlslp.test',
      msg: 'Session ended',
      ...ctx,
    });
  });

  it('are the [#session peer] prefix of a text line, the rest left to the message', async () => {
    const lines = await logToFile({ fixedTimestamp: TUTORIAL_TIMESTAMP }, (log) => {
      log.info('Session ended', ctx);
      log.info('alone', { peer: '10.0.0.1' });
    });
    expect(lines).toEqual([
      `${TUTORIAL_TIMESTAMP} INFO tlslp.test: [#7 127.0.0.1:5000] Session ended`,
      `${TUTORIAL_TIMESTAMP} INFO tlslp.test: alone peer=10.0.0.1`,
    ]);
  });

  it("a cluster worker's id: the first key of a JSON line, a [w1] prefix of a text line", async () => {
    const fields = { worker: 3, ...ctx };
    const [json] = await logToFile({ format: 'json', fixedTimestamp: TUTORIAL_TIMESTAMP }, (log) =>
      log.info('Session ended', fields),
    );
    const record = JSON.parse(json as string) as Record<string, unknown>;
    expect(record).toMatchObject({ msg: 'Session ended', worker: 3, session: 7 });
    expect(Object.keys(record).slice(3, 5)).toEqual(['msg', 'worker']);
    const text = await logToFile({ fixedTimestamp: TUTORIAL_TIMESTAMP }, (log) => {
      log.info('Session ended', fields);
      log.info('Listening', { worker: 3 });
    });
    expect(text).toEqual([
      `${TUTORIAL_TIMESTAMP} INFO tlslp.test: [w3] [#7 127.0.0.1:5000] Session ended`,
      `${TUTORIAL_TIMESTAMP} INFO tlslp.test: [w3] Listening`,
    ]);
  });
});

describe('switching formats', () => {
  it('starts a new file instead of mixing text and JSON lines', async () => {
    const dir = await tempDir();
    const file = join(dir, 'server.log');
    const text = createLogger({ name: 't', file, stderr: null });
    text.info('a text line');
    await text.close();
    const json = createLogger({ name: 't', file, stderr: null, format: 'json' });
    json.info('a json line');
    await json.close();
    const now = await readFile(file, 'utf8');
    expect(
      now
        .trim()
        .split('\n')
        .every((l) => l.startsWith('{')),
    ).toBe(true);
    expect(await readFile(`${file}.1`, 'utf8')).toMatch(/ INFO t: a text line\n$/);
    // The same format again appends.
    const again = createLogger({ name: 't', file, stderr: null, format: 'json' });
    again.info('another');
    await again.close();
    expect((await readFile(file, 'utf8')).trim().split('\n')).toHaveLength(2);
  });

  it('stderrLevel sends every record at or above it to stderr', async () => {
    const err = new PassThrough();
    let seen = '';
    err.on('data', (d: Buffer) => (seen += d.toString()));
    const log = createLogger({
      name: 't',
      file: null,
      stderr: err,
      level: 'DEBUG',
      stderrLevel: 'DEBUG',
    });
    log.debug('detail');
    log.info('step');
    await log.close();
    expect(seen).toMatch(/DEBUG t: detail\n.* INFO t: step\n$/);
  });
});
