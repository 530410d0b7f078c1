// @ts-check
// A private redis-server for the benches that measure the fleet state (bench/server.mjs
// --state, bench/lb.mjs --fleet): a free loopback port, no persistence, stopped by PID.
// The small equivalent of test/redis.ts, which the .mjs benches cannot import.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import process from 'node:process';
import { clearTimeout, setTimeout } from 'node:timers';
import { maskStateUrl } from 'tlslp/server';

/** A free TCP port on 127.0.0.1 (closed again; the caller binds it next). */
export async function freePort() {
  const s = net.createServer();
  await new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve(undefined)));
  const { port } = /** @type {net.AddressInfo} */ (s.address());
  await new Promise((resolve) => s.close(resolve));
  return port;
}

/** The redis-server binary, or null when it is not installed here. */
export function findRedisServer() {
  for (const path of ['/usr/bin/redis-server', '/usr/local/bin/redis-server'])
    if (existsSync(path)) return path;
  const which = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  return which.status === 0 ? which.stdout.trim() || null : null;
}

/**
 * Make a bare `--state` (last, or before another flag) in process.argv read `--state auto`,
 * before the flags are parsed.
 */
export function bareStateMeansAuto() {
  const i = process.argv.indexOf('--state');
  const next = process.argv[i + 1];
  if (i > 1 && (next === undefined || next.startsWith('-'))) process.argv.splice(i + 1, 0, 'auto');
}

/** `url` with the password of its user part (if any) shown as `***` (the library's mask). */
export function maskUrl(url) {
  return maskStateUrl(url);
}

/**
 * Start a redis-server on a free port of 127.0.0.1 and resolve once it accepts connections
 * (10 s at most). `stop()` kills it by PID and waits for its exit; it is also killed when
 * this process exits.
 * @returns {Promise<{ url: string, port: number, pid: number | undefined, stop(): Promise<void> }>}
 */
export async function startRedis() {
  const bin = findRedisServer();
  if (!bin) throw new Error('redis-server is not installed (apt-get install redis-server)');
  const port = await freePort();
  const child = spawn(
    bin,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise((resolve) => child.once('exit', () => resolve(undefined)));
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  process.on('exit', kill);
  let out = '';
  try {
    await new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`redis-server did not start in 10 s: ${out.slice(-500)}`)),
        10_000,
      );
      child.stdout.on('data', (b) => {
        out += b.toString();
        if (out.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve(undefined);
        }
      });
      child.stderr.on('data', (b) => (out += b.toString()));
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited with ${code}: ${out.slice(-500)}`));
      });
    });
  } catch (err) {
    kill();
    throw err;
  }
  child.stdout.resume();
  child.stderr.resume();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pid: child.pid,
    async stop() {
      kill();
      await exited;
      process.off('exit', kill);
    },
  };
}

/**
 * What the store at `url` has run of the Lua scripts (EVALSHA and EVAL, which is how the
 * fleet state calls it): calls and the microseconds they took on the store, from
 * `INFO commandstats`; null when the store cannot be asked (2 s at most).
 * @returns {Promise<{ calls: number, usec: number } | null>}
 */
export async function scriptCalls(url) {
  const { createClient } = await import('@redis/client');
  const client = createClient({ url, socket: { connectTimeout: 2000, reconnectStrategy: false } });
  client.on('error', () => {});
  try {
    await client.connect();
    const info = String(await client.sendCommand(['INFO', 'commandstats']));
    let calls = 0;
    let usec = 0;
    for (const m of info.matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+),usec=(\d+)/gm)) {
      calls += Number(m[1]);
      usec += Number(m[2]);
    }
    return { calls, usec };
  } catch {
    return null;
  } finally {
    try {
      client.destroy();
    } catch {
      // never connected
    }
  }
}
