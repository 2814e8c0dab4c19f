// Type-aware lint. Workflow code runs in Temporal's deterministic sandbox, so it may not import
// Node built-ins or any I/O library: those belong in activities.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';
import { builtinModules } from 'node:module';

const nodeBuiltins = builtinModules.flatMap((m) => [m, `node:${m}`]);

// Layer boundaries of src, so data flows one way (docs/architecture.md, "Map"): CLI → client →
// workflows → activities → db/AWS, and SNS → ingest → db/signals. A relative import is matched by the
// top-level folder it climbs to (`../../db/query` from src/ingest/apply is src/db). Folders with an
// index can be imported bare, so their names also match at the end of the path; the others need a
// slash, which keeps `../cli` inside src/ingest (its own cli.ts) apart from src/cli. This holds as long
// as no folder inside src reuses a top-level folder's name.
const INDEXED = new Set(['activities', 'emulator', 'ingest', 'workflows']);
const climbsTo = (folders) =>
  `^(\\.\\./)+(${folders.map((f) => (INDEXED.has(f) ? `${f}(/|$)` : `${f}/`)).join('|')})`;
const layer = (folders, message, ...more) => ({
  'no-restricted-imports': ['error', { patterns: [{ regex: climbsTo(folders), message }, ...more] }],
});

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
    // The emulator stands in for AWS and Meta: it shares only the platform's own vocabulary with the
    // engine, so it cannot come to agree with the engine on something the platform does not say.
    files: ['src/emulator/**/*.ts'],
    rules: layer(
      ['activities', 'cli', 'client', 'db', 'ingest', 'worker', 'workflows'],
      'The emulator is the platform: it may import only src/platform/resource-ids, regions and tiers, and src/shared/logger.',
      {
        regex: '^(\\.\\./)+(platform/(?!(resource-ids|regions|tiers)(\\.js)?$)|shared/(?!logger(\\.js)?$))',
        message:
          'The emulator is the platform: it may import only src/platform/resource-ids, regions and tiers, and src/shared/logger.',
      },
    ),
  },
  {
    // The client starts and drives workflows; what it reads from the database is in src/db.
    files: ['src/client/**/*.ts'],
    rules: layer(
      ['activities', 'cli', 'emulator', 'ingest', 'worker'],
      'The client sits below the CLI and beside the ingest: read tables through src/db, not activities.',
    ),
  },
  {
    // The ingest turns SNS events into rows and signals. It needs the signal contracts
    // (src/workflows/definitions) and the code that sends them to onboardings
    // (src/workflows/onboarding-signals), never the client or the worker's code.
    files: ['src/ingest/**/*.ts'],
    rules: layer(
      ['activities', 'cli', 'client', 'emulator', 'worker'],
      'The ingest sits beside the client and above src/db: put what both need in src/db, src/platform or src/shared.',
      {
        regex: '^(\\.\\./)+workflows(/(?!(definitions|onboarding-signals)(\\.js)?$)|$)',
        allowTypeImports: true,
        message:
          'The ingest uses only the signal contracts (src/workflows/definitions, src/workflows/onboarding-signals) of workflow code.',
      },
    ),
  },
  {
    // Activities are what workflows call; they see the database and AWS, never who started the work.
    files: ['src/activities/**/*.ts'],
    rules: layer(
      ['cli', 'client', 'emulator', 'ingest', 'worker'],
      'Activities sit below the client, the ingest and the worker: share code through src/db, src/platform or src/shared.',
    ),
  },
  {
    // Table access is shared by activities, the client and the ingest, so it depends on none of them.
    files: ['src/db/**/*.ts'],
    rules: layer(
      ['activities', 'cli', 'client', 'emulator', 'ingest', 'worker', 'workflows'],
      'src/db is below every caller: it may import only src/platform and src/shared.',
    ),
  },
  {
    // The pure vocabulary every layer (and the emulator) shares.
    files: ['src/platform/**/*.ts', 'src/shared/**/*.ts'],
    rules: layer(
      ['activities', 'cli', 'client', 'db', 'emulator', 'ingest', 'worker', 'workflows'],
      'src/platform and src/shared are the bottom layer: they import nothing else from src.',
    ),
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
