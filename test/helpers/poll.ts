/**
 * Waiting in real time for something another process or timer brings about: the one polling helper of
 * the tests, benchmarks and scripts (no test-runner imports here, so plain tsx can load it).
 */

/** Resolves after `ms` milliseconds of real time. */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Thrown by a probe of {@link until} to stop waiting at once; any other error means "not yet". */
export class GiveUp extends Error {
  override name = 'GiveUp';
}

export interface PollOptions {
  /** How long to keep asking (default 60 s). */
  timeoutMs?: number;
  /** Pause between two asks (default 100 ms). */
  everyMs?: number;
}

/**
 * Polls `probe` every `everyMs` until it returns a value other than `undefined` or `false`, and
 * resolves with that value. A probe that throws is asked again (a service may be restarting), unless
 * it throws {@link GiveUp}; on timeout the error names `what` and the probe's last error.
 */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  { timeoutMs = 60_000, everyMs = 100 }: PollOptions = {},
): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    const value = await probe().catch((err: unknown) => {
      if (err instanceof GiveUp) throw err;
      last = err;
      return undefined;
    });
    if (value !== undefined && value !== false) return value;
    if (Date.now() > end) {
      const reason = last instanceof Error ? ` (last error: ${last.message})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${reason}`);
    }
    await sleep(everyMs);
  }
}
