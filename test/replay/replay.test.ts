/**
 * Replays the committed histories against the current workflow code. A failure here means a workflow
 * change would break executions already running in production: version it with patched() instead, or,
 * for test-only workflows, re-record the fixture with scripts/capture-history.ts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { describe, expect, it } from 'vitest';
import { getWorkflowBundle, TEST_WORKFLOWS_PATH, withExpectedLogs } from '../helpers/temporal';
import { WORKFLOWS_PATH } from '../../src/worker/create-worker';
import { historyFromJson } from './history-json';
import { describeFailures, HISTORIES_ROOT, replayAll } from './replay';

/**
 * Which workflow code each fixture set belongs to. Product workflows plug in here: record histories into
 * test/fixtures/histories/<set>/ and add `<set>: <path to their workflows module>`.
 */
const HISTORY_SETS: Record<string, string> = {
  'test-workflows': TEST_WORKFLOWS_PATH,
  // Recorded by test/campaign/workflow.test.ts with WA_RECORD_HISTORIES=1.
  campaign: WORKFLOWS_PATH,
  // Recorded by scripts/capture-history.ts with the drivers in test/replay/drivers/.
  onboarding: WORKFLOWS_PATH,
  number: WORKFLOWS_PATH,
};

/** Histories edited on purpose so they no longer match the code; each must fail to replay. */
const TAMPERED_ROOT = path.join(HISTORIES_ROOT, 'tampered');

type HistoryJson = {
  events: Array<Record<string, { activityType?: { name: string }; startToFireTimeout?: string }>>;
};

function readJson(file: string): HistoryJson {
  return JSON.parse(readFileSync(file, 'utf8')) as HistoryJson;
}

/** Renames the `nth` scheduled activity of type `from` (negative: from the end) to `to`. */
function renameActivity(h: HistoryJson, from: string, to: string, nth = 0): void {
  const scheduled = h.events
    .map((e) => e.activityTaskScheduledEventAttributes)
    .filter((a) => a?.activityType?.name === from)
    .at(nth);
  if (!scheduled?.activityType) throw new Error(`no ${from} activity to tamper with`);
  scheduled.activityType.name = to;
}

/** The edits behind each tampered fixture, as code, so the test can prove they are the only difference. */
const TAMPERED: Array<{
  file: string;
  set: string;
  original: string;
  tamper: (h: HistoryJson) => void;
  expect: RegExp;
}> = [
  {
    file: 'test-workflows/greet-with-pause-wrong-activity.json',
    set: 'test-workflows',
    original: 'test-workflows/greet-with-pause.json',
    tamper: (h) => {
      const scheduled = h.events.find(
        (e) => e.activityTaskScheduledEventAttributes,
      )?.activityTaskScheduledEventAttributes;
      if (!scheduled?.activityType) throw new Error('no ActivityTaskScheduled event to tamper with');
      scheduled.activityType.name = 'farewell';
    },
    expect:
      /Activity type of scheduled event 'farewell' does not match activity type of activity command 'greet'/,
  },
  {
    // As if the campaign workflow had started checking its template after the first batch, not before.
    file: 'campaign/tier-wait-reordered.json',
    set: 'campaign',
    original: 'campaign/tier-wait.json',
    tamper: (h) => {
      const scheduled = h.events.find(
        (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'checkTemplate',
      )?.activityTaskScheduledEventAttributes;
      if (!scheduled?.activityType) throw new Error('no checkTemplate activity to tamper with');
      scheduled.activityType.name = 'sendBatch';
    },
    expect:
      /Activity type of scheduled event 'sendBatch' does not match activity type of activity command 'checkTemplate'/,
  },
  {
    // As if onboarding had prepared the event destination before exchanging the signup token.
    file: 'onboarding/full-run-reordered.json',
    set: 'onboarding',
    original: 'onboarding/full-run.json',
    tamper: (h) => renameActivity(h, 'exchangeSignupToken', 'prepareEventDestination'),
    expect:
      /Activity type of scheduled event 'prepareEventDestination' does not match activity type of activity command 'exchangeSignupToken'/,
  },
  {
    // As if the number workflow had changed its rate where it fanned an event out to its campaigns.
    file: 'number/continued-reordered.json',
    set: 'number',
    original: 'number/continued.json',
    tamper: (h) => renameActivity(h, 'listActiveCampaigns', 'setNumberRate', -1),
    expect:
      /Activity type of scheduled event 'setNumberRate' does not match activity type of activity command 'listActiveCampaigns'/,
  },
  {
    // As if the next run had changed its rate before fanning out the events carried in its inbox.
    file: 'number/carried-inbox-reordered.json',
    set: 'number',
    original: 'number/carried-inbox.json',
    tamper: (h) => renameActivity(h, 'listActiveCampaigns', 'setNumberRate'),
    expect:
      /Activity type of scheduled event 'setNumberRate' does not match activity type of activity command 'listActiveCampaigns'/,
  },
];

describe('replay of recorded histories', () => {
  it('knows which workflows every fixture set belongs to', () => {
    const folders = readdirSync(HISTORIES_ROOT, { withFileTypes: true })
      .filter((d) => d.isDirectory() && d.name !== 'tampered')
      .map((d) => d.name)
      .sort();
    expect(folders).toEqual(Object.keys(HISTORY_SETS).sort());
  });

  for (const [set, workflowsPath] of Object.entries(HISTORY_SETS)) {
    it(`replays every history in ${set} without a determinism error`, async () => {
      const dir = path.join(HISTORIES_ROOT, set);
      const outcomes = await replayAll(dir, workflowsPath);
      const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
      expect(files.length).toBeGreaterThan(0);
      // One outcome per file: a history that silently never replayed would be a test that cannot fail.
      expect(outcomes.map((o) => `${o.workflowId}.json`).sort()).toEqual(files.sort());
      expect(describeFailures(outcomes)).toBe('');
    });
  }
});

describe('tampered histories', () => {
  for (const t of TAMPERED) {
    it(`${t.file} differs from ${t.original} only by its deliberate edit`, () => {
      const expected = readJson(path.join(HISTORIES_ROOT, t.original));
      t.tamper(expected);
      expect(readJson(path.join(TAMPERED_ROOT, t.file))).toEqual(expected);
    });
  }

  it('fail to replay, each with a determinism error naming the mismatch', async () => {
    const sets = [...new Set(TAMPERED.map((t) => t.set))];
    for (const set of sets) {
      const workflowsPath = HISTORY_SETS[set];
      if (!workflowsPath) throw new Error(`tampered set ${set} is not in HISTORY_SETS`);
      const outcomes = await withExpectedLogs([/Nondeterminism error/], () =>
        replayAll(path.join(TAMPERED_ROOT, set), workflowsPath),
      );
      const expected = TAMPERED.filter((t) => t.set === set);
      expect(outcomes).toHaveLength(expected.length);
      for (const t of expected) {
        const outcome = outcomes.find((o) => o.workflowId === path.basename(t.file, '.json'));
        expect(outcome?.error).toBeInstanceOf(DeterminismViolationError);
        expect(outcome?.error?.message).toMatch(t.expect);
      }
    }
  });

  it('a changed timer duration is NOT caught by replay (the SDK does not compare durations)', async () => {
    // Documents a trap rather than a feature: replay tests cannot protect a timer's length, so changes to
    // durations of running workflows need patched() by review, not by this suite.
    const json = readJson(path.join(HISTORIES_ROOT, 'test-workflows/greet-with-pause.json'));
    const timer = json.events.find((e) => e.timerStartedEventAttributes)?.timerStartedEventAttributes;
    if (!timer) throw new Error('fixture has no timer');
    timer.startToFireTimeout = '3600s';
    await expect(
      Worker.runReplayHistory(
        { workflowBundle: await getWorkflowBundle(TEST_WORKFLOWS_PATH) },
        historyFromJson(json),
        'greet-with-pause',
      ),
    ).resolves.toBeUndefined();
  });
});
