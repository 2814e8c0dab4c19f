/**
 * The world the emulator starts with when no configuration names WABAs: one linked WABA, one
 * registered number at the default throughput, and a few approved templates with and without body
 * parameters. Its ids are fixed (not seeded) so demos, docs and other tests can name them.
 */
export const DEMO_WABA_ID = 'waba-0d3a9c2e5f7b41a68e2c9d0f1b3a5c7e';
export const DEMO_META_WABA_ID = '102290129340398';
export const DEMO_PHONE_NUMBER_ID = 'phone-number-id-6f1c3a8e9b2d4f7a8c5e1d0b3a6f9c21';
export const DEMO_META_PHONE_NUMBER_ID = '106540352242922';
export const DEMO_DISPLAY_PHONE_NUMBER = '+1 555-010-0001';
export const DEMO_TOPIC_ARN = 'arn:aws:sns:us-east-1:123456789012:wa-campaigns-events';
export const DEMO_PIN = '123456';

/** The demo WABAs in configuration form (validated like a user's file). */
export function demoWabas(): unknown[] {
  return [
    {
      id: DEMO_WABA_ID,
      wabaId: DEMO_META_WABA_ID,
      name: 'Demo Shop',
      eventDestinations: [{ eventDestinationArn: DEMO_TOPIC_ARN }],
      phoneNumbers: [
        {
          id: DEMO_PHONE_NUMBER_ID,
          metaPhoneNumberId: DEMO_META_PHONE_NUMBER_ID,
          displayPhoneNumber: DEMO_DISPLAY_PHONE_NUMBER,
          displayName: 'Demo Shop',
          pin: DEMO_PIN,
        },
      ],
      templates: [
        {
          name: 'hello_world',
          language: 'en_US',
          category: 'UTILITY',
          body: 'Hello World! Welcome to the WhatsApp emulator.',
          metaTemplateId: '1000000000000001',
        },
        {
          name: 'order_update',
          language: 'en_US',
          category: 'UTILITY',
          body: 'Hi {{1}}, your order {{2}} is on its way.',
          metaTemplateId: '1000000000000002',
        },
        {
          name: 'order_update',
          language: 'es',
          category: 'UTILITY',
          body: 'Hola {{1}}, tu pedido {{2}} está en camino.',
          metaTemplateId: '1000000000000003',
        },
        {
          name: 'spring_sale',
          language: 'en_US',
          category: 'MARKETING',
          body: 'Spring sale: {{1}} off everything this week only.',
          footer: 'Reply STOP to opt out',
          metaTemplateId: '1000000000000004',
        },
        {
          name: 'spring_sale',
          language: 'es',
          category: 'MARKETING',
          body: 'Rebajas de primavera: {{1}} de descuento solo esta semana.',
          footer: 'Responde STOP para darte de baja',
          metaTemplateId: '1000000000000005',
        },
        {
          name: 'new_arrivals',
          language: 'en_US',
          category: 'MARKETING',
          header: { format: 'IMAGE' },
          body: 'New in, {{1}}: take a look at this week’s arrivals.',
          metaTemplateId: '1000000000000006',
        },
      ],
    },
  ];
}
