/**
 * `npm run provision`: make sure the Temporal dev server and the time-skipping test server are available
 * offline (see tools/temporal-binaries.ts), and say what was found or built and how long it took.
 *
 *   npm run provision                      # find or build both; instant when cached
 *   npm run provision -- --force           # rebuild both (overrides in the environment still win)
 *   npm run provision -- --measure         # also time test-server start-up, untuned vs. the wrapper
 *   npm run provision -- --dev-only | --test-only
 *
 * Exit code 0 means both servers can be started: either a local build or an override exists, or the
 * toolchain is missing and the SDK will download its own copy (which needs internet; printed as a warning).
 */
import {
  ensureDevServer,
  ensureTestServer,
  measureServerStartup,
  resolveCacheDir,
  type ProvisionedServer,
} from '../tools/temporal-binaries';

async function main(): Promise<void> {
  const args = new Set(process.argv.slice(2));
  for (const arg of args) {
    if (!['--force', '--measure', '--dev-only', '--test-only'].includes(arg)) {
      throw new Error(`unknown option ${arg} (expected --force, --measure, --dev-only or --test-only)`);
    }
  }
  const force = args.has('--force');
  const log = (line: string): void => console.log(`  ${line}`);
  console.log(`cache: ${resolveCacheDir()}`);

  let downloadsNeeded = false;
  if (!args.has('--test-only')) {
    console.log('» Temporal dev server');
    const dev = await ensureDevServer({ force, log });
    report(dev);
    downloadsNeeded ||= dev.source === 'sdk-download';
  }
  if (!args.has('--dev-only')) {
    console.log('» Temporal time-skipping test server');
    const test = await ensureTestServer({ force, log });
    report(test);
    downloadsNeeded ||= test.source === 'sdk-download';
    if (args.has('--measure') && test.path) {
      const runs = await measureServerStartup(test.path, { runs: 5 });
      console.log(`  start-up to first answer now: ${runs.join(', ')} ms (the SDK allows 5000 ms)`);
    }
  }
  if (downloadsNeeded) {
    console.log(
      'warning: at least one server will be downloaded by the Temporal SDK on first use, which needs internet access.',
    );
  }
}

function report(server: ProvisionedServer): void {
  const how = {
    env: 'override',
    cache: 'cached',
    built: 'built',
    'sdk-download': 'not available locally',
  }[server.source];
  console.log(`  ${how}: ${server.detail}`);
  if (server.source === 'sdk-download')
    console.log('  the Temporal SDK will download its own copy when a server is started');
  console.log(`  took ${formatMs(server.elapsedMs)}`);
  if (server.startup) {
    console.log(
      `  start-up to first answer (measured when built): ${server.startup.untunedMs} ms untuned, ` +
        `${server.startup.tunedMs} ms with the wrapper's tuning`,
    );
  }
  if (server.path) console.log(`  executable: ${server.path}`);
}

function formatMs(ms: number): string {
  return ms < 10_000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

main().catch((err: unknown) => {
  console.error(`provisioning failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
