// ESLint for the TypeScript sources, tests and Node scripts (flat config).
// Not type-aware: typed rules (no-floating-promises, …) would need a TypeScript program per run, which
// costs more than the whole rest of the lint on this codebase; tsc --noEmit already type-checks.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// The Node globals the .mjs scripts use (the `globals` package is not a dependency).
const nodeGlobals = Object.fromEntries(
  [
    'AbortController',
    'AbortSignal',
    'Buffer',
    'TextDecoder',
    'TextEncoder',
    'URL',
    'URLSearchParams',
    'clearInterval',
    'clearTimeout',
    'console',
    'fetch',
    'performance',
    'process',
    'queueMicrotask',
    'setImmediate',
    'setInterval',
    'setTimeout',
    'structuredClone',
  ].map((name) => [name, 'readonly']),
);

export default tseslint.config(
  { ignores: ['vendor/', 'node_modules/', 'dist/', 'build/', 'prebuilds/', '.cache/', 'test-output/', 'docs/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: nodeGlobals },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // `const { interventions: _ablate, ...base } = options` drops a key on purpose; `_x` marks a
      // parameter a signature needs but the body does not.
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true, argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // The code already keeps type-only imports marked (`import { loadModel, type Model }`); keep it so.
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      eqeqeq: ['error', 'smart'],
      'no-var': 'error',
    },
  },
  {
    files: ['test/**'],
    rules: {
      // The terminal renderer's tests match its ANSI colour escapes (\x1b[…m) on purpose.
      'no-control-regex': 'off',
      // Tests build deliberately malformed headers and configs as loose JSON objects.
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
);
