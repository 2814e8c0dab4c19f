/** Task queues and workflow-id builders: business keys, never random, so every caller finds the same workflow. */

export const DEFAULT_TASK_QUEUE = 'wa-campaigns';

export const campaignWorkflowId = (campaignId: string): string => `campaign:${campaignId}`;
export const numberWorkflowId = (phoneNumberId: string): string => `number:${phoneNumberId}`;
export const onboardingWorkflowId = (onboardingId: string): string => `onboarding:${onboardingId}`;

/** Ties a status event back to one recipient of one campaign; echoed by Meta (≤ 512 chars). */
export function bizOpaqueCallbackData(campaignId: string, seq: number): string {
  return `wac1:${campaignId}:${seq}`;
}

/** Reverses {@link bizOpaqueCallbackData}; undefined for data we did not write. */
export function parseBizOpaqueCallbackData(
  data: string | undefined,
): { campaignId: string; seq: number } | undefined {
  if (!data?.startsWith('wac1:')) return undefined;
  const last = data.lastIndexOf(':');
  const seq = Number(data.slice(last + 1));
  const campaignId = data.slice(5, last);
  if (!campaignId || !Number.isInteger(seq) || seq < 0) return undefined;
  return { campaignId, seq };
}
