/**
 * Tier benchmark: how much of a number's messaging limit (unique users per rolling window) the engine
 * uses when a campaign has more recipients than the tier allows, without ever passing it. The run is made
 * quick with a small tier and a short window, set alike in the emulator's world and in our database:
 * by default TIER_250 (the emulator only knows Meta's named tiers) over a 20 s window, 200 MPS, and a
 * campaign to 3 × the tier distinct users, so the budget runs out twice and the campaign waits on it.
 *
 * Figures, all from the platform's side (the emulator's send log and refusals):
 * - most new users in any rolling window / tier: distinct recipients of accepted sends in the busiest
 *   window (as `auditSendLog` counts them). Above 1.00 the engine overshot the tier.
 * - budget used while work was waiting: from the first moment the platform's rolling window held a full
 *   tier (from then on the campaign's remaining recipients wait only for budget) until the last send, the
 *   distinct users the platform counts in the rolling window ending at each instant of a 50 ms grid,
 *   divided by the tier, averaged over the grid. 1.00 would mean a user is reached the instant another
 *   leaves the window. Our engine records each user's reach a little after their slot (REACH_SLACK_MS in
 *   src/activities/send-batch.ts, moved to the platform's answer if that comes later), so its ledger never
 *   frees a user before the platform does; the budget then comes back that much later, plus the time the
 *   engine takes to notice and claim it. That loss is a fixed time per refill, so the figure depends on
 *   the window: with Meta's 24 h window it is practically 1.
 *   Only sends the platform counted against the tier enter this figure (not ones it failed).
 * - refusals by the platform for the tier (sends past the limit, which the emulator fails with 131048
 *   by default) and for the per-user marketing limit (131049), from /_emulator/rejections.
 *
 * Tuning knobs: BENCH_TIER (a tier name), BENCH_TIER_WINDOW_SECONDS, BENCH_TIER_MPS, BENCH_TIER_RECIPIENTS;
 * BENCH_DUMP=<prefix> writes the send times and recipients to <prefix>-tier-<time>.json.
 * Runs standalone: `tsx bench/tier-budget.ts`.
 */
import { writeFileSync } from 'node:fs';
import { auditSendLog, fetchSendLog, type LoggedSend } from '../tools/send-log-audit';
import { DEMO_PHONE_NUMBER_ID, type Tier } from '../src/emulator';
import { TIERS, TIER_LIMITS } from '../src/emulator/config';
import { startEmulatorProcess } from './emulator-process';
import {
  fetchRejections,
  round,
  runAsScript,
  startBenchCampaign,
  withBenchEngine,
  withBenchHarness,
  worldAt,
  type BenchRow,
} from './engine-pacing';

const GRID_MS = 50;

export async function benchTierBudget(
  opts: { tier?: Tier; windowSeconds?: number; mps?: number; recipients?: number } = {},
): Promise<BenchRow[]> {
  const tier = opts.tier ?? tierFromEnv();
  const limit = TIER_LIMITS[tier];
  if (!Number.isFinite(limit)) throw new Error(`the tier benchmark needs a limited tier, not ${tier}`);
  const windowSeconds = opts.windowSeconds ?? Number(process.env.BENCH_TIER_WINDOW_SECONDS ?? 20);
  const windowMs = windowSeconds * 1000;
  const mps = opts.mps ?? Number(process.env.BENCH_TIER_MPS ?? 200);
  const recipients = opts.recipients ?? Number(process.env.BENCH_TIER_RECIPIENTS ?? limit * 3);
  const label = `${tier} per ${windowSeconds} s at ${mps}/s, ${recipients} users`;

  const emulator = await startEmulatorProcess(worldAt(mps, { tier, windowMs }));
  try {
    await withBenchHarness((harness) =>
      withBenchEngine(
        harness,
        emulator.url,
        { mps, tierLimit: limit, tierWindowSeconds: windowSeconds },
        ({ worker, campaigns }) =>
          worker.runUntil(async () => {
            await campaigns.waitForEnd(await startBenchCampaign(campaigns, recipients));
          }),
      ),
    );
    const sends = await fetchSendLog(emulator.url, DEMO_PHONE_NUMBER_ID);
    if (process.env.BENCH_DUMP) {
      const dump = sends.map((s) => ({ at: s.acceptedAtMs, to: s.to }));
      writeFileSync(`${process.env.BENCH_DUMP}-tier-${Date.now()}.json`, JSON.stringify(dump));
    }
    const rejections = await fetchRejections(emulator.url);
    const audit = auditSendLog(sends, { mps, tier: limit, tierWindowMs: windowMs });
    const use = budgetUse(
      sends.filter((s) => !(s as CountedSend).asyncFailureCode),
      limit,
      windowMs,
    );
    const refused = rejections.filter((r) => r.reason === 'messaging-limit' || r.code === 131049).length;
    const times = sends.map((s) => s.acceptedAtMs);
    return [
      {
        metric: `tier: most new users in any rolling window / tier (${label})`,
        value: round(audit.maxPerTierWindow / limit),
        unit: 'ratio',
        target: '≤ 1.00',
      },
      {
        metric: `tier: budget used while work was waiting (${round(use.spanMs / 1000)} s, ${GRID_MS} ms grid)`,
        value: round(use.ratio),
        unit: 'ratio',
        target: '≥ 0.99',
      },
      {
        metric: 'tier: platform refusals for the tier (131048, past the limit) or 131049',
        value: refused,
        unit: 'refusals',
        target: '0',
      },
      { metric: 'tier: sends accepted', value: sends.length, unit: 'msgs' },
      {
        metric: 'tier: first to last send',
        value: round((Math.max(...times) - Math.min(...times)) / 1000),
        unit: 's',
      },
    ];
  } finally {
    await emulator.close();
  }
}

/** The send log's entries carry the async failure code the emulator gave a send it accepted. */
type CountedSend = LoggedSend & { asyncFailureCode?: number };

/**
 * The platform's budget use over the time recipients waited for it: from the moment the rolling window
 * first held `limit` distinct users until the last send, the mean over a grid of the distinct users in
 * the window ending at each grid instant (a user counts while sent at > t − window, as the emulator
 * counts), over `limit`.
 */
function budgetUse(
  sends: readonly LoggedSend[],
  limit: number,
  windowMs: number,
): { ratio: number; spanMs: number } {
  const sorted = [...sends].sort((a, b) => a.acceptedAtMs - b.acceptedAtMs);
  const inWindow = new Map<string, number>();
  let start = 0;
  let end = 0;
  /** Moves the window to end at `t` and returns the distinct users in it. */
  const usersAt = (t: number): number => {
    for (; end < sorted.length && sorted[end]!.acceptedAtMs <= t; end++) {
      inWindow.set(sorted[end]!.to, (inWindow.get(sorted[end]!.to) ?? 0) + 1);
    }
    for (; start < end && sorted[start]!.acceptedAtMs <= t - windowMs; start++) {
      const user = sorted[start]!.to;
      const n = (inWindow.get(user) ?? 1) - 1;
      if (n === 0) inWindow.delete(user);
      else inWindow.set(user, n);
    }
    return inWindow.size;
  };
  // The first instant the window is full is the acceptance of some send: look at each in turn.
  const fullAt = sorted.find((s) => usersAt(s.acceptedAtMs) >= limit)?.acceptedAtMs;
  const lastMs = sorted[sorted.length - 1]?.acceptedAtMs;
  if (fullAt === undefined || lastMs === undefined || lastMs <= fullAt) return { ratio: 0, spanMs: 0 };
  inWindow.clear();
  start = 0;
  end = 0;
  let sum = 0;
  let samples = 0;
  for (let t = fullAt; t <= lastMs; t += GRID_MS) {
    sum += usersAt(t) / limit;
    samples++;
  }
  return { ratio: sum / samples, spanMs: lastMs - fullAt };
}

function tierFromEnv(): Tier {
  const name = process.env.BENCH_TIER ?? 'TIER_250';
  const tier = TIERS.find((t) => t === name);
  if (!tier) throw new Error(`BENCH_TIER must be one of ${TIERS.join(', ')}`);
  return tier;
}

if (require.main === module) runAsScript(benchTierBudget);
