#!/usr/bin/env node
// @ts-check
// Runs the tutorial session (tlslp-server --tutorial, then tlslp-client --tutorial, with the
// default ports, n_bits and certificate paths) in a throwaway folder with throwaway
// certificates, and compares the two logs with the golden files in docs/tutorial/.
//
//   node scripts/tutorial.mjs            run it and print the logs
//   node scripts/tutorial.mjs --compare  run it and diff against the golden files (exit 1 on a difference)
//   node scripts/tutorial.mjs --update   run it and rewrite the golden files
//   --golden-dir DIR                     compare against another folder (tests use it)
import { spawn } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const mode = args.includes('--update') ? 'update' : args.includes('--compare') ? 'compare' : 'show';
const goldenIndex = args.indexOf('--golden-dir');
const goldenDir =
  goldenIndex >= 0 ? resolve(String(args[goldenIndex + 1])) : join(root, 'docs', 'tutorial');
const bin = (name) => join(root, 'dist', 'cli', `${name}.js`);

function run(cmd, argv, options) {
  const child = spawn(process.execPath, [cmd, ...argv], {
    ...options,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const done = new Promise((resolveExit) =>
    child.on('close', (code) => resolveExit({ code, stdout, stderr })),
  );
  return { child, done, stdout: () => stdout };
}

async function waitFor(predicate, ms, what) {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const work = await mkdtemp(join(tmpdir(), 'tlslp-tutorial-'));
let failed = false;
try {
  const env = { ...process.env, XDG_STATE_HOME: join(work, 'state'), NO_COLOR: '1' };
  const certs = run(bin('tlslp'), ['certs'], { cwd: work, env });
  const c = await certs.done;
  if (c.code !== 0) throw new Error(`tlslp certs failed: ${c.stderr}`);

  const server = run(bin('server'), ['--tutorial'], { cwd: work, env });
  /** @type {{ code: number | null, stderr: string } | null} */
  let serverExit = null;
  server.done.then((r) => (serverExit = r));
  await waitFor(
    () => server.stdout().includes('listening') || serverExit,
    15_000,
    'the tutorial server to listen',
  );
  if (serverExit)
    throw new Error(
      // A cast: tsc does not see the callback above assign serverExit.
      `tlslp-server --tutorial could not start: ${/** @type {{ stderr: string }} */ (serverExit).stderr.trim()}`,
    );
  const client = await run(bin('client'), ['--tutorial'], { cwd: work, env }).done;
  const srv = await Promise.race([
    server.done,
    new Promise((_, reject) =>
      setTimeout(() => reject(new Error('tutorial server did not exit')), 30_000).unref(),
    ),
  ]);
  if (client.code !== 0)
    throw new Error(`tlslp-client --tutorial exited ${client.code}: ${client.stderr}`);
  if (srv.code !== 0) throw new Error(`tlslp-server --tutorial exited ${srv.code}: ${srv.stderr}`);

  const logs = join(work, 'state', 'tlslp', 'logs');
  for (const name of ['server.log', 'client.log']) {
    const fresh = await readFile(join(logs, name), 'utf8');
    if (mode === 'update') {
      await cp(join(logs, name), join(goldenDir, name));
      process.stdout.write(`updated ${join(goldenDir, name)}\n`);
    } else if (mode === 'compare') {
      const golden = await readFile(join(goldenDir, name), 'utf8');
      if (golden === fresh) {
        process.stdout.write(`${name}: identical to the golden file\n`);
      } else {
        failed = true;
        const a = golden.split('\n');
        const b = fresh.split('\n');
        const i = a.findIndex((line, k) => line !== b[k]);
        process.stdout.write(
          `${name}: DIFFERS from ${join(goldenDir, name)} at line ${i + 1}\n  golden: ${a[i]}\n  fresh:  ${b[i]}\n`,
        );
        await writeFile(join(tmpdir(), `tlslp-tutorial-${name}`), fresh);
      }
    } else {
      process.stdout.write(`==> ${name}\n${fresh}\n`);
    }
  }
} finally {
  await rm(work, { recursive: true, force: true });
}
if (failed) {
  process.stdout.write(
    'tutorial logs differ from the golden files (fresh copies left in the temp folder)\n',
  );
  process.exitCode = 1;
}
