import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(__dirname, '../..');
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'emu-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs `wa-campaigns emulator …` the way a user does (through tsx, as `npm run wa-campaigns` does). */
function cli(args: string[]) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'emulator', ...args], {
    cwd: root,
    env: { ...process.env, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, exited, out: () => stdout, err: () => stderr };
}

describe('wa-campaigns emulator', () => {
  it('serves the configured world until SIGTERM, then exits cleanly', async () => {
    const config = join(dir, 'world.json');
    await writeFile(config, JSON.stringify({ rules: { throughputMps: 20 } }));
    const run = cli(['--port', '0', '--config', config, '--seed', '3']);
    const url = await new Promise<string>((ok, fail) => {
      const timer = setInterval(() => {
        const m = /emulator ready at (http:\/\/\S+)/.exec(run.out());
        if (m?.[1]) {
          clearInterval(timer);
          ok(m[1]);
        }
      }, 25);
      void run.exited.then((code) => {
        clearInterval(timer);
        fail(new Error(`exited ${code}: ${run.err()}`));
      });
    });
    expect(run.out()).toContain(`AWS_ENDPOINT_URL_SOCIALMESSAGING=${url}`);
    const state = (await (await fetch(`${url}/_emulator/state`)).json()) as {
      seed: number;
      wabas: { phoneNumbers: { throughputMps: number }[] }[];
    };
    expect(state.seed).toBe(3);
    expect(state.wabas[0]?.phoneNumbers[0]?.throughputMps).toBe(20);
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
  });

  it('refuses a bad config file with one clear line naming the field', async () => {
    const config = join(dir, 'bad.json');
    await writeFile(config, JSON.stringify({ rules: { pairRate: { burst: 'lots' } } }));
    const run = cli(['--port', '0', '--config', config]);
    expect(await run.exited).toBe(1);
    expect(run.err()).toMatch(/wa-campaigns: invalid emulator config .*rules\.pairRate\.burst/);
  });
});
