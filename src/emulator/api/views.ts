import { AwsError } from '../http/aws-errors';
import type { PhoneNumberState, TemplateState, WabaState, World } from '../world/state';

/** WhatsAppPhoneNumberDetail / WhatsAppPhoneNumberSummary (same members). */
export function phoneNumberDetail(phone: PhoneNumberState): Record<string, unknown> {
  return {
    arn: phone.arn,
    phoneNumber: phone.phoneNumber,
    phoneNumberId: phone.id,
    metaPhoneNumberId: phone.metaPhoneNumberId,
    displayPhoneNumberName: phone.displayName,
    displayPhoneNumber: phone.displayPhoneNumber,
    qualityRating: phone.quality,
    ...(phone.dataLocalizationRegion ? { dataLocalizationRegion: phone.dataLocalizationRegion } : {}),
  };
}

/** LinkedWhatsAppBusinessAccountSummary; restJson1 timestamps are epoch seconds. */
export function wabaSummary(world: World, waba: WabaState): Record<string, unknown> {
  return {
    arn: waba.arn,
    id: waba.id,
    wabaId: waba.wabaId,
    registrationStatus: world.registrationStatus(waba),
    linkDate: waba.linkDateMs / 1000,
    wabaName: waba.name,
    eventDestinations: waba.eventDestinations,
  };
}

/** LinkedWhatsAppBusinessAccount: the summary plus its numbers. */
export function wabaDetail(world: World, waba: WabaState): Record<string, unknown> {
  return { ...wabaSummary(world, waba), phoneNumbers: waba.phoneNumbers.map(phoneNumberDetail) };
}

/** TemplateSummary as ListWhatsAppMessageTemplates returns it. */
export function templateSummary(t: TemplateState): Record<string, unknown> {
  return {
    templateName: t.name,
    metaTemplateId: t.metaTemplateId,
    templateStatus: t.status,
    templateQualityScore: t.quality,
    templateLanguage: t.language,
    templateCategory: t.category,
  };
}

/**
 * The template definition GetWhatsAppMessageTemplate returns: Meta's own template JSON, as a string.
 * Consumers count `{{n}}` in the BODY component's text to know how many parameters a send needs.
 */
export function templateDefinition(t: TemplateState): string {
  const components: Record<string, unknown>[] = [];
  if (t.header) {
    components.push({
      type: 'HEADER',
      format: t.header.format,
      ...(t.header.text ? { text: t.header.text } : {}),
    });
  }
  const named = /\{\{\s*[A-Za-z_]/.test(t.body);
  components.push({
    type: 'BODY',
    text: t.body,
    ...(t.bodyParams > 0
      ? { example: { body_text: [Array.from({ length: t.bodyParams }, (_, i) => `example_${i + 1}`)] } }
      : {}),
  });
  if (t.footer) components.push({ type: 'FOOTER', text: t.footer });
  return JSON.stringify({
    name: t.name,
    parameter_format: named ? 'NAMED' : 'POSITIONAL',
    components,
    language: t.language,
    status: t.status,
    category: t.category,
    id: t.metaTemplateId,
    quality_score: { score: t.quality },
  });
}

const SNS_TOPIC = /^arn:aws[\w-]*:sns:[a-z0-9-]+:\d{12}:[\w.-]{1,256}$/;
const CONNECT_INSTANCE = /^arn:aws[\w-]*:connect:[a-z0-9-]+:\d{12}:instance\/[\w-]+$/;

/** An event destination is a standard SNS topic, or an Amazon Connect instance with a role. */
export function validateEventDestinations(
  list: { eventDestinationArn: string; roleArn?: string | undefined }[],
): void {
  if (list.length > 1) {
    throw new AwsError(
      'ValidationException',
      'A WhatsApp Business Account has at most one event destination',
    );
  }
  for (const d of list) {
    if (SNS_TOPIC.test(d.eventDestinationArn)) {
      if (d.eventDestinationArn.endsWith('.fifo')) {
        throw new AwsError(
          'InvalidParametersException',
          'FIFO topics are not supported as event destinations; use a standard topic',
        );
      }
    } else if (CONNECT_INSTANCE.test(d.eventDestinationArn)) {
      if (!d.roleArn)
        throw new AwsError('InvalidParametersException', 'An Amazon Connect destination needs a roleArn');
    } else {
      throw new AwsError(
        'ValidationException',
        `eventDestinationArn ${d.eventDestinationArn} is not an SNS topic or Connect instance ARN`,
      );
    }
  }
}
