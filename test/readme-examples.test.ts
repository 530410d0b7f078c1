/**
 * The README's TypeScript examples, run as written against the built package: each ```ts
 * block is type-checked as a user's module that imports 'tlslp' (resolved through the
 * package's own `exports`, so dist/ and its .d.ts files), then compiled and run. The
 * `--config` examples (every ```toml block, and the ```json ones of the guide's "Settings in
 * a file") are applied to tlslp-server's flags and resolved as the bin does.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import { applyConfigFile } from '../src/cli/config-file.js';
import { pick, tableValues } from '../src/cli/options.js';
import { serverCommand } from '../src/cli/server.js';
import { keysOf } from '../src/options/core.js';
import {
  SERVER_CLI_OPTIONS,
  SERVER_LIB_OPTIONS,
  SERVER_OPTIONS,
  resolveServerCommand,
  resolveServerOptions,
} from '../src/options/server.js';
import { tlslpMain } from '../src/cli/tlslp.js';
import { serverMain } from '../src/cli/server.js';
import { runCli } from './cli-run.js';
import { useTempDirs } from './helpers.js';

// Inside the package, so the bare specifier 'tlslp' resolves to this package itself.
const dir = resolve('test-results', 'readme-examples');

function examples(markdown: string): string[] {
  return [...markdown.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1] ?? '');
}

const blocks = examples(readFileSync('README.md', 'utf8'));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('README TypeScript examples', () => {
  it('has at least one', () => {
    expect(blocks.length).toBeGreaterThan(0);
  });

  blocks.forEach((source, i) => {
    // tsc over the example and the package's .d.ts, then a run: longer than the 20 s default.
    it(
      `example ${i + 1} type-checks against dist and runs to a clean exit`,
      { timeout: 60_000 },
      () => {
        mkdirSync(dir, { recursive: true });
        const file = join(dir, `example-${i + 1}.mts`);
        writeFileSync(file, source);

        const options: ts.CompilerOptions = {
          module: ts.ModuleKind.NodeNext,
          moduleResolution: ts.ModuleResolutionKind.NodeNext,
          target: ts.ScriptTarget.ES2022,
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: ['node'],
        };
        const program = ts.createProgram([file], options);
        const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => {
          const text = ts.flattenDiagnosticMessageText(d.messageText, '\n');
          const at =
            d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : null;
          return at ? `${at.line + 1}:${at.character + 1} ${text}` : text;
        });
        expect(diagnostics).toEqual([]);

        const js = ts.transpileModule(source, {
          compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
        }).outputText;
        const script = join(dir, `example-${i + 1}.mjs`);
        writeFileSync(script, js);
        const run = spawnSync(process.execPath, [script], { encoding: 'utf8', timeout: 90_000 });
        expect(run.stderr).toBe('');
        expect(run.status).toBe(0);
        if (source.includes('runClient')) expect(run.stdout).toContain('DONE/OK');
      },
    );
  });
});

const guide = readFileSync('docs/guide.md', 'utf8');
const settings = guide.slice(
  guide.indexOf('### Settings in a file'),
  guide.indexOf('### Adaptive'),
);
const configBlocks = [
  ...['README.md', 'docs/guide.md'].flatMap((doc) =>
    [...readFileSync(doc, 'utf8').matchAll(/^```toml\n([\s\S]*?)^```$/gm)].map(
      (m) => [doc, 'toml', m[1] ?? ''] as const,
    ),
  ),
  ...[...settings.matchAll(/^```json\n([\s\S]*?)^```$/gm)].map(
    (m) => ['docs/guide.md', 'json', m[1] ?? ''] as const,
  ),
];
const configDir = useTempDirs('tlslp-doc-config-');

describe('--config examples of the README and the guide', () => {
  it("has the guide's TOML and JSON ones", () => {
    expect(configBlocks.filter(([, ext]) => ext === 'toml').length).toBeGreaterThanOrEqual(2);
    expect(configBlocks.filter(([, ext]) => ext === 'json').length).toBeGreaterThanOrEqual(1);
  });

  configBlocks.forEach(([doc, ext, text], i) => {
    it(`${doc} config example ${i + 1} (${ext}) is taken and resolves`, async () => {
      const path = join(await configDir(), `server.${ext}`);
      writeFileSync(path, text);
      const command = serverCommand().parse([], { from: 'user' });
      const set = applyConfigFile(command, path);
      expect(set.length).toBeGreaterThan(0);
      const values = tableValues(command, SERVER_OPTIONS);
      const options = resolveServerOptions(pick(values, keysOf(SERVER_LIB_OPTIONS)));
      expect(() =>
        resolveServerCommand(pick(values, keysOf(SERVER_CLI_OPTIONS)), options.tutorial),
      ).not.toThrow();
    });
  });

  it('the refusal the guide shows is the one the bin prints', async () => {
    const line = /^tlslp-server: error: --config server\.toml: .*$/m.exec(settings)?.[0];
    expect(line).toBeDefined();
    const typo = /unknown option "([^"]+)"/.exec(line ?? '')?.[1] ?? '';
    const dir = await configDir();
    const path = join(dir, 'server.toml');
    writeFileSync(path, `${typo} = 500\n`);
    const run = await runCli('tlslp-server', serverMain, ['--config', path], {
      cwd: dir,
      env: { XDG_STATE_HOME: dir },
    });
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toBe((line ?? '').replace('server.toml', path));
  });
});

// The container set: every `tlslp certs --host …` line that names the compose service, as
// written in the README, the guide, compose.yaml and the Dockerfile.
const containerLines = ['README.md', 'docs/guide.md', 'compose.yaml', 'Dockerfile'].flatMap((doc) =>
  [...readFileSync(doc, 'utf8').matchAll(/tlslp(?:\.js)? certs (--host [^`;\n]*)/g)]
    .map((m) => [doc, (m[1] ?? '').trim()] as const)
    .filter(([, args]) => /\bserver\b/.test(args)),
);

describe('the container certificate line', () => {
  it('is in each of them, and the same everywhere', () => {
    expect(containerLines.map(([doc]) => doc).sort()).toEqual(
      ['Dockerfile', 'README.md', 'compose.yaml', 'docs/guide.md'].sort(),
    );
    expect(new Set(containerLines.map(([, args]) => args)).size).toBe(1);
  });

  it('names the service `server` first, and makes no `certs server` of it', async () => {
    const [, args] = containerLines[0] ?? ['', ''];
    // Read as the subcommand only when `server` comes last, after the --host values.
    expect(args.split(' ').at(-1)).not.toBe('server');
    const dir = await configDir();
    // The command's main in this process, in that folder (see cli-run.ts).
    const made = await runCli('tlslp', tlslpMain, ['certs', ...args.split(' ')], { cwd: dir });
    expect(made.code).toBe(0);
    const shown = await runCli(
      'tlslp',
      tlslpMain,
      ['certs', 'show', '--json', join('certificates', 'server-cert.pem')],
      { cwd: dir },
    );
    expect(JSON.parse(shown.stdout)).toMatchObject({
      sans: { dns: ['server', 'localhost'], ip: ['127.0.0.1'] },
    });
  });
});
