/** Child-process entry of bundleWorkflowsInChild: `bundle-main <out file> [failure converter path]`. */
import { writeFileSync } from 'node:fs';
import { bundleWorkflowCode } from '@temporalio/worker';
import { WORKFLOWS_PATH } from './create-worker';

async function main(): Promise<void> {
  const [out, failureConverterPath] = process.argv.slice(2);
  if (!out) throw new Error('usage: bundle-main <out file> [failure converter path]');
  const silent = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };
  const { code } = await bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    ...(failureConverterPath ? { failureConverterPath } : {}),
    logger: silent,
  });
  writeFileSync(out, code);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
