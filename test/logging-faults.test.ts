/**
 * The file logger under faults: a full disk, a deleted folder, a failed rotation, and
 * logrotate moving the file away (reopen()). Real files in a temp folder; waits are bounded
 * polls, never timing assertions.
 */
import { existsSync, renameSync } from 'node:fs';
import { mkdir, readFile, rm, symlink, truncate, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../src/errors/index.js';
import { TUTORIAL_TIMESTAMP, createLogger, type LoggerOptions } from '../src/logging/index.js';
import { capture, until, useTempDirs } from './helpers.js';

const tempDir = useTempDirs('tlslp-logfaults-');

async function fileLines(path: string): Promise<string[]> {
  try {
    return (await readFile(path, 'utf8')).split('\n').slice(0, -1);
  } catch {
    return [];
  }
}

const T = TUTORIAL_TIMESTAMP;
const FAST: Pick<LoggerOptions, 'retryMs'> = { retryMs: { min: 10, max: 40 } };
const STOPPED = 'ERROR tlslp.logging: log file failed, lines are dropped until it works again: ';
const count = (text: string, part: string): number => text.split(part).length - 1;
const resumed = (file: string, dropped: number, level = 'WARNING'): string =>
  `${T} ${level} tlslp.logging: log file works again: ${file} (${dropped} line${dropped === 1 ? '' : 's'} dropped)`;

describe('a full disk', () => {
  for (const mode of ['append', 'overwrite'] as const) {
    it.skipIf(!existsSync('/dev/full'))(
      `drops and counts lines, reports once, and resumes once the disk frees (${mode})`,
      async () => {
        const dir = await tempDir();
        const file = join(dir, 'server.log');
        // Writes to /dev/full fail with ENOSPC, as on a full disk; the open succeeds.
        await symlink('/dev/full', file);
        const err = capture();
        const log = createLogger({
          name: 't',
          file,
          mode,
          stderr: err.stream,
          fixedTimestamp: T,
          ...FAST,
        });
        log.info('lost 1');
        log.info('lost 2');
        await until(() => err.text().includes(STOPPED));
        // Retries against the still-full disk fail quietly: still one report.
        await sleep(150);
        log.info('lost 3');
        expect(count(err.text(), STOPPED)).toBe(1);
        expect(err.text()).toContain(`${STOPPED}${file}: ENOSPC`);

        await unlink(file); // the disk frees: the next retry creates a real file
        await until(() => err.text().includes('log file works again'));
        log.info('after 1');
        log.warning('after 2');
        await log.close();

        const text = err.text();
        expect(count(text, STOPPED)).toBe(1);
        expect(count(text, 'log file works again')).toBe(1);
        expect(text).toContain(`${resumed(file, 3)}\n`);
        expect(await fileLines(file)).toEqual([
          resumed(file, 3),
          `${T} INFO t: after 1`,
          `${T} WARNING t: after 2`,
        ]);
      },
    );
  }

  it.skipIf(!existsSync('/dev/full'))(
    'writes the "works again" line in the file\'s format (JSON), into a real file put in place',
    async () => {
      const dir = await tempDir();
      const file = join(dir, 'server.log');
      await symlink('/dev/full', file);
      const err = capture();
      const log = createLogger({ name: 't', file, format: 'json', stderr: err.stream, ...FAST });
      log.info('lost');
      await until(() => err.text().includes('log file failed'));
      // Replaced in one step (rename), so a retry never sees the path half done.
      await writeFile(`${file}.new`, '', { mode: 0o600 });
      renameSync(`${file}.new`, file);
      await until(() => err.text().includes('log file works again'));
      log.info('back');
      await log.close();
      const records = (await fileLines(file)).map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(records).toMatchObject([
        {
          level: 'WARNING',
          logger: 'tlslp.logging',
          msg: `log file works again: ${file} (1 line dropped)`,
        },
        { level: 'INFO', logger: 't', msg: 'back' },
      ]);
    },
  );

  it.skipIf(!existsSync('/dev/full'))('close() during a fault resolves', async () => {
    const dir = await tempDir();
    const file = join(dir, 'server.log');
    await symlink('/dev/full', file);
    const err = capture();
    const log = createLogger({ name: 't', file, stderr: err.stream, ...FAST });
    log.info('lost');
    await until(() => err.text().includes('log file failed'));
    await log.close();
    log.info('after close');
    await log.reopen?.();
    expect(err.text()).not.toContain('log file works again');
  });
});

describe('a deleted log folder', () => {
  for (const mode of ['append', 'overwrite'] as const) {
    it(`is recreated and logging goes on (${mode})`, async () => {
      const root = await tempDir();
      const dir = join(root, 'state', 'logs');
      const file = join(dir, 'server.log');
      const err = capture();
      const log = createLogger({
        name: 't',
        file,
        mode,
        stderr: err.stream,
        fixedTimestamp: T,
        checkMs: 0, // check before every write, so the test needs no waiting
        ...FAST,
      });
      log.info('before');
      await until(async () => (await fileLines(file)).length === 1);
      await rm(join(root, 'state'), { recursive: true, force: true });
      log.info('after 1');
      log.info('after 2');
      await log.close();

      // 'before' went down with the folder: it is counted as lost.
      expect(await fileLines(file)).toEqual([
        resumed(file, 1),
        `${T} INFO t: after 1`,
        `${T} INFO t: after 2`,
      ]);
      const text = err.text();
      expect(count(text, STOPPED)).toBe(1);
      expect(text).toContain(`${STOPPED}${file}: the file was deleted\n`);
      expect(count(text, 'log file works again')).toBe(1);
    });
  }

  it('is noticed within checkMs even when lines keep succeeding into the deleted file', async () => {
    const root = await tempDir();
    const file = join(root, 'logs', 'client.log');
    const err = capture();
    const log = createLogger({ name: 't', file, stderr: err.stream, checkMs: 20, ...FAST });
    log.info('first');
    await until(async () => (await fileLines(file)).length === 1);
    await rm(join(root, 'logs'), { recursive: true, force: true });
    // Keep logging until a check runs; each line before it is written into the unlinked file.
    let i = 0;
    await until(async () => {
      log.info(`line ${i++}`);
      await sleep(5);
      return existsSync(file);
    });
    log.info('last');
    await log.close();
    const lines = await fileLines(file);
    expect(lines[0]).toMatch(
      / WARNING tlslp\.logging: log file works again: .* \(\d+ lines? dropped\)$/,
    );
    expect(lines.at(-1)).toMatch(/ INFO t: last$/);
    expect(count(err.text(), STOPPED)).toBe(1);
  });
});

describe('reopen()', () => {
  for (const mode of ['append', 'overwrite'] as const) {
    it(`after logrotate moved the file, writes new lines to a new file, none lost (${mode})`, async () => {
      const dir = await tempDir();
      const file = join(dir, 'server.log');
      const err = capture();
      const log = createLogger({
        name: 't',
        file,
        mode,
        stderr: err.stream,
        fixedTimestamp: T,
        checkMs: 60_000, // only reopen() moves to the new file here
      });
      const line = (i: number): string => `${T} INFO t: line ${i}`;
      for (let i = 0; i < 5; i++) log.info(`line ${i}`);
      // As logrotate does, while lines may still be on their way to the file.
      renameSync(file, `${file}.1`);
      for (let i = 5; i < 10; i++) log.info(`line ${i}`);
      expect(log.reopen).toBeTypeOf('function');
      const reopened = log.reopen?.();
      for (let i = 10; i < 15; i++) log.info(`line ${i}`); // logged while reopening
      await reopened;
      for (let i = 15; i < 20; i++) log.info(`line ${i}`);
      await log.close();

      const range = (a: number, b: number): string[] =>
        Array.from({ length: b - a }, (_, k) => line(a + k));
      // Lines before reopen() were logged to the file that is now server.log.1.
      expect(await fileLines(`${file}.1`)).toEqual(range(0, 10));
      expect(await fileLines(file)).toEqual(range(10, 20));
      expect(err.text()).toBe('');
    });
  }

  it('recreates a deleted folder', async () => {
    const root = await tempDir();
    const file = join(root, 'logs', 'server.log');
    const err = capture();
    const log = createLogger({ name: 't', file, stderr: err.stream, checkMs: 60_000, ...FAST });
    log.info('old');
    await until(async () => (await fileLines(file)).length === 1);
    await rm(join(root, 'logs'), { recursive: true, force: true });
    await log.reopen?.();
    log.info('new');
    await log.close();
    const lines = await fileLines(file);
    expect(lines.at(-1)).toMatch(/ INFO t: new$/);
    // The line that went down with the folder is reported, not silently lost.
    expect(lines[0]).toMatch(/log file works again: .* \(1 line dropped\)$/);
    expect(count(err.text(), STOPPED)).toBe(1);
  });

  it('is a no-op without a file and after close()', async () => {
    const none = createLogger({ name: 't', stderr: null });
    await expect(none.reopen?.()).resolves.toBeUndefined();
    const file = join(await tempDir(), 'x.log');
    const log = createLogger({ name: 't', file, stderr: null, fixedTimestamp: T });
    log.info('a');
    await log.close();
    await log.reopen?.();
    expect(await fileLines(file)).toEqual([`${T} INFO t: a`]);
  });
});

describe('a file moved away without reopen()', () => {
  it('is followed: the next check opens the path again', async () => {
    const dir = await tempDir();
    const file = join(dir, 'server.log');
    const err = capture();
    const log = createLogger({
      name: 't',
      file,
      stderr: err.stream,
      fixedTimestamp: T,
      checkMs: 0,
    });
    log.info('one');
    await until(async () => (await fileLines(file)).length === 1);
    renameSync(file, `${file}.1`);
    log.info('two');
    await log.close();
    expect(await fileLines(`${file}.1`)).toEqual([`${T} INFO t: one`]);
    expect(await fileLines(file)).toEqual([`${T} INFO t: two`]);
    expect(err.text()).toBe('');
  });
});

describe('a file truncated in place (logrotate copytruncate)', () => {
  it('rotates by its real size, not by what was written before', async () => {
    const dir = await tempDir();
    const file = join(dir, 'server.log');
    const log = createLogger({
      name: 't',
      file,
      stderr: null,
      fixedTimestamp: T,
      maxSize: '1K',
      checkMs: 0,
    });
    for (let i = 0; i < 15; i++) log.info(`before ${i}`);
    await until(async () => (await fileLines(file)).length === 15);
    await truncate(file, 0);
    for (let i = 0; i < 10; i++) log.info(`after ${i}`);
    await log.close();
    expect(existsSync(`${file}.1`)).toBe(false);
    expect(await fileLines(file)).toEqual(
      Array.from({ length: 10 }, (_, i) => `${T} INFO t: after ${i}`),
    );
  });
});

describe('a failed rotation', () => {
  it('stops file logging once, and rotates and resumes when the obstacle is gone', async () => {
    const dir = await tempDir();
    const file = join(dir, 'server.log');
    // A non-empty folder where the backup should go: the rename fails, even for root.
    await mkdir(`${file}.1`);
    await writeFile(join(`${file}.1`, 'blocker'), '');
    const err = capture();
    const log = createLogger({
      name: 't',
      file,
      stderr: err.stream,
      fixedTimestamp: T,
      maxSize: '1K',
      maxFiles: 1,
      ...FAST,
    });
    const line = (i: number): string => `${T} INFO t: line ${String(i).padStart(2, '0')}`;
    for (let i = 0; i < 30; i++) log.info(line(i).slice(`${T} INFO t: `.length));
    await until(() => err.text().includes(STOPPED));
    expect(err.text()).toContain(`${STOPPED}${file}: log rotation failed: `);
    await rm(`${file}.1`, { recursive: true, force: true });
    await until(() => err.text().includes('log file works again'));
    log.info('after');
    await log.close();

    const backup = await fileLines(`${file}.1`);
    // The backup holds the lines up to the size limit, in order; the rest were dropped.
    expect(backup.length).toBeGreaterThan(0);
    expect(backup).toEqual(Array.from({ length: backup.length }, (_, i) => line(i)));
    expect(await fileLines(file)).toEqual([
      resumed(file, 30 - backup.length),
      `${T} INFO t: after`,
    ]);
    expect(count(err.text(), STOPPED)).toBe(1);
    expect(count(err.text(), 'log file works again')).toBe(1);
  });
});

describe('options', () => {
  it('rejects unusable retry delays and check interval with ConfigError', async () => {
    const file = join(await tempDir(), 'r.log');
    const bad: Array<Partial<LoggerOptions>> = [
      { retryMs: { min: 0, max: 10 } },
      { retryMs: { min: 20, max: 10 } },
      { retryMs: { min: 1, max: Number.POSITIVE_INFINITY } },
      { checkMs: -1 },
    ];
    for (const extra of bad)
      expect(() => createLogger({ name: 't', file, stderr: null, ...extra })).toThrow(ConfigError);
  });
});
