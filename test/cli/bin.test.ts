/**
 * The CLI started the ways users start it: an installed bin on PATH (what `npm link` and `npm i -g` put
 * there: a symlink named `wa-campaigns`, without `.js`) and `npx` from the project root. Each must run the
 * command, not exit silently, and keep the AWS SDK's Node-version notice out of stderr.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDevServerEnv } from '../helpers/temporal';

const ROOT = path.resolve(__dirname, '../..');
const USAGE = /^Usage: wa-campaigns \[options\] \[command\]$/m;
const SDK_NOTICE = /NodeVersionSupportWarning|AWS SDK for JavaScript \(v3\)/;

let binDir: string;
/** PATH with only our `wa-campaigns` in front, and node's own directory for the bin's shebang. */
let pathEnv: string;

beforeAll(() => {
  binDir = mkdtempSync(path.join(tmpdir(), 'wa-bin-'));
  symlinkSync(path.join(ROOT, 'bin/wa-campaigns.js'), path.join(binDir, 'wa-campaigns'));
  pathEnv = [binDir, path.dirname(process.execPath), process.env.PATH].join(path.delimiter);
});
afterAll(() => rmSync(binDir, { recursive: true, force: true }));

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function exec(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }) {
  return new Promise<Result>((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: { ...process.env, PATH: pathEnv, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('wa-campaigns as users start it', () => {
  it('runs through a bin named wa-campaigns on PATH, from any directory', async () => {
    const result = await exec('wa-campaigns', ['--help'], { cwd: tmpdir() });
    expect(result.stdout).toMatch(USAGE);
    expect(result.stdout).toContain('campaign');
    expect(result.code).toBe(0);
    expect(result.stderr).not.toMatch(SDK_NOTICE);
  });

  it('runs through npx from the project root', async () => {
    const result = await exec('npx', ['--no-install', 'wa-campaigns', '--help'], { cwd: ROOT });
    expect(result.stdout).toMatch(USAGE);
    expect(result.code).toBe(0);
    expect(result.stderr).not.toMatch(SDK_NOTICE);
  });

  it('reports a usage error with a non-zero exit code', async () => {
    const result = await exec('wa-campaigns', ['no-such-command'], { cwd: tmpdir() });
    expect(result.stderr).toMatch(/unknown command 'no-such-command'/);
    expect(result.code).not.toBe(0);
  });

  describe('a command that makes AWS SDK clients', () => {
    let temporal: TestWorkflowEnvironment;
    beforeAll(async () => {
      temporal = await createDevServerEnv();
    });
    afterAll(async () => {
      await temporal?.teardown();
    });

    it('runs `campaign list` with no SDK notice on stderr', async () => {
      const dataDir = mkdtempSync(path.join(tmpdir(), 'wa-cli-data-'));
      try {
        const result = await exec('wa-campaigns', ['campaign', 'list'], {
          cwd: tmpdir(),
          env: {
            DATABASE_URL: '',
            WA_DATA_DIR: dataDir,
            TEMPORAL_ADDRESS: temporal.address,
            AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: undefined,
          },
        });
        expect(result.stderr).not.toMatch(SDK_NOTICE);
        expect(result.stdout).toBe('no campaigns yet\n');
        expect(result.code).toBe(0);
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    });
  });
});
