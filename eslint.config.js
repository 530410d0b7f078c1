import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';
import ts from 'typescript';

/**
 * `tsc --noEmit -p tsconfig.json` inside the lint run: the type-aware rules below already build
 * and type-check the tsconfig.json program (src/, test/, bench/, vitest.config.ts), so its
 * diagnostics are read from that same checker instead of type-checking it a second time.
 * Each file's syntactic and semantic diagnostics are reported on that file; the program's
 * global and option diagnostics once, on the first file linted.
 */
const tscRule = {
  meta: { type: 'problem', schema: [], docs: { description: 'TypeScript compiler errors' } },
  create(context) {
    const services = context.sourceCode.parserServices;
    const program = services?.program;
    if (!program) return {};
    const file = program.getSourceFile(context.filename);
    if (!file) return {};
    const diagnostics = [
      ...program.getSyntacticDiagnostics(file),
      ...program.getSemanticDiagnostics(file),
    ].filter((d) => !UNUSED.has(d.code));
    if (!reportedGlobal.has(program)) {
      reportedGlobal.add(program);
      diagnostics.push(...program.getOptionsDiagnostics(), ...program.getGlobalDiagnostics());
    }
    return {
      Program() {
        for (const d of diagnostics) {
          const message = `TS${d.code}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
          if (d.file === file && d.start !== undefined) {
            const start = file.getLineAndCharacterOfPosition(d.start);
            const end = file.getLineAndCharacterOfPosition(d.start + (d.length ?? 0));
            context.report({
              loc: {
                start: { line: start.line + 1, column: start.character },
                end: { line: end.line + 1, column: end.character },
              },
              message,
            });
          } else {
            const where = d.file ? `${d.file.fileName}: ` : '';
            context.report({ loc: { line: 1, column: 0 }, message: `${where}${message}` });
          }
        }
      },
    };
  },
};
/**
 * typescript-eslint turns on noUnusedLocals and noUnusedParameters in its program (for its
 * scope analysis); tsconfig.json leaves them off, so tsc reports none of these: skip them
 * (no-unused-vars covers unused names).
 */
const UNUSED = new Set([6133, 6138, 6192, 6196, 6198, 6199, 6205]);
/** @type {WeakSet<object>} */
const reportedGlobal = new WeakSet();

export default tseslint.config(
  {
    ignores: [
      'dist/',
      'coverage/',
      'docs/api/',
      'native/build/',
      'wasm/build/',
      'assembly/',
      'node_modules/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { ...globals.node },
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
    },
  },
  // Type-aware rules on the TypeScript sources (the tsconfig.json project): promises that
  // nobody awaits or that land where a callback's result is ignored are the bugs tsc misses.
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.recommendedTypeCheckedOnly],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { tlslp: { rules: { tsc: tscRule } } },
    rules: { 'tlslp/tsc': 'error' },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // Tests hand methods to expect() and destructure module namespaces: no `this` is lost.
      '@typescript-eslint/unbound-method': 'off',
      // Stand-in solvers are `async` to meet a Promise-returning type without awaiting anything.
      '@typescript-eslint/require-await': 'off',
    },
  },
);
