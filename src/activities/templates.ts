import { eq } from 'drizzle-orm';
import { numbers } from '../db/schema';
import { ensureNumber } from '../db/numbers';
import { findTemplate, templateBlocker, wabaIdForNumber } from '../platform/templates';
import type { ActivityDeps } from './deps';

export interface CheckTemplateInput {
  phoneNumberId: string;
  templateName: string;
  templateLanguage: string;
  /** The number's WABA when the caller knows it already (saves looking the number up). */
  wabaId?: string;
}

export interface CheckTemplateResult {
  found: boolean;
  status?: string;
  quality?: string;
  /** Why the template may not be sent now; absent when it may. */
  blocker?: string;
}

/** Looks the campaign's template up on the platform, so a lost event cannot leave a campaign sending into a paused template. */
export async function checkTemplate(
  deps: ActivityDeps,
  input: CheckTemplateInput,
): Promise<CheckTemplateResult> {
  let wabaId = input.wabaId ?? (await ensureNumber(deps.db, input.phoneNumberId)).wabaId;
  if (!wabaId) {
    wabaId = await wabaIdForNumber(deps.socialMessaging, input.phoneNumberId);
    await deps.db.update(numbers).set({ wabaId }).where(eq(numbers.phoneNumberId, input.phoneNumberId));
  }
  const template = await findTemplate(
    deps.socialMessaging,
    wabaId,
    input.templateName,
    input.templateLanguage,
  );
  if (!template) {
    return {
      found: false,
      blocker: `template ${input.templateName} (${input.templateLanguage}) no longer exists`,
    };
  }
  return {
    found: true,
    status: template.status,
    quality: template.quality,
    blocker: templateBlocker(template),
  };
}
