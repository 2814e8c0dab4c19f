/**
 * Activities for the test-only workflows in ./index.ts. A factory rather than plain exports so each test
 * gets its own call log and can assert what really ran in the worker process.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';

export interface ActivityCall {
  activity: string;
  input: string;
  attempt: number;
}

export interface TestActivities {
  greet(name: string): Promise<string>;
  unreliableEcho(text: string, failuresBeforeSuccess: number): Promise<string>;
}

export function createTestActivities(): { activities: TestActivities; calls: ActivityCall[] } {
  const calls: ActivityCall[] = [];
  const record = (input: string): number => {
    const { activityType, attempt } = Context.current().info;
    calls.push({ activity: activityType, input, attempt });
    return attempt;
  };
  return {
    calls,
    activities: {
      greet(name) {
        record(name);
        return Promise.resolve(`Hello, ${name}!`);
      },
      // Fails its first attempts so a test can see the server's retry policy at work.
      unreliableEcho(text, failuresBeforeSuccess) {
        const attempt = record(text);
        if (attempt <= failuresBeforeSuccess) {
          // 'PlannedFailure' (PLANNED_FAILURE_TYPE in test/helpers/temporal.ts) keeps these out of the test log.
          throw ApplicationFailure.retryable(`attempt ${attempt} fails on purpose`, 'PlannedFailure');
        }
        return Promise.resolve(`${text} (attempt ${attempt})`);
      },
    },
  };
}
