/**
 * `tlslp-server` as a process of its own (`node dist/cli/server.js`, never npx, so a signal
 * reaches it): started on a free port with metrics, its JSON log in a file, stopped by PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { until } from './helpers.js';

/** A running server process. */
export interface ServerProcess {
  name: string;
  child: ChildProcess;
  port: number;
  metricsPort: number;
  /** The `--health-port` listener's port, when one was asked for (else 0). */
  healthPort: number;
  /** Its log file (JSON lines). */
  log: string;
  /** Resolves with the exit code once it has exited. */
  exited: Promise<number | null>;
}

/**
 * Start `node dist/cli/server.js` on 127.0.0.1 with a free port and a metrics port, the
 * certificate files of `files`, and `args`; resolves once it listens.
 */
export async function startServerProcess(
  name: string,
  dir: string,
  files: Record<string, string>,
  args: string[],
  env: Record<string, string> = {},
): Promise<ServerProcess> {
  const log = join(dir, `${name}.log`);
  const child = spawn(
    process.execPath,
    [
      'dist/cli/server.js',
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--metrics-port',
      '0',
      '--server-cert',
      files.serverCert as string,
      '--server-key',
      files.serverKey as string,
      '--ca-cert',
      files.caCert as string,
      '--log-format',
      'json',
      '--log-file',
      log,
      '--quiet',
      ...args,
    ],
    { env: { ...process.env, XDG_STATE_HOME: dir, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise<number | null>((resolve) =>
    child.on('close', (code) => resolve(code)),
  );
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const health = args.includes('--health-port');
  await until(
    () =>
      (/metrics on http:\/\/127\.0\.0\.1:\d+/.test(stdout) &&
        (!health || /health checks on http:\/\/127\.0\.0\.1:\d+/.test(stdout))) ||
      child.exitCode !== null,
    `${name} to listen`,
    20_000,
  );
  if (child.exitCode !== null) throw new Error(`${name} exited ${child.exitCode}: ${stderr}`);
  const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(stdout)?.[1]);
  const metricsPort = Number(/metrics on http:\/\/127\.0\.0\.1:(\d+)/.exec(stdout)?.[1]);
  const healthPort = Number(/health checks on http:\/\/127\.0\.0\.1:(\d+)/.exec(stdout)?.[1] ?? 0);
  return { name, child, port, metricsPort, healthPort, log, exited };
}

/** The records of a JSON log file (none yet: empty). */
export async function jsonLog(path: string): Promise<Array<Record<string, unknown>>> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** A server's `/metrics` text. */
export async function scrape(s: ServerProcess): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${s.metricsPort}/metrics`, {
    signal: AbortSignal.timeout(5000),
  });
  return res.text();
}

/**
 * The sum of the samples of `name` in a metrics text whose labels include `labels`
 * (e.g. `{ reason: "handshake-failures" }`); 0 when there is none.
 */
export function metric(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const set = m[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => set.includes(`${k}="${v}"`)))
      total += Number(m[3]);
  }
  return total;
}
