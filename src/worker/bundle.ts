/**
 * Bundles the workflow code in a short-lived child process. Webpack needs a few hundred MB while it works,
 * and a long-lived worker would keep that memory for the rest of its life (V8 rarely gives heap back to
 * the system); done in a child, the worker's footprint is what running workflows and activities costs.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const ENTRY = [path.join(__dirname, 'bundle-main.ts'), path.join(__dirname, 'bundle-main.js')].find((f) =>
  existsSync(f),
);

export interface ChildBundleOptions {
  /** Must match the worker's data converter (src/shared/data-converter.ts). */
  failureConverterPath?: string;
}

export async function bundleWorkflowsInChild(options: ChildBundleOptions = {}): Promise<{ code: string }> {
  if (!ENTRY) throw new Error('the workflow bundler entry (src/worker/bundle-main) is missing');
  const dir = mkdtempSync(path.join(tmpdir(), 'wa-bundle-'));
  const out = path.join(dir, 'workflows.js');
  try {
    const args = [
      ...(ENTRY.endsWith('.ts') ? ['--require', require.resolve('tsx/cjs')] : []),
      ENTRY,
      out,
      options.failureConverterPath ?? '',
    ];
    await new Promise<void>((resolve, reject) => {
      const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
      let errors = '';
      child.stderr.on('data', (d: Buffer) => (errors += d.toString()));
      child.once('error', reject);
      child.once('exit', (code) =>
        code === 0
          ? resolve()
          : reject(new Error(`bundling the workflows failed (exit ${code}): ${errors.trim()}`)),
      );
    });
    return { code: readFileSync(out, 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
