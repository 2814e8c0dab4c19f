/**
 * The Temporal dev server, file-backed (SQLite), killed with SIGKILL mid-campaign and started again on
 * the same port and file. The worker (a child process) and this test's client reconnect; the running send
 * activity keeps its intent/outcome discipline meanwhile; the campaigns complete with nobody lost and no
 * uncounted duplicate.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres';
import { freePort } from '../helpers/net';
import { GiveUp, sleep, until } from '../helpers/poll';
import { spawnChild, type ChildHandle } from '../helpers/services';
import { getProvisionedServer } from '../helpers/temporal';
import { startCrashRig, untilUnderWay, finishCampaignPair, beginCrashRun, type CrashRig } from './harness';

const MPS = 300;
const AT_MOST_ONCE = 600;
const AT_LEAST_ONCE = 400;
// Short time slices, so activities complete and new ones are scheduled around the outage too.
const TUNING = { ambiguityWaitMs: 2_000, sendHeartbeatTimeoutMs: 15_000, batchMaxMs: 4_000 };

let database: TestDatabase;
let temporal: DevServer;
let connection: Connection;
let rig: CrashRig;
const dir = mkdtempSync(path.join(tmpdir(), 'wa-crash-temporal-'));

interface DevServer {
  address: string;
  child: ChildHandle;
  /** SIGKILL, then the same command again: same port, same database file. */
  restart(downMs: number): Promise<number>;
  stop(): Promise<void>;
}

/** `temporal server start-dev` with a database file, as our own child process. */
async function startDevServer(): Promise<DevServer> {
  const provisioned = await getProvisionedServer('devServer');
  if (!provisioned.path) throw new Error(`no local Temporal CLI to run: ${provisioned.detail}`);
  const executable = provisioned.path;
  const [port, httpPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
  const address = `127.0.0.1:${port}`;
  const args = [
    'server',
    'start-dev',
    '--headless',
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    '--http-port',
    String(httpPort),
    '--metrics-port',
    String(metricsPort),
    '--db-filename',
    path.join(dir, 'temporal.sqlite'),
    '--log-level',
    'error',
    '--dynamic-config-value',
    'frontend.enableServerVersionCheck=false',
  ];
  const launch = async (): Promise<ChildHandle> => {
    const child = spawnChild(executable, args, process.env);
    await until(
      'the Temporal dev server to answer',
      async () => {
        if (child.child.exitCode !== null || child.child.signalCode !== null)
          throw new GiveUp(`the dev server exited:\n${child.output().slice(-2_000)}`);
        const probe = await Connection.connect({ address, connectTimeout: 1_000 });
        await probe.close();
        return true;
      },
      { timeoutMs: 60_000, everyMs: 200 },
    );
    return child;
  };
  const server: DevServer = {
    address,
    child: await launch(),
    async restart(downMs) {
      const began = Date.now();
      await server.child.kill9();
      await sleep(downMs);
      server.child = await launch();
      return Date.now() - began;
    },
    stop: () => server.child.stop(),
  };
  return server;
}

// The test runs the Temporal CLI itself; where the SDK downloads its own server instead (no Go here),
// there is no CLI to run and the test is skipped.
let localCli: string | undefined;

beforeAll(async () => {
  localCli = (await getProvisionedServer('devServer')).path;
  if (!localCli) return;
  [temporal, database] = await Promise.all([startDevServer(), createTestDatabase('crash_temporal')]);
  connection = await Connection.connect({ address: temporal.address });
  rig = await startCrashRig({
    label: 'temporal',
    databaseUrl: database.url,
    temporal: { address: temporal.address, client: new Client({ connection }) },
    mps: MPS,
  });
});

afterAll(async () => {
  await rig?.close();
  await connection?.close();
  await temporal?.stop();
  await database?.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('Temporal dev server (file-backed) killed and restarted mid-campaign', () => {
  it('completes both campaigns with nobody lost and no uncounted duplicate', async (context) => {
    if (!localCli) context.skip('no local Temporal CLI: the SDK downloads its own server here');
    const { pair, mark } = await beginCrashRun(
      rig,
      'temporal',
      { atMostOnce: AT_MOST_ONCE, atLeastOnce: AT_LEAST_ONCE },
      TUNING,
    );
    const target = Math.round((0.25 + Math.random() * 0.2) * pair.total);
    await untilUnderWay(rig.database.db, pair.ids, target);
    mark(`${target} under way`);
    await sleep(Math.random() * 250);
    const downFor = await temporal.restart(1_000);
    mark('Temporal restarted');

    await finishCampaignPair(
      rig,
      pair,
      'temporal',
      `down ${downFor} ms at ${Math.round((100 * target) / pair.total)}%`,
    );
    mark('both completed and verified');
  }, 240_000);
});
