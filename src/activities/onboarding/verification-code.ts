import type { ActivityDeps } from '../deps';
import { permanent } from './aws-failures';
import { META_API_VERSION } from '../../platform/meta-api';

export interface RequestVerificationCodeInput {
  onboardingId: string;
  /** Secret. */
  accessToken: string;
  metaPhoneNumberId: string;
  language?: string;
}

export interface ConfirmVerificationCodeInput {
  onboardingId: string;
  /** Secret. */
  accessToken: string;
  metaPhoneNumberId: string;
  /** Secret. */
  code: string;
}

// Meta's rate-limit and availability codes: worth asking again later.
const TRANSIENT_GRAPH_CODES = new Set([1, 2, 4, 17, 341, 80007, 130429, 133004]);

interface GraphError {
  message?: string;
  code?: number;
  error_subcode?: number;
}

/** One form POST to the Graph API with the signup's token; returns the parsed answer or why it failed. */
async function graphPost(
  deps: ActivityDeps,
  token: string,
  path: string,
  form: Record<string, string>,
): Promise<{ ok: true } | { ok: false; error: GraphError; status: number }> {
  const base = (deps.metaGraphUrl ?? 'https://graph.facebook.com').replace(/\/$/, '');
  const version = deps.metaApiVersion ?? META_API_VERSION;
  const res = await fetch(`${base}/${version}/${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
    signal: AbortSignal.timeout(20_000),
  });
  const body = (await res.json().catch(() => ({}))) as { success?: boolean; error?: GraphError };
  if (res.ok && body.success !== false) return { ok: true };
  const error = body.error ?? { message: `HTTP ${res.status}` };
  // Server trouble and rate limits are thrown as plain errors: the activity's retry policy backs off.
  if (
    res.status >= 500 ||
    res.status === 429 ||
    (error.code !== undefined && TRANSIENT_GRAPH_CODES.has(error.code))
  ) {
    throw new Error(
      `Meta Graph ${path.split('/').pop()}: ${error.message ?? res.status} (#${error.code ?? res.status})`,
    );
  }
  return { ok: false, error, status: res.status };
}

/**
 * Asks Meta to send the number its verification code by SMS (Cloud API `request_code`). With two-way SMS
 * on that number, the code comes back to us as an inbound SMS on the onboarding's topic.
 */
export async function requestVerificationCode(
  deps: ActivityDeps,
  input: RequestVerificationCodeInput,
): Promise<void> {
  const out = await graphPost(deps, input.accessToken, `${input.metaPhoneNumberId}/request_code`, {
    code_method: 'SMS',
    language: input.language ?? 'en_US',
  });
  if (!out.ok) {
    throw permanent(
      'VerificationCodeRequestRefused',
      `request_code refused: ${out.error.message ?? out.status} (#${out.error.code ?? out.status})`,
    );
  }
  deps.logger.info(
    { onboardingId: input.onboardingId, metaPhoneNumberId: input.metaPhoneNumberId },
    'verification code requested',
  );
}

/** Hands the code to Meta (Cloud API `verify_code`); a wrong code is an answer, not a failure. */
export async function confirmVerificationCode(
  deps: ActivityDeps,
  input: ConfirmVerificationCodeInput,
): Promise<{ accepted: boolean; reason?: string }> {
  const out = await graphPost(deps, input.accessToken, `${input.metaPhoneNumberId}/verify_code`, {
    code: input.code,
  });
  if (out.ok) return { accepted: true };
  const reason = `verify_code refused: ${(out.error.message ?? String(out.status)).split(input.code).join('[code]')} (#${out.error.code ?? out.status})`;
  deps.logger.warn(
    { onboardingId: input.onboardingId, metaPhoneNumberId: input.metaPhoneNumberId },
    'verification code refused',
  );
  return { accepted: false, reason };
}
