import { z } from 'zod';
import type { EmulatorContext } from '../context';
import { AwsError } from '../http/aws-errors';
import { parseInput, queryInput } from '../http/aws-input';
import type { EmulatorRequest, HandlerResult } from '../http/router';
import { paginate } from './pagination';
import { templateDefinition, templateSummary } from './views';
import { requireWaba } from './waba-queries';

/** ListWhatsAppMessageTemplates: every template of a WABA, one entry per language. */
export function listWhatsAppMessageTemplates(ctx: EmulatorContext, req: EmulatorRequest): HandlerResult {
  const input = parseInput(
    z.object({
      id: z.string().min(1),
      nextToken: z.string().optional(),
      maxResults: z.coerce.number().int().min(1).max(100).optional(),
    }),
    queryInput(req),
  );
  const waba = requireWaba(ctx, input.id);
  const { page, nextToken } = paginate(
    waba.templates.map(templateSummary),
    input.nextToken,
    input.maxResults,
  );
  return { json: { templates: page, ...(nextToken ? { nextToken } : {}) } };
}

/** GetWhatsAppMessageTemplate: by Meta template id, or by name and language code. */
export function getWhatsAppMessageTemplate(ctx: EmulatorContext, req: EmulatorRequest): HandlerResult {
  const input = parseInput(
    z.object({
      id: z.string().min(1),
      metaTemplateId: z.string().optional(),
      templateName: z.string().optional(),
      templateLanguageCode: z.string().optional(),
    }),
    queryInput(req),
  );
  const waba = requireWaba(ctx, input.id);
  let template;
  if (input.metaTemplateId !== undefined) {
    template = waba.templates.find((t) => t.metaTemplateId === input.metaTemplateId);
  } else if (input.templateName !== undefined && input.templateLanguageCode !== undefined) {
    template = waba.templates.find(
      (t) => t.name === input.templateName && t.language === input.templateLanguageCode,
    );
  } else {
    throw new AwsError(
      'InvalidParametersException',
      'Give metaTemplateId, or templateName with templateLanguageCode',
    );
  }
  if (!template) throw new AwsError('ResourceNotFoundException', 'Template was not found');
  return { json: { template: templateDefinition(template) } };
}
