import { setTimeout as sleep } from 'node:timers/promises';
import type { EmulatorContext } from '../context';
import { AwsError, metaAwsError } from '../http/aws-errors';
import type { EmulatorRequest, Handler, HandlerResult } from '../http/router';
import type { FaultDecision } from '../rules/faults';

/** The AWS error an injected fault raises synchronously. */
export function injectedError(error: NonNullable<FaultDecision['error']>): AwsError {
  if (error.code !== undefined)
    return metaAwsError(error.code, error.message ?? 'injected fault', error.awsError);
  return new AwsError(error.awsError ?? 'InternalServiceException', error.message ?? 'Injected fault');
}

/** Waits out injected latency (real time: it models a slow network, not platform time). */
export async function applyLatency(decision: FaultDecision): Promise<void> {
  if (decision.latencyMs > 0) await sleep(decision.latencyMs);
}

/**
 * Wraps an operation with the generic faults: latency before it runs, an injected error instead of
 * it, or its answer lost after it ran. SendWhatsAppMessage handles faults itself, because it must
 * record the send before losing the answer and may surface errors asynchronously.
 */
export function withFaults(ctx: EmulatorContext, operation: string, handler: Handler): Handler {
  return async (req: EmulatorRequest): Promise<HandlerResult> => {
    // Number and recipient filters concern sends only, so a fault that names them never fires here.
    const decision = ctx.faults.decide({ operation });
    await applyLatency(decision);
    if (decision.error) throw injectedError(decision.error);
    const result = await handler(req);
    return decision.lost ? { lost: decision.lost } : result;
  };
}
