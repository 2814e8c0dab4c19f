// Type-aware lint. Workflow code runs in Temporal's deterministic sandbox, so it may not import
// Node built-ins or any I/O library: those belong in activities.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';
import { builtinModules } from 'node:module';

const nodeBuiltins = builtinModules.flatMap((m) => [m, `node:${m}`]);

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', '.data/', '.scratch/', 'drizzle/', 'bin/', 'eslint.config.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src/workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({
            name,
            message: 'Workflow code is deterministic: use an activity for I/O.',
          })),
          patterns: [
            {
              group: ['postgres', 'drizzle-orm', 'drizzle-orm/*', '@aws-sdk/*', '@electric-sql/*'],
              message: 'Workflow code is deterministic: database and AWS calls belong in activities.',
            },
            {
              group: ['**/activities/*', '**/activities', '**/db/*', '**/db'],
              allowTypeImports: true,
              message: 'Import activities and data-layer code as types only.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts', 'tools/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
    },
  },
  prettier,
);
