/**
 * The README's TypeScript examples, run as written against the built package: each ```ts
 * block is type-checked as a user's module that imports 'tlslp' (resolved through the
 * package's own `exports`, so dist/ and its .d.ts files), then compiled and run.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';

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
