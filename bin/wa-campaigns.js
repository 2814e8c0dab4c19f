#!/usr/bin/env node
// Runs the compiled CLI (dist/, built by `npm run build`, which `npm ci` runs through `prepare`).
// From Node 22.1 on, V8's code cache on disk saves most of the module loading of later starts; Node 20
// has no such API and just loads as before.
require('node:module').enableCompileCache?.();
let cli;
try {
  cli = require('../dist/cli/main.js');
} catch (err) {
  if (err?.code !== 'MODULE_NOT_FOUND' || !String(err.message).includes('dist/cli/main.js')) throw err;
  process.stderr.write('wa-campaigns: not built yet (dist/ is missing): run `npm run build`\n');
  process.exit(1);
}
void cli.run();
