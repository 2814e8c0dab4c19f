/**
 * `npm run bench`: every benchmark in one run. Prints a table and writes it as JSON to
 * bench/results/<time>.json so runs can be compared. Sections can be picked: `npm run bench -- pacing`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { benchEnginePacing, type BenchRow } from './engine-pacing';
import { benchEmulatorThroughput } from './emulator-throughput';
import { benchImport } from './import';
import { benchTierBudget } from './tier-budget';
import { benchBrake } from './brake';
import { benchScale } from './scale';
import { benchIngestThroughput } from './ingest-throughput';
import { benchCliStartup } from './cli-startup';
import { startPostgres } from '../test/helpers/postgres';
import { ensureBuilt } from '../tools/build';

/**
 * The ingest service against a real PostgreSQL server: BENCH_DATABASE_URL, else a throw-away one that
 * keeps its durability settings, since the figure is for events durably stored.
 */
async function benchIngest(): Promise<BenchRow[]> {
  if (process.env.BENCH_DATABASE_URL) return benchIngestThroughput();
  const server = await startPostgres({ durable: true });
  try {
    return await benchIngestThroughput({ databaseUrl: server.url });
  } finally {
    await server.stop();
  }
}

const SECTIONS: Record<string, () => Promise<BenchRow[]>> = {
  emulator: () => benchEmulatorThroughput(),
  pacing: () => benchEnginePacing(),
  import: () => benchImport(),
  tier: () => benchTierBudget(),
  brake: () => benchBrake(),
  scale: () => benchScale(),
  ingest: () => benchIngest(),
  cli: () => benchCliStartup(),
};

async function main(): Promise<void> {
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const names = wanted.length > 0 ? wanted : Object.keys(SECTIONS);
  const results: (BenchRow & { section: string })[] = [];
  // The sections start the CLI and services through the bin, which runs dist/.
  await ensureBuilt((line) => process.stderr.write(`  ${line}\n`));
  for (const name of names) {
    const run = SECTIONS[name];
    if (!run)
      throw new Error(`unknown benchmark section "${name}"; known: ${Object.keys(SECTIONS).join(', ')}`);
    process.stderr.write(`» ${name}\n`);
    const started = Date.now();
    try {
      for (const row of await run()) results.push({ section: name, ...row });
    } catch (err) {
      results.push({
        section: name,
        metric: 'failed',
        value: Number.NaN,
        unit: String((err as Error).message ?? err),
      });
    }
    process.stderr.write(`  ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  }
  console.table(results);
  const dir = path.join(__dirname, 'results');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(
    file,
    JSON.stringify({ at: new Date().toISOString(), node: process.version, results }, null, 2),
  );
  console.log(`written to ${path.relative(process.cwd(), file)}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
