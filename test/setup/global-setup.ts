/**
 * Runs once per vitest run, before any test file:
 *
 * - brings dist/ up to date with src/ (tools/build.ts), since tests start the CLI and the services
 *   through the bin, which runs the compiled code; a build that fails ends the run with tsc's errors;
 * - provisions the Temporal dev server and time-skipping test server (instant when cached; the first run
 *   on a fresh machine builds them, which takes minutes) so test files never race to build them;
 * - starts a throw-away PostgreSQL server unless TEST_DATABASE_URL is set, and stops it afterwards.
 *
 * Neither failure aborts the run: the reason is provided instead, and test/helpers/temporal.ts resp.
 * test/helpers/postgres.ts throw it, in full, in the tests that need that server. Tests that need neither
 * (most unit tests) still run.
 */
import type { TestProject } from 'vitest/node' with { 'resolution-mode': 'import' };
import { ensureDevServer, ensureTestServer, type ProvisionedServer } from '../../tools/temporal-binaries';
import { ensureBuilt } from '../../tools/build';
import { startPostgres, type PostgresProvision, type PostgresServer } from '../helpers/postgres';
import type { ServerProvision, TemporalProvision } from '../helpers/temporal';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const log = (line: string): void => console.log(`[global-setup] ${line}`);

  const [temporal, pg] = await Promise.all([
    ensureBuilt(log).then(() => provisionTemporal(log)),
    providePostgres(log),
  ]);
  project.provide('waTemporal', temporal);
  project.provide('waPostgres', pg.provision);

  return async () => {
    await pg.server?.stop();
  };
}

async function provisionTemporal(log: (line: string) => void): Promise<TemporalProvision> {
  // Sequential: both builds are CPU-heavy and there are two cores.
  const devServer = await provisionOne('dev server', () => ensureDevServer({ log }), log);
  const testServer = await provisionOne('time-skipping test server', () => ensureTestServer({ log }), log);
  return { devServer, testServer };
}

async function provisionOne(
  name: string,
  ensure: () => Promise<ProvisionedServer>,
  log: (line: string) => void,
): Promise<ServerProvision> {
  try {
    const server = await ensure();
    if (server.source === 'built') log(`${name}: ${server.detail}`);
    if (server.source === 'sdk-download') {
      log(`${name}: ${server.detail}; the Temporal SDK will download it on first use`);
    }
    return { ok: true, server };
  } catch (err) {
    const error = `Provisioning the Temporal ${name} failed: ${err instanceof Error ? err.message : String(err)}`;
    log(error);
    return { ok: false, error };
  }
}

async function providePostgres(
  log: (line: string) => void,
): Promise<{ provision: PostgresProvision; server?: PostgresServer }> {
  const fromEnv = process.env.TEST_DATABASE_URL;
  if (fromEnv) return { provision: { url: fromEnv } };
  try {
    const server = await startPostgres();
    return { provision: { url: server.url }, server };
  } catch (err) {
    const error = err instanceof Error ? err.message : String(err);
    log(`no PostgreSQL for this run: ${error}`);
    return { provision: { error } };
  }
}
