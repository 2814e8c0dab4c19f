/**
 * The product's services as real child processes, configured by environment only, as ops run them:
 * `wa-campaigns worker` and `wa-campaigns ingest`, started and waited for through their health endpoint.
 * Used by the crash tests and the benchmarks (no test-runner imports here).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { freePort } from './net';
import { GiveUp, until } from './poll';

export const BIN = path.resolve(__dirname, '../../bin/wa-campaigns.js');

/** A child process of ours that we can kill -9 and wait for. */
export interface ChildHandle {
  readonly child: ChildProcess;
  /** The service's health and metrics port, for services. */
  httpPort?: number;
  output(): string;
  readonly exited: Promise<number | null>;
  /** SIGKILL, resolved once the process is gone. */
  kill9(): Promise<void>;
  /** SIGTERM (SIGKILL after `graceMs`), resolved once the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

export function spawnChild(command: string, args: string[], env: NodeJS.ProcessEnv): ChildHandle {
  let output = '';
  const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const keep = (d: Buffer) => {
    output += d.toString();
    if (output.length > 200_000) output = output.slice(-100_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<number | null>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
  const gone = () => child.exitCode !== null || child.signalCode !== null;
  return {
    child,
    output: () => output,
    exited,
    async kill9() {
      if (!gone()) child.kill('SIGKILL');
      await exited;
    },
    async stop(graceMs = 5_000) {
      if (!gone()) child.kill('SIGTERM');
      const timer = setTimeout(() => {
        if (!gone()) child.kill('SIGKILL');
      }, graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

export interface WorkerSettings {
  temporalAddress: string;
  databaseUrl: string;
  emulatorUrl: string;
  taskQueue: string;
}

/** Starts `wa-campaigns worker` and waits until its health endpoint reports it running. */
export async function startWorkerProcess(settings: WorkerSettings): Promise<ChildHandle> {
  const port = await freePort();
  const handle = await startServiceProcess('worker', settings, port, {
    WA_WORKER_HTTP_PORT: String(port),
    WA_CORE_METRICS_PORT: '0',
  });
  handle.httpPort = port;
  return handle;
}

/**
 * Starts a service of the product (`wa-campaigns worker` or `ingest`) as ops run it, configured by
 * environment only, and waits until `/healthz` on `healthPort` answers.
 */
export async function startServiceProcess(
  command: 'worker' | 'ingest',
  settings: WorkerSettings,
  healthPort: number,
  extraEnv: Record<string, string>,
  timeoutMs = 120_000,
): Promise<ChildHandle> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    // Node flags for the service alone (e.g. a heap limit to measure its memory against its rate).
    ...(process.env.WA_SERVICE_NODE_OPTIONS ? { NODE_OPTIONS: process.env.WA_SERVICE_NODE_OPTIONS } : {}),
    TEMPORAL_ADDRESS: settings.temporalAddress,
    TEMPORAL_NAMESPACE: 'default',
    DATABASE_URL: settings.databaseUrl,
    AWS_ENDPOINT_URL_SOCIALMESSAGING: settings.emulatorUrl,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    WA_TASK_QUEUE: settings.taskQueue,
    WA_HTTP_HOST: '127.0.0.1',
    WA_SHUTDOWN_GRACE_MS: '2000',
    LOG_LEVEL: 'warn',
    ...extraEnv,
  };
  // The test's client uses the default data converter: the services must too.
  delete env.WA_CODEC_KEYS;
  delete env.TEMPORAL_API_KEY;
  const child = spawnChild(process.execPath, [BIN, command], env);
  let gone = false;
  void child.exited.then(() => (gone = true));
  try {
    await until(
      `the ${command} to report healthy`,
      async () => {
        if (gone)
          throw new GiveUp(`${command} exited before it was healthy:\n${child.output().slice(-3_000)}`);
        const res = await fetch(`http://127.0.0.1:${healthPort}/healthz`);
        return res.ok ? true : undefined;
      },
      { timeoutMs, everyMs: 200 },
    );
  } catch (err) {
    await child.kill9();
    throw err;
  }
  return child;
}
