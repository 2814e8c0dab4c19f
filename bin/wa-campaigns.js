#!/usr/bin/env node
// Runs the CLI from its TypeScript source through tsx, so an installed checkout needs no build step.
require('tsx/cjs');
void require('../src/cli/main.ts').run();
