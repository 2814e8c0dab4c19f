/**
 * Keeps dist/ (what the bin runs) in step with src/ for the tests and the benchmarks, which start the
 * product as processes through the bin. Even with nothing to do, tsc spends seconds reading the program
 * (the AWS SDK's type declarations alone are large), so it runs only when a source or build setting is
 * newer than the last build.
 */
import { spawn } from 'node:child_process';
import { readdirSync, statSync, utimesSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..');
const STAMP = path.join(ROOT, 'dist/.tsbuildinfo');
const INPUTS = ['src', 'tsconfig.json', 'tsconfig.build.json', 'package-lock.json'];

function newestMtimeMs(entry: string): number {
  const stat = statSync(entry);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs; // a deleted or renamed file shows only as its directory's change
  for (const name of readdirSync(entry)) newest = Math.max(newest, newestMtimeMs(path.join(entry, name)));
  return newest;
}

function builtAtMs(): number {
  try {
    return statSync(STAMP).mtimeMs;
  } catch {
    return 0;
  }
}

/** Runs `npm run build`'s compiler if dist/ is older than its sources; resolves once dist/ is current. */
export async function ensureBuilt(log: (line: string) => void = () => {}): Promise<void> {
  const sourcesAt = Math.max(...INPUTS.map((p) => newestMtimeMs(path.join(ROOT, p))));
  if (builtAtMs() >= sourcesAt) return;
  log('building dist/ from src/ (tsc -p tsconfig.build.json)');
  const started = Date.now();
  const output = await new Promise<string>((resolve, reject) => {
    const tsc = require.resolve('typescript/bin/tsc');
    const child = spawn(process.execPath, [tsc, '-p', 'tsconfig.build.json'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let text = '';
    child.stdout.on('data', (d: Buffer) => (text += d.toString()));
    child.stderr.on('data', (d: Buffer) => (text += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve(text) : reject(new Error(`building dist/ failed (tsc exit ${code}):\n${text}`)),
    );
  });
  if (output.trim()) log(output.trim());
  // tsc leaves its build info untouched when nothing needed emitting; the stamp must still say "current".
  const now = new Date();
  utimesSync(STAMP, now, now);
  log(`built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
