/**
 * Brake benchmark: how far a running campaign rolls on after its template's quality drops to RED. A
 * campaign sends `hello_world` at the number's full rate on the emulator; once it has sent for a couple
 * of seconds, the template is turned RED through the emulator's control API. The ingest service is
 * subscribed to the emulator's topic, so the whole production path is measured: the platform's event →
 * SNS → ingest (stored, outbox) → workflow signal → the send activity cancelled through its heartbeat,
 * and, racing it, the send activity's own look-up of the template (once a second), which does not wait
 * behind the status events queued for the ingest service.
 *
 * Brake distance: the messages the platform accepted after the RED event (the emulator's event log gives
 * its time on the platform's clock, as the send log does), also as seconds of sending at the number's
 * MPS. Context rows: the sends accepted in the second before the event (the rate really reached), the
 * time to the last accepted send, the time until the workflow's state (its progress query, polled every
 * 50 ms) shows the pause — the moment the signal was handled, before the send activity has stopped — and
 * how many platform events (mostly message statuses, about two per send within seconds) were still queued
 * for the ingest service when the RED event was published: the RED event is delivered behind them.
 * Two variants:
 * - `event`: the RED quality event comes with the template staying sendable (status FLAGGED, which Meta
 *   sends ahead of a pause and the engine does not act on), so only the RED quality itself (the event or
 *   the engine's look-up) can stop the engine;
 * - `pause`: RED alone, which the emulator also turns into an immediate pause of the template: sends are
 *   then refused with 132015 and that refusal brakes the engine too (whichever comes first). Accepted
 *   sends after the event are then only those the platform took before it applied the pause; the
 *   refused attempts show how long the engine kept trying.
 * The campaign is cancelled afterwards.
 *
 * Tuning knobs: BENCH_BRAKE_RATES (default 80,1000), BENCH_BRAKE_VARIANTS (default event,pause).
 * Runs standalone: `tsx bench/brake.ts`.
 */
import { startIngestForEmulator } from '../tools/ingest-for-emulator';
import { fetchSendLog } from '../tools/send-log-audit';
import { DEMO_PHONE_NUMBER_ID, DEMO_TOPIC_ARN } from '../src/emulator';
import { until } from '../test/helpers/poll';
import { startEmulatorProcess } from './emulator-process';
import {
  BENCH_TEMPLATE,
  fetchRejections,
  benchLogger,
  round,
  runAsScript,
  startBenchCampaign,
  withBenchEngine,
  withBenchHarness,
  worldAt,
  type BenchHarness,
  type BenchRow,
} from './engine-pacing';

type Variant = 'event' | 'pause';

/** Seconds of sending before the template turns RED. */
const WARMUP_SECONDS = 2;
/** Recipients, in seconds of sending: enough that the campaign is still going when it should stop. */
const CAMPAIGN_SECONDS = 12;
const POLL_MS = 50;

const VARIANT_LABEL: Record<Variant, string> = {
  event: 'RED event, template still sendable',
  pause: 'RED event, template paused by the platform',
};

export async function benchBrake(opts: { rates?: number[]; variants?: Variant[] } = {}): Promise<BenchRow[]> {
  const rates = opts.rates ?? (process.env.BENCH_BRAKE_RATES ?? '80,1000').split(',').map(Number);
  const variants =
    opts.variants ??
    (process.env.BENCH_BRAKE_VARIANTS ?? 'event,pause').split(',').map((v) => {
      if (v !== 'event' && v !== 'pause') throw new Error(`BENCH_BRAKE_VARIANTS: unknown variant "${v}"`);
      return v;
    });
  const rows: BenchRow[] = [];
  await withBenchHarness(async (harness) => {
    for (const mps of rates) {
      for (const variant of variants) rows.push(...(await brakeOnce(harness, mps, variant)));
    }
  });
  return rows;
}

async function brakeOnce(harness: BenchHarness, mps: number, variant: Variant): Promise<BenchRow[]> {
  const emulator = await startEmulatorProcess(worldAt(mps));
  const url = emulator.url;
  try {
    return await withBenchEngine(harness, url, { mps, tierLimit: null }, async (engine) => {
      const ingest = await startIngestForEmulator({
        db: engine.db,
        temporal: harness.env.client,
        taskQueue: engine.taskQueue,
        emulatorUrl: url,
        topicArn: DEMO_TOPIC_ARN,
        logger: benchLogger,
      });
      try {
        return await engine.worker.runUntil(async () => {
          const { campaigns } = engine;
          const campaignId = await startBenchCampaign(campaigns, mps * CAMPAIGN_SECONDS);
          await waitFor('sending to be under way', async () =>
            (await logTotal(url, 'sends')) >= mps * WARMUP_SECONDS ? true : undefined,
          );
          const backlog = await snsBacklog(url);
          const eventsBefore = await logTotal(url, 'events');
          const postedAt = Date.now();
          await control(url, '/_emulator/templates/quality', {
            name: BENCH_TEMPLATE.name,
            language: BENCH_TEMPLATE.language,
            quality: 'RED',
            ...(variant === 'event' ? { status: 'FLAGGED' } : {}),
          });
          const redAt = (await qualityEventAt(url, eventsBefore)) ?? postedAt;
          const stopped = await waitFor('the campaign to pause', async () => {
            const s = await campaigns.status(campaignId);
            return s.state === 'paused' || s.state === 'completed' ? s : undefined;
          });
          const stoppedAfterMs = Date.now() - redAt;
          const times = (await fetchSendLog(url, DEMO_PHONE_NUMBER_ID)).map((s) => s.acceptedAtMs);
          const after = times.filter((at) => at > redAt);
          const lastSecond = times.filter((at) => at > redAt - 1000 && at <= redAt).length;
          const refused = (await fetchRejections(url)).filter(
            (r) => r.atMs > redAt && r.code === 132015,
          ).length;
          await campaigns.cancel(campaignId, 'brake benchmark over');
          const label = `at ${mps}/s (${VARIANT_LABEL[variant]})`;
          const rows: BenchRow[] = [
            {
              metric: `brake distance ${label}: messages accepted after the RED event`,
              value: after.length,
              unit: 'msgs',
            },
            {
              metric: `brake distance ${label} in seconds of sending`,
              value: round(after.length / mps),
              unit: 's',
              target: '≤ 1.00',
            },
            {
              metric: `brake ${label}: sends accepted in the second before the RED event`,
              value: lastSecond,
              unit: 'msgs',
            },
            {
              metric: `brake ${label}: RED event → last accepted send`,
              value: after.length > 0 ? Math.max(...after) - redAt : 0,
              unit: 'ms',
            },
            {
              metric: `brake ${label}: RED event → workflow ${stopped.state} (signal handled, seen by polling)`,
              value: stoppedAfterMs,
              unit: 'ms',
            },
            {
              metric: `brake ${label}: platform events queued for the ingest at the RED event`,
              value: backlog,
              unit: 'events',
            },
          ];
          if (variant === 'pause') {
            rows.push({
              metric: `brake ${label}: sends refused after the RED event (132015)`,
              value: refused,
              unit: 'msgs',
            });
          }
          return rows;
        });
      } finally {
        await ingest.close();
      }
    });
  } finally {
    await emulator.close();
  }
}

/** How many entries one of the emulator's logs holds (sends, events …), without reading them. */
async function logTotal(url: string, log: string): Promise<number> {
  const res = await fetch(`${url}/_emulator/${log}?since=1000000000&limit=1`);
  if (!res.ok) throw new Error(`emulator ${log}: HTTP ${res.status}`);
  return ((await res.json()) as { total: number }).total;
}

/** Events the emulator has yet to deliver to its SNS subscribers (queued or in flight). */
async function snsBacklog(url: string): Promise<number> {
  const res = await fetch(`${url}/_emulator/state`);
  if (!res.ok) throw new Error(`emulator state: HTTP ${res.status}`);
  const state = (await res.json()) as { subscriptions: { queued: number }[] };
  return state.subscriptions.reduce((sum, s) => sum + s.queued, 0);
}

/** When the platform published the template's quality change (its clock), looking from `since` on. */
async function qualityEventAt(url: string, since: number): Promise<number | undefined> {
  const res = await fetch(`${url}/_emulator/events?since=${since}&limit=100000`);
  if (!res.ok) throw new Error(`emulator events: HTTP ${res.status}`);
  const page = (await res.json()) as { items: { atMs: number; field: string }[] };
  return page.items.find((e) => e.field === 'message_template_quality_update')?.atMs;
}

async function control(url: string, route: string, body: unknown): Promise<void> {
  const res = await fetch(`${url}${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${route}: HTTP ${res.status} ${await res.text()}`);
}

const waitFor = <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> =>
  until(what, probe, { timeoutMs, everyMs: POLL_MS });

if (require.main === module) runAsScript(benchBrake);
