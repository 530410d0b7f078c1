/**
 * Package subpath exports: each entry a user imports alone loads only what it needs. The
 * server, client and solver must not pull in the X.509 code (@peculiar/x509) or its global
 * `Reflect` polyfill (reflect-metadata); `tlslp/certs` does. Each import runs in a fresh
 * `node` (from dist/, through the package's self-reference) with a resolve hook that records
 * every module URL resolved.
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { useTempDirs } from './helpers.js';

const run = promisify(execFile);
const tempDir = useTempDirs('tlslp-exports-');

// Runs in the loader thread; appends each resolved URL to the file named in `data`.
const HOOKS = `
import { appendFileSync } from 'node:fs';
let out;
export function initialize(data) { out = data.out; }
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(out, r.url + '\\n');
  return r;
}
`;

const REGISTER = `
import { register } from 'node:module';
register(new URL('./hooks.mjs', import.meta.url), { data: { out: process.env.RESOLVED_LOG } });
`;

interface Loaded {
  /** `typeof Reflect.getMetadata` after the import. */
  reflect: string;
  /** Names the entry exports. */
  names: string[];
  /** Every module URL resolved while importing it. */
  urls: string[];
  /** The CommonJS modules loaded (`require.cache`), after the import and `then`. */
  required: string[];
}

// What an import loads is the same each time: one process per specifier (and `then`), its
// result shared by the tests that ask about it.
const imported = new Map<string, Promise<Loaded>>();

function importAlone(specifier: string, then = ''): Promise<Loaded> {
  const key = JSON.stringify([specifier, then]);
  let loaded = imported.get(key);
  if (loaded === undefined) imported.set(key, (loaded = importFresh(specifier, then)));
  return loaded;
}

/** Import `specifier` in a fresh `node`, then run `then`; what it resolved and loaded. */
async function importFresh(specifier: string, then: string): Promise<Loaded> {
  const dir = await tempDir();
  await writeFile(join(dir, 'hooks.mjs'), HOOKS);
  await writeFile(join(dir, 'register.mjs'), REGISTER);
  const log = join(dir, 'resolved.log');
  await writeFile(log, '');
  const script =
    `import { createRequire } from 'node:module';` +
    `const m = await import(${JSON.stringify(specifier)});${then}` +
    `const required = Object.keys(createRequire(process.cwd() + '/').cache);` +
    `console.log(JSON.stringify({ reflect: typeof Reflect.getMetadata, names: Object.keys(m), required }));`;
  const { stdout } = await run(
    process.execPath,
    ['--import', join(dir, 'register.mjs'), '--input-type=module', '-e', script],
    { env: { ...process.env, RESOLVED_LOG: log } },
  );
  const { reflect, names, required } = JSON.parse(stdout) as Omit<Loaded, 'urls'>;
  const urls = (await readFile(log, 'utf8')).split('\n').filter(Boolean);
  return { reflect, names, urls, required };
}

const fromPeculiar = (urls: string[]): string[] =>
  urls.filter((u) => u.includes('/node_modules/@peculiar/') || u.includes('/reflect-metadata/'));

describe('package exports', () => {
  it.each([
    ['tlslp/server', 'TlslpServer'],
    ['tlslp/client', 'runClient'],
    ['tlslp/solver', 'solveWork'],
    ['tlslp/protocol', 'verifyWork'],
    ['tlslp/tls', 'readTlsFiles'],
    ['tlslp/logging', 'createLogger'],
    ['tlslp/errors', 'ConfigError'],
    ['tlslp/bench', 'measureKernel'],
  ])('%s loads no X.509 code and no Reflect polyfill', async (specifier, name) => {
    const loaded = await importAlone(specifier);
    expect(loaded.names).toContain(name);
    expect(loaded.names).not.toContain('generateCertificateSet');
    // The hook saw the import itself: an empty record would pass the next check vacuously.
    expect(loaded.urls.some((u) => u.includes('/dist/'))).toBe(true);
    expect(fromPeculiar(loaded.urls)).toEqual([]);
    expect(loaded.reflect).toBe('undefined');
  });

  it('tlslp/certs loads them (so the checks above can fail)', async () => {
    const loaded = await importAlone('tlslp/certs');
    expect(loaded.names).toContain('generateCertificateSet');
    expect(fromPeculiar(loaded.urls)).not.toEqual([]);
    expect(loaded.reflect).toBe('function');
  });

  it('no entry loads the Redis client: it comes only with a --state store', async () => {
    for (const specifier of ['tlslp', 'tlslp/server']) {
      const loaded = await importAlone(specifier);
      expect(loaded.urls.some((u) => u.includes('/dist/state/'))).toBe(true);
      expect(loaded.urls.filter((u) => u.includes('/node_modules/@redis/'))).toEqual([]);
    }
  });

  it('tlslp/server loads prom-client only with the first ServerMetrics (a server without metrics never does)', async () => {
    const prom = (l: Loaded): string[] =>
      l.required.filter((f) => f.includes('/node_modules/prom-client/'));
    expect(prom(await importAlone('tlslp/server'))).toEqual([]);
    const metered = await importAlone('tlslp/server', 'new m.ServerMetrics();');
    expect(prom(metered)).not.toEqual([]);
  });

  it('tlslp/server loads no log file sink: the library logs through the logging core', async () => {
    const loaded = await importAlone('tlslp/server');
    const ours = loaded.urls
      .filter((u) => u.includes('/dist/'))
      .map((u) => u.slice(u.lastIndexOf('/dist/') + 1));
    // The closing note of issue 24 quotes this list: what importing tlslp/server loads.
    console.log(
      `tlslp/server loads ${ours.length} modules of dist/:\n  ${[...new Set(ours)].join('\n  ')}`,
    );
    expect(ours).toContain('dist/server/index.js');
    expect(ours).toContain('dist/logging/logger.js');
    for (const sink of ['file-sink.js', 'sinks.js', 'create.js', 'index.js'])
      expect(ours).not.toContain(`dist/logging/${sink}`);
    // The check can fail: the logging entry, which has createLogger, loads the file sink.
    const logging = await importAlone('tlslp/logging');
    expect(logging.urls.some((u) => u.endsWith('/dist/logging/file-sink.js'))).toBe(true);
  });

  it('the main entry still exports every part', async () => {
    const loaded = await importAlone('tlslp');
    for (const name of ['TlslpServer', 'runClient', 'solveWork', 'generateCertificateSet'])
      expect(loaded.names).toContain(name);
  });
});

/** Whether this node can require() an ES module (Node ≥ 20.19 and ≥ 22.12). */
const requireEsm = (process.features as { require_module?: boolean }).require_module === true;

describe('a CommonJS consumer (require, Node ≥ 20.19)', () => {
  it.skipIf(!requireEsm)(
    "require()s every subpath of the exports map (no top-level await in the graph) and gets the import's exports",
    async () => {
      const root = join(import.meta.dirname, '..');
      const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as {
        exports: Record<string, string | { require?: string; import?: string }>;
      };
      const subpaths = Object.entries(pkg.exports)
        .filter(([, c]) => typeof c === 'object')
        .map(([k]) => (k === '.' ? 'tlslp' : `tlslp/${k.slice(2)}`));
      expect(subpaths).toContain('tlslp/server');
      const dir = await tempDir();
      await mkdir(join(dir, 'node_modules'));
      await symlink(root, join(dir, 'node_modules', 'tlslp'), 'dir');
      await writeFile(join(dir, 'package.json'), '{ "type": "commonjs" }\n');
      await writeFile(
        join(dir, 'consumer.cjs'),
        `const out = {};\nfor (const s of ${JSON.stringify(subpaths)}) out[s] = Object.keys(require(s)).sort();\n` +
          `const { runClient, TlslpServer } = require('tlslp');\n` +
          `out.types = [typeof runClient, typeof TlslpServer];\n` +
          `console.log(JSON.stringify(out));\n`,
      );
      const { stdout, stderr } = await run(process.execPath, ['consumer.cjs'], { cwd: dir });
      expect(stderr).toBe('');
      const required = JSON.parse(stdout) as Record<string, string[]>;
      expect(required.types).toEqual(['function', 'function']);
      for (const s of subpaths) {
        expect(required[s]?.length, s).toBeGreaterThan(0);
        expect(required[s], s).toEqual([...(await importAlone(s)).names].sort());
      }
    },
  );
});
