/** Builds the Cloud API message body that SendWhatsAppMessage carries for one template send. */
export interface TemplateMessageInput {
  to: string;
  templateName: string;
  templateLanguage: string;
  bodyParameters: readonly string[];
  bizOpaqueCallbackData: string;
}

export function buildTemplateMessage(input: TemplateMessageInput): Uint8Array {
  const components =
    input.bodyParameters.length > 0
      ? [{ type: 'body', parameters: input.bodyParameters.map((text) => ({ type: 'text', text })) }]
      : [];
  const message = {
    messaging_product: 'whatsapp',
    recipient_type: 'individual',
    to: input.to,
    type: 'template',
    template: {
      name: input.templateName,
      language: { policy: 'deterministic', code: input.templateLanguage },
      components,
    },
    biz_opaque_callback_data: input.bizOpaqueCallbackData,
  };
  return Buffer.from(JSON.stringify(message));
}
