/**
 * A real redis-server for tests (Debian's package; `.ci/run` installs it): each test file
 * starts its own on a free loopback port, with no persistence, and stops it by PID. Where
 * redis-server cannot be had, {@link REDIS_SERVER} is null and the tests that need it skip
 * with the reason shown.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { freePort } from './helpers.js';

function findRedis(): string | null {
  for (const path of ['/usr/bin/redis-server', '/usr/local/bin/redis-server'])
    if (existsSync(path)) return path;
  const which = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  return which.status === 0 ? which.stdout.trim() || null : null;
}

/** The redis-server binary, or null when it is not installed here. */
export const REDIS_SERVER = findRedis();

/** Why the Redis tests are skipped, for `describe.skipIf` titles and a warning line. */
export const NO_REDIS = 'redis-server is not installed (apt-get install redis-server)';

/** A redis-server of the test's own. */
export interface TestRedis {
  port: number;
  /** `redis://127.0.0.1:<port>`. */
  url: string;
  /** Kill it (SIGKILL: a crash; its data is gone, as with no persistence). */
  kill(): Promise<void>;
  /** Start it again on the same port, empty. */
  restart(): Promise<void>;
  /** SIGSTOP: the connections stay open and nothing answers. */
  freeze(): void;
  /** SIGCONT. */
  thaw(): void;
  /** Stop it for good (after the tests). */
  stop(): Promise<void>;
}

async function launch(bin: string, port: number, extra: string[]): Promise<ChildProcess> {
  const child = spawn(
    bin,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...extra],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${out}`)), 10_000);
    child.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${code}: ${out}`));
    });
  });
  child.stdout?.resume();
  return child;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Start a redis-server on a free port (or `onPort`); `extra` arguments come last and win. */
export async function startRedis(extra: string[] = [], onPort?: number): Promise<TestRedis> {
  const bin = REDIS_SERVER;
  if (!bin) throw new Error(NO_REDIS);
  const port = onPort ?? (await freePort());
  let child = await launch(bin, port, extra);
  const kill = async (): Promise<void> => {
    child.kill('SIGCONT');
    child.kill('SIGKILL');
    await exited(child);
  };
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    kill,
    async restart() {
      await kill();
      child = await launch(bin, port, extra);
    },
    freeze: () => void child.kill('SIGSTOP'),
    thaw: () => void child.kill('SIGCONT'),
    stop: kill,
  };
}
