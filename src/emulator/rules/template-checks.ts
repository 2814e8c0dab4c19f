import type { TemplateComponent, TemplateParameter, TemplateRef } from '../meta/message-schema';
import type { TemplateState, WabaState } from '../world/state';

/** A rule a send broke: the Meta code, a human detail, and a short machine reason. */
export interface RuleFailure {
  code: number;
  details: string;
  reason: string;
}

// Statuses in which Meta still sends a template (FLAGGED warns of a coming disable; REINSTATED is active).
const SENDABLE = new Set(['APPROVED', 'FLAGGED', 'REINSTATED']);
const MEDIA_HEADER: Record<string, string> = { IMAGE: 'image', VIDEO: 'video', DOCUMENT: 'document' };

function parametersOf(components: TemplateComponent[], type: string): TemplateParameter[] {
  return components.filter((c) => c.type.toLowerCase() === type).flatMap((c) => c.parameters ?? []);
}

function isMedia(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const m = value as { id?: unknown; link?: unknown };
  return typeof m.id === 'string' || typeof m.link === 'string';
}

/** Checks one parameter's own shape; Meta refuses malformed ones (100) and bad text (132018). */
function checkParameter(p: TemplateParameter, where: string): RuleFailure | undefined {
  const bad = (details: string): RuleFailure => ({
    code: 100,
    details: `${where}: ${details}`,
    reason: 'malformed',
  });
  switch (p.type) {
    case 'text': {
      const text = (p as { text?: unknown }).text;
      if (typeof text !== 'string') return bad('a text parameter needs a string `text`');
      if (text.trim() === '')
        return { code: 131008, details: `${where}: text is empty`, reason: 'template-params' };
      // Meta refuses new lines, tabs and runs of more than four spaces inside parameters.
      if (/[\n\t]/.test(text) || / {5,}/.test(text)) {
        return {
          code: 132018,
          details: `${where}: parameter text may not contain new lines, tabs or more than 4 consecutive spaces`,
          reason: 'template-params',
        };
      }
      return undefined;
    }
    case 'currency': {
      const c = (p as { currency?: { fallback_value?: unknown; code?: unknown; amount_1000?: unknown } })
        .currency;
      if (
        !c ||
        typeof c.fallback_value !== 'string' ||
        typeof c.code !== 'string' ||
        !Number.isInteger(c.amount_1000)
      ) {
        return bad('a currency parameter needs fallback_value, code and an integer amount_1000');
      }
      return undefined;
    }
    case 'date_time': {
      const d = (p as { date_time?: { fallback_value?: unknown } }).date_time;
      if (!d || typeof d.fallback_value !== 'string')
        return bad('a date_time parameter needs fallback_value');
      return undefined;
    }
    case 'image':
    case 'video':
    case 'document':
      if (!isMedia((p as Record<string, unknown>)[p.type]))
        return bad(`a ${p.type} parameter needs an id or a link`);
      return undefined;
    default:
      return undefined;
  }
}

/**
 * Template checks in Meta's order: the template exists in that language and is approved, is not paused
 * or disabled, and the send supplies exactly the parameters its body (and header) ask for.
 */
export function checkTemplate(waba: WabaState, ref: TemplateRef): { template: TemplateState } | RuleFailure {
  const named = waba.templates.filter((t) => t.name === ref.name);
  if (named.length === 0) {
    return { code: 132001, details: `template ${ref.name} does not exist`, reason: 'template-missing' };
  }
  const template = named.find((t) => t.language === ref.language.code);
  if (!template) {
    return {
      code: 132001,
      details: `template ${ref.name} does not exist in ${ref.language.code} (it has ${named.map((t) => t.language).join(', ')})`,
      reason: 'template-language',
    };
  }
  if (template.status === 'PAUSED') {
    return {
      code: 132015,
      details: `template ${ref.name} (${template.language}) is paused`,
      reason: 'template-paused',
    };
  }
  if (template.status === 'DISABLED') {
    return {
      code: 132016,
      details: `template ${ref.name} (${template.language}) is disabled`,
      reason: 'template-disabled',
    };
  }
  if (!SENDABLE.has(template.status)) {
    return {
      code: 132001,
      details: `template ${ref.name} (${template.language}) is ${template.status}, not approved`,
      reason: 'template-not-approved',
    };
  }

  const components = ref.components ?? [];
  for (const [ci, c] of components.entries()) {
    for (const [pi, p] of (c.parameters ?? []).entries()) {
      const failure = checkParameter(p, `components[${ci}].parameters[${pi}]`);
      if (failure) return failure;
    }
  }

  const body = parametersOf(components, 'body');
  if (body.length !== template.bodyParams) {
    return {
      code: 132000,
      details: `template ${ref.name} expects ${template.bodyParams} body parameter(s), got ${body.length}`,
      reason: 'template-param-count',
    };
  }

  const header = parametersOf(components, 'header');
  const mediaType = template.header ? MEDIA_HEADER[template.header.format] : undefined;
  if (mediaType) {
    if (header.length !== 1 || header[0]?.type !== mediaType) {
      return {
        code: 132012,
        details: `template ${ref.name} has a ${template.header?.format} header: send one ${mediaType} header parameter`,
        reason: 'template-param-format',
      };
    }
  } else if (header.length !== template.headerParams) {
    return {
      code: 132000,
      details: `template ${ref.name} expects ${template.headerParams} header parameter(s), got ${header.length}`,
      reason: 'template-param-count',
    };
  }
  return { template };
}
