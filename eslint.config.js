// Lint of the whole workspace, run by `pnpm run lint` and by scripts/test.sh
// before the suite. typescript-eslint's recommended rules, plus the few
// type-aware ones that catch real bugs in async code (a promise nobody
// awaits, a promise where a callback's result is ignored); the style rules
// are left out on purpose: the code has one style already and no formatter
// to fight.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', '**/.turbo/**', 'test-artifacts/**', '.kdb-run/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      globals: { ...globals.node },
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false, attributes: false } }],
      '@typescript-eslint/await-thenable': 'error',
      // `_name` marks a parameter or binding kept for its position.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true }],
    },
  },
  {
    // Tests and benches read the API's JSON answers and check them with
    // assertions, not with types: `any` there is the honest type. vitest
    // hands fixtures over by destructuring, so a fixture that needs none
    // still writes `({}, use)`.
    files: ['**/test/**/*.ts', 'test-support/**/*.ts', 'scripts/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off', 'no-empty-pattern': 'off' },
  },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    languageOptions: { globals: { ...globals.node } },
  },
);
