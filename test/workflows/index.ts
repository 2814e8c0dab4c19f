/**
 * Test-only workflows: small, but exercising the event types the Temporal tests care about (timers,
 * activities, retries). The replay fixtures in test/fixtures/histories/test-workflows were recorded from
 * these, so changing a workflow's commands here makes those fixtures fail to replay, which is the point.
 */
import { condition, proxyActivities, setHandler, sleep } from '@temporalio/workflow';
import { numberStatusSignal, type NumberStatusSignal } from '../../src/workflows/definitions';
import type { TestActivities } from './activities';

const DAY_MS = 24 * 60 * 60 * 1000;

export interface SleepReport {
  /** Workflow time (Date.now() inside a workflow is the deterministic workflow clock) before and after. */
  startedAt: number;
  finishedAt: number;
  elapsedMs: number;
}

/** Sleeps for `days` of workflow time and reports how much workflow time actually passed. */
export async function sleepDays(days: number): Promise<SleepReport> {
  const startedAt = Date.now();
  await sleep(days * DAY_MS);
  const finishedAt = Date.now();
  return { startedAt, finishedAt, elapsedMs: finishedAt - startedAt };
}

const { greet, unreliableEcho } = proxyActivities<TestActivities>({
  startToCloseTimeout: '10 seconds',
  // Short back-off so retry tests take milliseconds on a real server.
  retry: { initialInterval: '50 milliseconds', backoffCoefficient: 1, maximumAttempts: 5 },
});

/** Activity, timer, activity: the command sequence the replay tests pin down. */
export async function greetWithPause(name: string, pauseMs: number): Promise<string[]> {
  const first = await greet(name);
  await sleep(pauseMs);
  const second = await greet(`${name} again`);
  return [first, second];
}

/** One activity that fails `failures` times before it succeeds: retries are the server's job. */
export async function echoAfterRetries(text: string, failures: number): Promise<string> {
  return unreliableEcho(text, failures);
}

/**
 * Stands in for a campaign (started as `campaign:<id>`) and collects the number events a number workflow
 * fans out to it: returns once `count` have arrived, or, when fewer come, after an hour of workflow time,
 * which the time-skipping server reaches as soon as nothing else is left to run.
 */
export async function collectNumberEvents(count: number): Promise<NumberStatusSignal[]> {
  const events: NumberStatusSignal[] = [];
  setHandler(numberStatusSignal, (e) => void events.push(e));
  await condition(() => events.length >= count, '1 hour');
  return events;
}
