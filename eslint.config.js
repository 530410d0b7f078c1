import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

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
