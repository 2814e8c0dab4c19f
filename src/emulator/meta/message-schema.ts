import { z } from 'zod';
import { toWaId } from '../ids';

/**
 * The Cloud API message object that SendWhatsAppMessage carries (Meta's `Message` schema: a common
 * envelope plus one object named after `type`). Anything Meta would refuse as malformed is error 100;
 * what the schema requires is required here too (test/contract checks every accepted body against it).
 * Unknown extra keys are tolerated, as Meta adds fields over time.
 */

const MESSAGE_TYPES = [
  'text',
  'template',
  'image',
  'audio',
  'video',
  'document',
  'sticker',
  'reaction',
  'location',
  'interactive',
  'contacts',
] as const;

const media = z
  .looseObject({
    id: z.string().min(1).optional(),
    link: z.url().optional(),
    caption: z.string().max(1024).optional(),
  })
  .refine((m) => (m.id === undefined) !== (m.link === undefined), {
    message: 'exactly one of id or link is required',
  });

const parameter = z.looseObject({ type: z.string().min(1), parameter_name: z.string().optional() });

// Meta's TemplateComponent: header, body or button, in lower case.
const component = z.looseObject({
  type: z.enum(['header', 'body', 'button']),
  sub_type: z.string().optional(),
  index: z.union([z.string(), z.number()]).optional(),
  parameters: z.array(parameter).optional(),
});

const template = z.looseObject({
  name: z.string().min(1).max(512),
  // Meta's LanguageObject requires the policy, and has only the one.
  language: z.looseObject({ code: z.string().min(1), policy: z.literal('deterministic') }),
  components: z.array(component).optional(),
});

const envelope = z.looseObject({
  messaging_product: z.literal('whatsapp'),
  recipient_type: z.enum(['individual', 'group']),
  to: z.string().regex(/^\+?[\d\s().-]{5,30}$/, 'expected the recipient phone number'),
  type: z.enum(MESSAGE_TYPES).default('text'),
  biz_opaque_callback_data: z.string().max(512).optional(),
  context: z.looseObject({ message_id: z.string().min(1) }).optional(),
});

const bodies: Record<(typeof MESSAGE_TYPES)[number], z.ZodType> = {
  text: z.looseObject({ body: z.string().min(1).max(4096), preview_url: z.boolean().optional() }),
  template,
  image: media,
  audio: media,
  video: media,
  document: media,
  sticker: media,
  reaction: z.looseObject({ message_id: z.string().min(1), emoji: z.string() }),
  location: z.looseObject({ latitude: z.number(), longitude: z.number() }),
  interactive: z.looseObject({ type: z.string().min(1), action: z.looseObject({}) }),
  contacts: z.array(z.looseObject({})).min(1),
};

const markRead = z.looseObject({
  messaging_product: z.literal('whatsapp'),
  status: z.literal('read'),
  message_id: z.string().min(1),
});

export type TemplateParameter = z.infer<typeof parameter>;
export type TemplateComponent = z.infer<typeof component>;
export type TemplateRef = z.infer<typeof template>;

/** A valid message, reduced to what the rules need. */
export type ParsedMessage =
  | { kind: 'mark-read'; messageId: string }
  | {
      kind: 'message';
      to: string;
      type: (typeof MESSAGE_TYPES)[number];
      template?: TemplateRef | undefined;
      /** Media ids the message refers to (must come from the same number). */
      mediaIds: string[];
      bizOpaqueCallbackData?: string | undefined;
      body: Record<string, unknown>;
    };

/** Why a message is malformed (becomes `(#100) Invalid parameter: …`). */
export class MalformedMessage extends Error {}

function describe(prefix: string, error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return prefix;
  const path = [prefix, ...issue.path.map(String)].filter(Boolean).join('.');
  return `${path || 'message'}: ${issue.message}`;
}

/** Decodes and validates the message bytes of a SendWhatsAppMessage call. */
export function parseMessage(bytes: Buffer): ParsedMessage {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new MalformedMessage('message is not valid JSON');
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new MalformedMessage('message must be a JSON object');
  }
  const obj = json as Record<string, unknown>;
  if ('status' in obj) {
    const read = markRead.safeParse(obj);
    if (!read.success) throw new MalformedMessage(describe('', read.error));
    return { kind: 'mark-read', messageId: read.data.message_id };
  }
  const head = envelope.safeParse(obj);
  if (!head.success) throw new MalformedMessage(describe('', head.error));
  const type = head.data.type;
  const typed = bodies[type].safeParse(obj[type]);
  if (!typed.success) {
    if (obj[type] === undefined)
      throw new MalformedMessage(`${type}: the ${type} object is required for type ${type}`);
    throw new MalformedMessage(describe(type, typed.error));
  }
  const mediaIds: string[] = [];
  const collect = (m: unknown): void => {
    if (typeof m === 'object' && m !== null && typeof (m as { id?: unknown }).id === 'string') {
      mediaIds.push((m as { id: string }).id);
    }
  };
  let tpl: TemplateRef | undefined;
  if (type === 'template') {
    tpl = typed.data as TemplateRef;
    for (const c of tpl.components ?? []) {
      for (const p of c.parameters ?? []) collect(p[p.type]);
    }
  } else if (['image', 'audio', 'video', 'document', 'sticker'].includes(type)) {
    collect(typed.data);
  }
  return {
    kind: 'message',
    to: toWaId(head.data.to),
    type,
    template: tpl,
    mediaIds,
    bizOpaqueCallbackData: head.data.biz_opaque_callback_data,
    body: obj,
  };
}
