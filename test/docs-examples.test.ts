/**
 * The shell examples of the README and the guide: every command line of a ```sh, ```bash or
 * ```console block that calls tlslp, tlslp-server, tlslp-client, tlslp-work or npm is run by
 * the built bins (dist/), or, where it cannot run here, checked against the real CLI; the few
 * it cannot touch at all are listed in SKIPPED with their reason. A line that is neither run
 * nor listed fails the test, so a new example must be one or the other.
 *
 * How each is run (the bins' mains in this process, with the folder as working folder, as
 * cli-run.ts runs them: the command's behaviour is the subject here, and a process per line
 * cost a node start and a load of the X.509 code each; the bins as processes are tested in
 * cli.test.ts and certs-cli.test.ts):
 * - `tlslp certs …`, `tlslp completion …`: as written, in a temporary folder.
 * - `tlslp-server …` (a long-running server): with `--check` and the loopback, port 0, so its
 *   flags, the certificates and CRL it names are parsed and loaded as the bin loads them.
 * - `tlslp-client …`: as written, against a server this test starts on loopback with that
 *   folder's certificates (`--host 127.0.0.1 --ports <its port>` added).
 * - the `work_challenge` link: made to this checkout's bin/tlslp, then run (a process).
 * - `npm run <script>`: the script must exist; `demo` is run (a process: npm runs dist/).
 * The README's lines run in one folder, top to bottom, as a reader follows it. Each guide
 * block runs in a folder of its own that holds the README's first set (what `tlslp certs`
 * writes, copied from the run's shared set, and `tlslp certs client --name jane`), unless the
 * block starts by making a set itself.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { clientMain } from '../src/cli/client.js';
import { serverMain } from '../src/cli/server.js';
import { tlslpMain } from '../src/cli/tlslp.js';
import { readCertificateSet } from '../src/pki/generate.js';
import { verifyWork } from '../src/protocol/hash.js';
import { closeSolverPool } from '../src/solver/index.js';
import { runCli, type CliRun } from './cli-run.js';
import { copySharedCerts, startServer, useTempDirs } from './helpers.js';

const root = resolve(import.meta.dirname, '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
};
const tempDir = useTempDirs('tlslp-docs-examples-');

/** Lines the test does not run, each with the reason (matched after normalising, see below). */
const SKIPPED: Readonly<Record<string, string>> = {
  'npm ci': 'reinstalls node_modules under the running tests',
  'npm test': 'the whole suite, this test included',
  'npm run tutorial':
    "binds the tutorial's fixed default ports; test/cli.test.ts runs scripts/tutorial.mjs --compare, one at a time",
  'npm run tutorial:compare':
    "binds the tutorial's fixed default ports; test/cli.test.ts runs scripts/tutorial.mjs --compare, one at a time",
  'npm install-scripts approve tlslp':
    "npm's own command: it writes allowScripts into the package.json of the project it runs in",
  'npm rebuild tlslp': 'rebuilds the native addon the other tests load',
};

/** A command of interest: one of the bins, npm, or the work_challenge link to bin/tlslp. */
const OF_INTEREST = /(^|[\s/])(tlslp(-server|-client|-work)?|npm)(\s|$)|work_challenge/;

interface Example {
  doc: string;
  /** Line in the doc, 1-based. */
  line: number;
  /** Which block of the doc (its index among the shell blocks). */
  block: number;
  /** The command, normalised: no `$ ` prompt, comment, `npx`, trailing `&` or shell wrapper. */
  command: string;
}

/** Split a line into the commands of interest it holds. */
function commandsOf(text: string): string[] {
  const code = text
    .replace(/^\$ /, '')
    .replace(/(^|\s)#.*$/, '')
    .trim();
  return code
    .split(/\s*&&\s*/)
    .map((part) =>
      part
        .replace(/\s*&$/, '')
        .replace(/^source <\((.*)\)$/, '$1')
        .replace(/\s*\|\s*source$/, '')
        .replace(/^npx\s+/, '')
        .trim(),
    )
    .filter((part) => part !== '' && OF_INTEREST.test(part));
}

function examplesOf(doc: string): Example[] {
  const text = readFileSync(join(root, doc), 'utf8');
  const out: Example[] = [];
  let block = 0;
  for (const m of text.matchAll(/^```(?:sh|bash|console)\n([\s\S]*?)^```$/gm)) {
    const first = text.slice(0, m.index).split('\n').length + 1;
    // A line ending in a backslash goes on on the next one.
    const lines = (m[1] ?? '').replace(/\\\n\s*/g, ' ').split('\n');
    lines.forEach((l, i) => {
      for (const command of commandsOf(l)) out.push({ doc, line: first + i, block, command });
    });
    block++;
  }
  return out;
}

/** Words of a command as sh would split it (quotes, no expansions: the examples use none). */
function words(command: string): string[] {
  const out: string[] = [];
  for (const m of command.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g))
    out.push(m[1] ?? m[2] ?? m[3] ?? '');
  return out;
}

const MAINS = { tlslp: tlslpMain, 'tlslp-server': serverMain, 'tlslp-client': clientMain };

/** Run a bin's main with `args` in `cwd` (its logs there too), in this process. */
function run(cwd: string, prog: keyof typeof MAINS, args: string[]): Promise<CliRun> {
  return runCli(prog, MAINS[prog], args, { cwd, env: { XDG_STATE_HOME: cwd } });
}

// The clients' solver threads.
afterAll(() => closeSolverPool());

/**
 * A server on loopback with the certificates of `cwd` where tlslp-server looks by default
 * (`certificates/`), n_bits 8, every session ending DONE/OK.
 */
async function serveFolder(cwd: string): Promise<{ port: number; stop: () => Promise<void> }> {
  const s = await startServer(await readCertificateSet(join(cwd, 'certificates')), {
    nBits: 8,
    simulateFailures: false,
  });
  return { port: s.port, stop: () => s.server.close() };
}

/** Run one example in `cwd`; returns what it checked, for the test's name in a failure. */
async function runExample(cwd: string, command: string): Promise<void> {
  const argv = words(command);
  const [name = '', ...args] = argv;
  if (name === 'tlslp' && (args[0] === 'certs' || args[0] === 'completion')) {
    const r = await run(cwd, 'tlslp', args);
    expect(r.stderr, command).toBe('');
    expect(r.code, command).toBe(0);
    if (args[0] === 'completion') expect(r.stdout).toContain('tlslp');
    return;
  }
  if (name === 'tlslp-server') {
    const r = await run(cwd, 'tlslp-server', [
      ...args,
      ...['--check', '--host', '127.0.0.1', '--port', '0'],
    ]);
    expect(r.stderr, command).toBe('');
    expect([r.code, r.stdout.trim().split('\n').at(-1)], command).toEqual([
      0,
      'tlslp-server: configuration OK',
    ]);
    return;
  }
  if (name === 'tlslp-client') {
    const server = await serveFolder(cwd);
    try {
      const r = await run(cwd, 'tlslp-client', [
        ...args,
        '--host',
        '127.0.0.1',
        '--ports',
        String(server.port),
      ]);
      expect(r.code, `${command}: ${r.stderr}`).toBe(0);
      expect(r.stdout).toContain('DONE');
    } finally {
      await server.stop();
    }
    return;
  }
  const link = /^ln -s \$\(npm root(?: -g)?\)\/tlslp\/bin\/tlslp (\S+)$/.exec(argv.join(' '));
  if (link) {
    symlinkSync(join(root, 'bin', 'tlslp'), join(cwd, link[1] ?? ''));
    return;
  }
  if (name === './work_challenge' && args.length === 2) {
    const r = spawnSync(join(cwd, 'work_challenge'), args, {
      cwd,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status, r.stderr).toBe(0);
    const suffix = /^RESULT:(\S+)$/m.exec(r.stdout)?.[1] ?? '';
    expect(verifyWork(args[0] ?? '', suffix, Number(args[1])), command).toBe(true);
    return;
  }
  if (name === 'npm' && args[0] === 'run' && args[1] !== undefined) {
    expect(Object.keys(pkg.scripts), command).toContain(args[1]);
    if (args[1] === 'demo') {
      const r = spawnSync('npm', ['run', '--silent', 'demo'], {
        cwd: root,
        encoding: 'utf8',
        timeout: 60_000,
        env: { ...process.env, XDG_STATE_HOME: cwd, NO_COLOR: '1' },
      });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toContain('client: DONE/OK');
      return;
    }
  }
  throw new Error(`no way to run ${JSON.stringify(command)}: run it here, or list it in SKIPPED`);
}

const readme = examplesOf('README.md');
const guide = examplesOf('docs/guide.md');
const all = [...readme, ...guide];

describe('shell examples of the README and the guide', () => {
  it('finds the examples, and every SKIPPED line is still in a doc', () => {
    expect(readme.length).toBeGreaterThan(10);
    expect(guide.length).toBeGreaterThan(10);
    const commands = new Set(all.map((e) => e.command));
    for (const line of Object.keys(SKIPPED)) expect(commands, line).toContain(line);
    // A skipped npm script is not run, but it must still exist.
    for (const line of Object.keys(SKIPPED)) {
      const script = /^npm run (\S+)$/.exec(line)?.[1];
      if (script) expect(Object.keys(pkg.scripts)).toContain(script);
    }
  });

  it('README: each command, top to bottom in one folder', { timeout: 120_000 }, async () => {
    const cwd = await tempDir();
    for (const e of readme) {
      if (e.command in SKIPPED) continue;
      await runExample(cwd, e.command).catch((err: unknown) => {
        throw new Error(`README.md:${e.line}: ${e.command}: ${(err as Error).message}`);
      });
    }
  });

  const blocks = [...new Set(guide.map((e) => e.block))];
  it.each(blocks)('docs/guide.md block %i: each command', { timeout: 60_000 }, async (block) => {
    const lines = guide.filter((e) => e.block === block && !(e.command in SKIPPED));
    const cwd = await tempDir();
    mkdirSync(cwd, { recursive: true });
    // The README's first set, unless the block makes its own: what `tlslp certs` writes (the
    // run's shared set), and jane's certificate.
    if (lines.length > 0 && !/^tlslp certs( --|$)/.test(lines[0]?.command ?? '')) {
      await copySharedCerts(join(cwd, 'certificates'));
      expect((await run(cwd, 'tlslp', ['certs', 'client', '--name', 'jane'])).code).toBe(0);
    }
    for (const e of lines)
      await runExample(cwd, e.command).catch((err: unknown) => {
        throw new Error(`docs/guide.md:${e.line}: ${e.command}: ${(err as Error).message}`);
      });
  });
});
