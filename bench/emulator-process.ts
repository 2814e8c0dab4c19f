import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { EmulatorConfig } from '../src/emulator';

export interface EmulatorProcess {
  url: string;
  close(): Promise<void>;
}

/**
 * Runs `wa-campaigns emulator` in its own process, as AWS would be: a benchmark then measures our
 * engine, not the engine and the platform sharing one event loop.
 */
export async function startEmulatorProcess(config: EmulatorConfig): Promise<EmulatorProcess> {
  const dir = mkdtempSync(path.join(tmpdir(), 'wa-emulator-'));
  const file = path.join(dir, 'world.json');
  writeFileSync(file, JSON.stringify(config));
  const bin = path.resolve(__dirname, '../bin/wa-campaigns.js');
  const child: ChildProcess = spawn(process.execPath, [bin, 'emulator', '--port', '0', '--config', file], {
    env: { ...process.env, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const match = /emulator ready at (\S+)/.exec(out);
      if (match?.[1]) resolve(match[1]);
    });
    child.once('exit', (code) => reject(new Error(`emulator exited early with code ${String(code)}`)));
  });
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
