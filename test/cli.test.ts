/**
 * The bins: the servers of the session tests, every bin's --version and flag error, and the
 * tutorial script run as a user runs them (built dist/, separate processes); the clients, the
 * other mistakes, certs, demo and work run the bins' mains in this process (cli-run.ts), with
 * the same arguments, working folder and XDG_STATE_HOME, since their output is the subject.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile, mkdir, cp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientMain } from '../src/cli/client.js';
import { serverMain } from '../src/cli/server.js';
import { tlslpMain } from '../src/cli/tlslp.js';
import { workMain } from '../src/cli/work.js';
import { verifyWork } from '../src/protocol/hash.js';
import { closeSolverPool } from '../src/solver/index.js';
import { runCli } from './cli-run.js';
import { copySharedCerts, startServer, testCerts } from './helpers.js';

const root = resolve(import.meta.dirname, '..');
const bin = (name: string): string => join(root, 'dist', 'cli', `${name}.js`);
let work: string;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

type Bin = 'server' | 'client' | 'tlslp' | 'work';

/** The bin `name` (dist/cli/<name>.js) run with `args` in the work folder, a process. */
function runProcess(name: Bin, args: string[]): Promise<Run> {
  return new Promise((resolveRun) => {
    const child = spawn(process.execPath, [bin(name), ...args], {
      cwd: work,
      env: { ...process.env, XDG_STATE_HOME: join(work, 'state'), NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolveRun({ code, stdout, stderr });
    });
  });
}

const MAINS: Record<Bin, [string, (argv: string[]) => Promise<number>]> = {
  server: ['tlslp-server', serverMain],
  client: ['tlslp-client', clientMain],
  tlslp: ['tlslp', tlslpMain],
  work: ['tlslp-work', (argv) => workMain(argv)],
};

/** The main of the bin `name` run with `args` in the work folder, in this process. */
function run(name: Bin, args: string[]): Promise<Run> {
  const [prog, main] = MAINS[name];
  return runCli(prog, main, args, { cwd: work, env: { XDG_STATE_HOME: join(work, 'state') } });
}

/** Start a server bin on a free port; resolves once it listens. */
async function startServerBin(
  args: string[],
): Promise<{ port: number; exited: Promise<Run>; stop: () => Promise<Run> }> {
  const child = spawn(
    process.execPath,
    [bin('server'), '--host', '127.0.0.1', '--port', '0', ...args],
    {
      cwd: work,
      env: { ...process.env, XDG_STATE_HOME: join(work, 'state') },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const port = await new Promise<number>((resolvePort, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      const m = /listening on [^:]+:(\d+)/.exec(stdout);
      if (m) resolvePort(Number(m[1]));
    });
    child.on('close', () => reject(new Error(`server exited: ${stderr}`)));
  });
  const exited = new Promise<Run>((r) => child.on('close', (code) => r({ code, stdout, stderr })));
  return {
    port,
    /** Resolves when the server exits by itself (tutorial mode). */
    exited,
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

/** One clear line on stderr, no stack trace. */
function expectOneLineError(r: Run, pattern: RegExp): void {
  const lines = r.stderr.trim().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'tlslp-cli-'));
  // What `tlslp certs` writes where the bins look by default (the run's shared set).
  await copySharedCerts(join(work, 'certificates'));
});

afterAll(async () => {
  await closeSolverPool();
  await rm(work, { recursive: true, force: true });
});

describe('help and version', () => {
  it('tlslp-server --help lists every flag with defaults', async () => {
    const r = await run('server', ['--help']);
    expect(r.code).toBe(0);
    for (const flag of [
      '--host',
      '--port',
      '--server-cert',
      '--server-key',
      '--ca-cert',
      '--work-timeout',
      '--other-timeout',
      '--insecure',
      '--token',
      '--random-string',
      '--n_bits',
      '--n-bits',
      '--log-level',
      '--tutorial',
      '--log-format',
    ]) {
      expect(r.stdout).toContain(flag);
    }
    expect(r.stdout).toContain('(default: 1234)');
  });

  it('tlslp-client --help lists every flag', async () => {
    const r = await run('client', ['--help']);
    expect(r.code).toBe(0);
    for (const flag of [
      '--host',
      '--ports',
      '--client-cert',
      '--private-key',
      '--ca-cert',
      '--work-binary',
      '--work-timeout',
      '--other-timeout',
      '--insecure',
      '--log-level',
      '--tutorial',
      '--profile',
      '--kernel',
      '--threads',
      '--quiet',
      '--json',
    ]) {
      expect(r.stdout).toContain(flag);
    }
    expect(r.stdout).toContain('3115,7883,8235,38154,1234,55532');
  });

  it('every bin has --version', async () => {
    const { version } = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as {
      version: string;
    };
    for (const b of ['server', 'client', 'tlslp', 'work'] as const) {
      const r = await runProcess(b, ['--version']);
      expect(r.code).toBe(0);
      expect(r.stdout.trim()).toBe(version);
    }
  });
});

describe('user mistakes: one line naming the fix, non-zero exit', () => {
  it('bad port list', async () => {
    const r = await run('client', ['--ports', '12,abc']);
    expect(r.code).toBe(2);
    expectOneLineError(r, /--ports/);
  });

  it('missing certificate file', async () => {
    const r = await run('client', ['--ca-cert', 'nope.pem']);
    expect(r.code).toBe(2);
    expectOneLineError(r, /--ca-cert nope\.pem: not found; .*tlslp certs/);
    const s = await run('server', ['--server-key', 'missing-key.pem']);
    expect(s.code).toBe(2);
    expectOneLineError(s, /--server-key missing-key\.pem: not found/);
  });

  it('--insecure off loopback is refused on both sides', async () => {
    const c = await run('client', ['--insecure', '--host', 'example.com']);
    expect(c.code).toBe(2);
    expectOneLineError(c, /--insecure is only allowed with localhost/);
    const s = await run('server', ['--insecure', '--host', '0.0.0.0']);
    expect(s.code).toBe(2);
    expectOneLineError(s, /--insecure is only allowed with localhost/);
  });

  it('bad n_bits', async () => {
    const r = await run('server', ['--n_bits', '65']);
    expect(r.code).toBe(2);
    expectOneLineError(r, /n_bits must be between 0 and 64/);
  });

  it('no server listening: exit 1 with the reason', async () => {
    const r = await run('client', ['--ports', '1', '--host', '127.0.0.1']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n').at(-1)).toMatch(
      /^tlslp-client: error: could not connect to 127\.0\.0\.1 on port 1: connection refused/,
    );
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('a host name that is not in the server certificate', async () => {
    // The client's refusal is the subject: the server runs in this process.
    const srv = await startServer(await testCerts(), { nBits: 4 });
    try {
      const r = await run('client', ['--host', '127.0.0.2', '--ports', String(srv.port), '--json']);
      // 127.0.0.2 is loopback but not in the certificate's SAN: refused (or not reachable).
      expect(r.code).toBe(1);
      const summary = JSON.parse(r.stdout) as { ok: boolean; error: string };
      expect(summary.ok).toBe(false);
      expect(summary.error).toMatch(/does not match the host name|refused/);
    } finally {
      await srv.server.close();
    }
  });
});

describe('sessions through the bins', () => {
  // Several bin processes started one after the other: near the 20 s default on a busy machine.
  it(
    'server and client bins complete a session; --json prints one summary object',
    { timeout: 60_000 },
    async () => {
      const srv = await startServerBin(['--n_bits', '8', '--random-string', 'LGTk']);
      try {
        // Normal mode draws FAIL ~90% of the time: run until one session ends each way.
        const outcomes = new Set<string>();
        for (let i = 0; i < 100 && outcomes.size < 2; i++) {
          const r = await run('client', [
            '--host',
            '127.0.0.1',
            '--ports',
            String(srv.port),
            '--json',
          ]);
          const summary = JSON.parse(r.stdout.trim()) as {
            ok: boolean;
            serverFail: string | null;
            suffix: string | null;
            nBits: number | null;
          };
          if (summary.ok) {
            expect(r.code).toBe(0);
            expect(summary.nBits).toBe(8);
            outcomes.add('done');
          } else {
            expect(r.code).toBe(1);
            expect(summary.serverFail).toBe('LGTk');
            // The summary still says how far the session got.
            expect(summary.nBits).toBe(8);
            // The drawn FAIL is reported as what it is, not as an error.
            expect(r.stderr.trim()).toBe(
              "tlslp-client: the server ended the session with the protocol's simulated FAIL (LGTk); normal mode draws it in about 9 sessions in 10, and the exit status is 1, as documented (a server started with --no-simulate-failures never draws it)",
            );
            outcomes.add('fail');
          }
        }
        expect(outcomes).toEqual(new Set(['done', 'fail']));
        // The drawn FAIL is INFO in the client log, not an ERROR.
        const clientLog = await readFile(
          join(work, 'state', 'tlslp', 'logs', 'client.log'),
          'utf8',
        );
        expect(clientLog).toMatch(
          / INFO tlslp\.client: Session ended by the server's simulated FAIL \(LGTk\)$/m,
        );
        expect(clientLog).not.toMatch(/ERROR tlslp\.client: server sent FAIL/);
      } finally {
        const stopped = await srv.stop();
        expect(stopped.code).toBe(0);
      }
      const log = await readFile(join(work, 'state', 'tlslp', 'logs', 'server.log'), 'utf8');
      expect(log).toMatch(
        /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} INFO tlslp\.server: Server starting$/m,
      );
      expect(log).toMatch(/SIGTERM received/);
    },
  );

  it('closed ports before the one that answers are one dim line, not warnings', async () => {
    const srv = await startServerBin(['--n_bits', '4', '--tutorial']);
    const r = await run('client', ['--host', '127.0.0.1', '--ports', `1,2,${srv.port}`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('… no server on ports 1, 2 (tried in order)\n');
    expect(r.stdout).not.toMatch(/connecting to/);
    expect(r.stderr).toBe('');
    expect((await srv.exited).code).toBe(0);
  });

  it('--log-file: a path, - for stderr only, none for no file; client DEBUG logs every line', async () => {
    const srvLog = join(work, 'custom', 'srv.jsonl');
    const srv = await startServerBin([
      '--n_bits',
      '4',
      '--tutorial',
      '--log-format',
      'json',
      '--log-file',
      srvLog,
    ]);
    const r = await run('client', [
      '--host',
      '127.0.0.1',
      '--ports',
      String(srv.port),
      '--quiet',
      '--log-level',
      'DEBUG',
      '--log-file',
      '-',
    ]);
    expect(r.code).toBe(0);
    // Every line sent and received, at DEBUG, on stderr; the WORK token cut to its half.
    expect(r.stderr).toMatch(/ DEBUG tlslp\.client: Sent: HELLOBACK$/m);
    expect(r.stderr).toMatch(/ DEBUG tlslp\.client: Received: WORK [A-Za-z0-9_-]{32}… 4$/m);
    expect(r.stderr).toMatch(/ DEBUG tlslp\.client: Sent: [0-9a-f]{64} Jane Doe$/m);
    expect((await srv.exited).code).toBe(0);
    const lines = (await readFile(srvLog, 'utf8')).trim().split('\n');
    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records.some((rec) => rec.event === 'work-sent' && rec.n_bits === 4)).toBe(true);

    const srv2 = await startServerBin(['--n_bits', '4', '--tutorial', '--log-file', 'none']);
    const before = await readFile(join(work, 'state', 'tlslp', 'logs', 'server.log'), 'utf8');
    const r2 = await run('client', [
      '--host',
      '127.0.0.1',
      '--ports',
      String(srv2.port),
      '--quiet',
    ]);
    expect(r2.code).toBe(0);
    expect((await srv2.exited).code).toBe(0);
    expect(await readFile(join(work, 'state', 'tlslp', 'logs', 'server.log'), 'utf8')).toBe(before);
  });

  it('--quiet prints nothing on success; the transcript otherwise', async () => {
    const srv = await startServerBin(['--n_bits', '4', '--tutorial']);
    const r = await run('client', ['--host', '127.0.0.1', '--ports', String(srv.port), '--quiet']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    // Tutorial mode: the server exits by itself after its one session.
    expect((await srv.exited).code).toBe(0);
  });

  it('uses --profile values and the transcript shows each step', async () => {
    await writeFile(join(work, 'profile.json'), JSON.stringify({ FULL_NAME: 'John Roe' }));
    const srv = await startServerBin(['--n_bits', '4', '--tutorial']);
    const r = await run('client', [
      '--host',
      '127.0.0.1',
      '--ports',
      String(srv.port),
      '--profile',
      'profile.json',
      '--profile-partial',
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^S: HELLO$/m);
    expect(r.stdout).toMatch(/^C: HELLOBACK$/m);
    expect(r.stdout).toMatch(/^C: [0-9a-f]{64} John Roe$/m);
    expect(r.stdout).toMatch(/session complete: DONE\/OK after 8 requests/);
    expect((await srv.exited).code).toBe(0);
  });

  it('a partial profile is refused, listing the missing fields', async () => {
    await writeFile(join(work, 'partial.json'), JSON.stringify({ FULL_NAME: 'John Roe' }));
    const r = await run('client', ['--profile', 'partial.json']);
    expect(r.code).toBe(2);
    expectOneLineError(
      r,
      /--profile partial\.json: missing EMAIL1, EMAIL2, SOCIAL, BIRTHDATE, COUNTRY, ADDR_LINE1, ADDR_LINE2; add them, or pass --profile-partial/,
    );
  });

  it('flag errors carry the bin name like every other error (each bin, a process)', async () => {
    const cases: Array<[Bin, string[], RegExp]> = [
      ['server', ['--bogus'], /^tlslp-server: error: unknown option '--bogus'$/],
      ['client', ['--ports'], /^tlslp-client: error: option '--ports <list>' argument missing$/],
      ['work', ['abc'], /^tlslp-work: error: missing required argument 'n_bits'$/],
      ['tlslp', ['certs', '--bogus'], /^tlslp: error: unknown option '--bogus'$/],
    ];
    for (const [name, args, pattern] of cases) {
      const r = await runProcess(name, args);
      expect(r.code).toBe(2);
      expectOneLineError(r, pattern);
    }
  });

  it('a bad profile is a one-line error', async () => {
    await writeFile(join(work, 'bad.json'), '{"NAME": "x"}');
    const r = await run('client', ['--profile', 'bad.json']);
    expect(r.code).toBe(2);
    expectOneLineError(r, /unknown field "NAME"/);
  });
});

describe('tlslp certs', () => {
  it('writes the set with private keys 0600 and refuses to overwrite without --force', async () => {
    const dir = join(work, 'certs2');
    expect((await run('tlslp', ['certs', '--dir', dir])).code).toBe(0);
    for (const key of ['ca_key.pem', 'server-key.pem', 'ec_private_key.pem']) {
      expect((await stat(join(dir, key))).mode & 0o777).toBe(0o600);
    }
    const before = await readFile(join(dir, 'ca_cert.pem'), 'utf8');
    const again = await run('tlslp', ['certs', '--dir', dir]);
    expect(again.code).toBe(2);
    expectOneLineError(again, /--force/);
    expect(await readFile(join(dir, 'ca_cert.pem'), 'utf8')).toBe(before);
    expect((await run('tlslp', ['certs', '--dir', dir, '--force'])).code).toBe(0);
    expect(await readFile(join(dir, 'ca_cert.pem'), 'utf8')).not.toBe(before);
  });
});

describe('tlslp demo and work', () => {
  it('demo prints a whole session ending in DONE/OK', async () => {
    const r = await run('tlslp', ['demo', '--n-bits', '12']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^S: HELLO$/m);
    expect(r.stdout).toMatch(/^S: WORK [A-Za-z0-9_-]{64} 12$/m);
    expect(r.stdout).toMatch(/^S: DONE$/m);
    expect(r.stdout).toMatch(/^C: OK$/m);
    expect(r.stdout).toMatch(/client: DONE\/OK after 20 requests/);
  });

  it('tlslp work prints RESULT and Time like the original solver', async () => {
    const r = await run('tlslp', ['work', 'abc', '12']);
    expect(r.code, r.stderr).toBe(0);
    const [result, time] = r.stdout.trim().split('\n');
    const suffix = (result as string).replace(/^RESULT:/, '');
    expect(verifyWork('abc', suffix, 12)).toBe(true);
    expect(time).toMatch(/^Time: \d+(\.\d+)? seconds$/);
  });
});

describe('tutorial golden logs', () => {
  // One run of the tutorial (its fixed ports allow one at a time) against a copy of the golden
  // files with one line of client.log changed: it must find server.log identical, and fail on
  // client.log at that line only, with what it made equal to docs/tutorial byte for byte.
  it('a fresh run reproduces docs/tutorial byte for byte, and the comparison fails on a difference', async () => {
    const golden = join(work, 'golden');
    await mkdir(golden, { recursive: true });
    await cp(join(root, 'docs', 'tutorial'), golden, { recursive: true });
    const log = await readFile(join(golden, 'client.log'), 'utf8');
    expect(log).toContain('Answered EMAIL1');
    await writeFile(join(golden, 'client.log'), log.replace('Answered EMAIL1', 'Answered EMAIL2'));
    const r = await new Promise<Run>((resolveRun) => {
      const child = spawn(
        process.execPath,
        [join(root, 'scripts', 'tutorial.mjs'), '--compare', '--golden-dir', golden],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (code) => resolveRun({ code, stdout, stderr }));
    });
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toContain('server.log: identical to the golden file');
    expect(r.stdout).toMatch(
      /client\.log: DIFFERS .*\n {2}golden: .*Answered EMAIL2.*\n {2}fresh: {2}.*Answered EMAIL1/,
    );
    // The script keeps the fresh log that differed: it is the real golden file, unchanged.
    const fresh = await readFile(join(tmpdir(), 'tlslp-tutorial-client.log'), 'utf8');
    expect(fresh).toBe(await readFile(join(root, 'docs', 'tutorial', 'client.log'), 'utf8'));
  });
});
