/**
 * How long the CLI takes to start, as whole processes started through the bin the way a shell starts
 * them: `wa-campaigns --help`, and `wa-campaigns campaign status` up to its first connection (its
 * database is a port nobody listens on, so the figure is loading what the command needs, not its queries).
 * Wall time from spawn to exit, and CPU seconds of the process as `/usr/bin/time` counts them; several
 * runs after one warm-up, reported as min / median / max, next to a bare `node -e ''` for what Node itself
 * costs on this machine at this moment.
 *
 * Run alone: `tsx bench/cli-startup.ts`.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { round, runAsScript, type BenchRow } from './engine-pacing';
import { reapedChildrenCpuSeconds } from './proc';
import { freePort } from '../test/helpers/net';

const BIN = path.resolve(__dirname, '../bin/wa-campaigns.js');
const RUNS = 7;

interface Sample {
  wallS: number;
  cpuS: number;
}

/** Runs `node <args>` once to its exit, which must have the expected code. */
function runOnce(args: string[], env: NodeJS.ProcessEnv, expectCode: number): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const cpuBefore = reapedChildrenCpuSeconds();
    const started = process.hrtime.bigint();
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      const wallS = Number(process.hrtime.bigint() - started) / 1e9;
      if (code !== expectCode) {
        reject(new Error(`node ${args.join(' ')} exited ${code}: ${stderr.trim()}`));
        return;
      }
      resolve({ wallS, cpuS: reapedChildrenCpuSeconds() - cpuBefore });
    });
  });
}

function spread(values: number[]): { min: number; median: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  return { min: sorted[0]!, median: sorted[Math.floor(sorted.length / 2)]!, max: sorted[sorted.length - 1]! };
}

async function measure(
  name: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  expectCode: number,
  target?: string,
): Promise<BenchRow[]> {
  await runOnce(args, env, expectCode); // warm-up: file system cache, compile caches
  const samples: Sample[] = [];
  // One after another: two processes at once would measure the machine's two cores, not the CLI.
  for (let i = 0; i < RUNS; i++) samples.push(await runOnce(args, env, expectCode));
  const wall = spread(samples.map((s) => s.wallS));
  const cpu = spread(samples.map((s) => s.cpuS));
  const row = (label: string, s: ReturnType<typeof spread>): BenchRow => ({
    metric: `${name} ${label} min / median / max (${RUNS} runs)`,
    value: round(s.median),
    unit: `s (${round(s.min)} / ${round(s.median)} / ${round(s.max)})`,
  });
  return [{ ...row('wall', wall), ...(target ? { target } : {}) }, row('CPU', cpu)];
}

/** The `cli` section: start-up of `--help` and of `campaign status`. */
export async function benchCliStartup(): Promise<BenchRow[]> {
  const refused = await freePort();
  const env = {
    ...process.env,
    DATABASE_URL: `postgres://wa:wa@127.0.0.1:${refused}/wa`,
    TEMPORAL_ADDRESS: `127.0.0.1:${refused}`,
  };
  return [
    ...(await measure("node -e ''", ['-e', ''], env, 0)),
    ...(await measure('--help', [BIN, '--help'], env, 0, '<= 0.3 s')),
    ...(await measure('campaign status', [BIN, 'campaign', 'status', 'cmp_bench'], env, 1, '<= 0.5 s')),
  ];
}

if (require.main === module) runAsScript(benchCliStartup);
