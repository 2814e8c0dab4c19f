import {
  GetLinkedWhatsAppBusinessAccountPhoneNumberCommand,
  GetWhatsAppMessageTemplateCommand,
  ListWhatsAppMessageTemplatesCommand,
  type SocialMessagingClient,
  type TemplateSummary,
} from '@aws-sdk/client-socialmessaging';

/** What the engine needs to know about one template in one language. */
export interface TemplateInfo {
  name: string;
  language: string;
  metaTemplateId?: string;
  /** APPROVED, PAUSED, DISABLED, PENDING, REJECTED … upper-cased. */
  status: string;
  /** GREEN, YELLOW, RED, UNKNOWN … upper-cased, when known. */
  quality?: string;
  category?: string;
  /** Number of distinct {{n}} placeholders in the body. */
  bodyParameters: number;
}

/** The WABA a sending number belongs to. */
export async function wabaIdForNumber(client: SocialMessagingClient, phoneNumberId: string): Promise<string> {
  const out = await client.send(
    new GetLinkedWhatsAppBusinessAccountPhoneNumberCommand({ id: phoneNumberId }),
  );
  if (!out.linkedWhatsAppBusinessAccountId) {
    throw new Error(`number ${phoneNumberId} is not linked to a WhatsApp Business Account`);
  }
  return out.linkedWhatsAppBusinessAccountId;
}

/** Finds a template by name and language in a WABA, with its body parameter count; undefined if absent. */
export async function findTemplate(
  client: SocialMessagingClient,
  wabaId: string,
  name: string,
  language: string,
): Promise<TemplateInfo | undefined> {
  let summary: TemplateSummary | undefined;
  let nextToken: string | undefined;
  do {
    const page = await client.send(new ListWhatsAppMessageTemplatesCommand({ id: wabaId, nextToken }));
    summary = page.templates?.find((t) => t.templateName === name && t.templateLanguage === language);
    nextToken = summary ? undefined : page.nextToken;
  } while (nextToken);
  if (!summary) return undefined;

  const detail = await client.send(
    new GetWhatsAppMessageTemplateCommand({ id: wabaId, metaTemplateId: summary.metaTemplateId }),
  );
  const parsed = parseTemplateJson(detail.template);
  return {
    name,
    language,
    metaTemplateId: summary.metaTemplateId,
    status: (parsed.status ?? summary.templateStatus ?? 'UNKNOWN').toUpperCase(),
    quality: (parsed.quality ?? summary.templateQualityScore)?.toUpperCase(),
    category: (parsed.category ?? summary.templateCategory)?.toUpperCase(),
    bodyParameters: parsed.bodyParameters,
  };
}

interface ParsedTemplate {
  status?: string;
  quality?: string;
  category?: string;
  bodyParameters: number;
}

/** Reads Meta's template object (a JSON string in GetWhatsAppMessageTemplate's answer). */
export function parseTemplateJson(json: string | undefined): ParsedTemplate {
  if (!json) return { bodyParameters: 0 };
  const raw = JSON.parse(json) as {
    status?: string;
    category?: string;
    quality_score?: { score?: string } | string;
    components?: { type?: string; text?: string }[];
  };
  const body = raw.components?.find((c) => c.type?.toUpperCase() === 'BODY');
  const quality = typeof raw.quality_score === 'string' ? raw.quality_score : raw.quality_score?.score;
  return {
    status: raw.status,
    category: raw.category,
    quality,
    bodyParameters: countPlaceholders(body?.text ?? ''),
  };
}

/** Distinct {{n}} (or named {{name}}) placeholders in a template text. */
export function countPlaceholders(text: string): number {
  const names = new Set<string>();
  for (const match of text.matchAll(/\{\{\s*([\w.]+)\s*\}\}/g)) names.add(match[1] ?? '');
  return names.size;
}

/** Whether a template may be sent now, and if not, why. */
export function templateBlocker(t: TemplateInfo): string | undefined {
  if (t.status !== 'APPROVED' && t.status !== 'ACTIVE')
    return `template ${t.name} (${t.language}) is ${t.status}`;
  if (t.quality === 'RED') return `template ${t.name} (${t.language}) has quality RED`;
  return undefined;
}
