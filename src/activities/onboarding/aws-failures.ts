import { ApplicationFailure } from '@temporalio/activity';
import { metaCodeFromMessage } from '../../shared/meta-errors';

// Error names AWS services use for "try again later" (throttling, their own outages). The services
// onboarding talks to (Social Messaging, SNS, SMS and voice v2) each spell these their own way.
const TRANSIENT_NAMES = new Set([
  'ThrottledRequestException',
  'ThrottlingException',
  'ThrottledException',
  'Throttling',
  'TooManyRequestsException',
  'InternalServiceException',
  'InternalServerException',
  'InternalErrorException',
  'InternalFailure',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'DependencyException',
  'KMSThrottlingException',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
]);

// Connection-level failures: the request may not have arrived; every onboarding call is safe to repeat.
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']);

interface AwsLikeError {
  name?: string;
  message?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
}

/** The Meta error code inside an AWS error message, written `(#133005)`. */
export function metaCodeOf(err: unknown): number | undefined {
  return metaCodeFromMessage((err as AwsLikeError | undefined)?.message);
}

/** Whether a failed AWS call is worth repeating as it is. */
export function isTransient(err: unknown): boolean {
  const e = err as AwsLikeError | undefined;
  if (!e || typeof e !== 'object') return false;
  if (e.name && TRANSIENT_NAMES.has(e.name)) return true;
  if (e.code && NETWORK_CODES.has(e.code)) return true;
  const status = e.$metadata?.httpStatusCode;
  if (status !== undefined) return status === 429 || status >= 500;
  // No HTTP answer at all (connection refused, socket hang up): the call never completed.
  return e.name === 'Error' && /socket|network|connect/i.test(e.message ?? '');
}

/**
 * Rethrows a failed AWS call so that Temporal does the right thing: transient failures as they are (the
 * activity's retry policy backs off and tries again), everything else as a non-retryable failure whose
 * type is the AWS error name, because repeating a refused request gives the same refusal.
 */
export function rethrowAws(err: unknown, what: string): never {
  if (isTransient(err)) throw err;
  const e = err as AwsLikeError | undefined;
  const name = e?.name ?? 'AwsError';
  throw ApplicationFailure.create({
    type: name,
    message: `${what}: ${e?.message ?? String(err)}`,
    nonRetryable: true,
  });
}

/** A permanent problem found by our own checks (bad input, missing configuration). */
export function permanent(type: string, message: string): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: true });
}
