/**
 * `wa-campaigns worker` as ops run it: a separate process, configured by environment only, serving
 * /healthz and /metrics, stopping gracefully on SIGTERM; and the one-line errors for bad settings.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { freePort } from '../helpers/net';
import { until } from '../helpers/poll';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createDevServerEnv } from '../helpers/temporal';

const BIN = path.resolve(__dirname, '../../bin/wa-campaigns.js');
let env: TestWorkflowEnvironment;

beforeAll(async () => {
  env = await createDevServerEnv();
});
afterAll(async () => {
  await env?.teardown();
});

interface Run {
  child: ChildProcess;
  output: () => string;
  exit: Promise<number | null>;
}

function run(args: string[], extraEnv: Record<string, string>): Run {
  let output = '';
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, LOG_LEVEL: 'info', ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exit };
}

/** Fetches `url` until it answers 200 (a refused connection means "not listening yet"). */
function waitForHealthy(url: string, deadlineMs: number): Promise<Response> {
  return until(
    `${url} to become healthy`,
    async () => {
      const res = await fetch(url);
      return res.ok ? res : undefined;
    },
    { timeoutMs: deadlineMs, everyMs: 250 },
  );
}

describe('wa-campaigns worker', () => {
  it('serves health and metrics, and drains on SIGTERM', async () => {
    const httpPort = await freePort();
    const corePort = await freePort();
    const worker = run(['worker'], {
      TEMPORAL_ADDRESS: env.address,
      TEMPORAL_NAMESPACE: env.namespace ?? 'default',
      WA_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'wa-worker-')),
      WA_WORKER_HTTP_PORT: String(httpPort),
      WA_CORE_METRICS_PORT: String(corePort),
      WA_TASK_QUEUE: `service-${httpPort}`,
    });
    try {
      const health = await waitForHealthy(`http://127.0.0.1:${httpPort}/healthz`, 60_000);
      expect(await health.json()).toMatchObject({
        status: 'ok',
        worker: 'RUNNING',
        taskQueue: `service-${httpPort}`,
      });
      const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
      expect(metrics).toContain('wa_sends_total');
      expect(metrics).toContain('wa_worker_running 1');
      // The Temporal core's own metrics are merged in (its exporter is on loopback only).
      expect(metrics).toMatch(/^temporal_\w+/m);
      worker.child.kill('SIGTERM');
      expect(await worker.exit).toBe(0);
      expect(worker.output()).toMatch(/"msg":"worker stopped"/);
    } finally {
      worker.child.kill('SIGKILL');
    }
  });

  it('names the bad setting in one line when DATABASE_URL is malformed', async () => {
    const bad = run(['worker'], { DATABASE_URL: 'mysql://somewhere/db' });
    expect(await bad.exit).toBe(1);
    const lines = bad.output().trim().split('\n');
    expect(lines.at(-1)).toMatch(
      /^wa-campaigns: invalid configuration: DATABASE_URL: must be a postgres:\/\//,
    );
    expect(bad.output()).not.toMatch(/\n\s+at /);
  });

  it('names TEMPORAL_ADDRESS in one line when Temporal cannot be reached', async () => {
    const port = await freePort();
    const unreachable = run(['worker'], {
      TEMPORAL_ADDRESS: `127.0.0.1:${port}`,
      WA_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'wa-worker-')),
      WA_WORKER_HTTP_PORT: '0',
      WA_CORE_METRICS_PORT: '0',
    });
    expect(await unreachable.exit).toBe(1);
    const last = unreachable.output().trim().split('\n').at(-1);
    expect(last).toMatch(
      new RegExp(`^wa-campaigns: TEMPORAL_ADDRESS \\(127\\.0\\.0\\.1:${port}\\): cannot reach Temporal`),
    );
  });
});
