import { z } from 'zod';
import type { EmulatorContext } from '../context';
import type { Router } from '../http/router';
import { parseControlBody } from '../sns/routes';
import { receiveSms } from './inbound';

const inboundSchema = z.strictObject({
  to: z.string().regex(/^\+\d{6,15}$/, 'expected E.164'),
  from: z.string().min(1).default('+15550001234'),
  body: z.string().min(1),
});

/**
 * SMS and topics on the control surface: `GET /_emulator/sms` (numbers and the inbound SMS they got,
 * published or not and why), `POST /_emulator/sms/inbound {to, from?, body}` (someone texts a number),
 * `GET /_emulator/sns/topics` (topics with their attributes).
 */
export function registerSmsControlRoutes(router: Router, ctx: EmulatorContext): void {
  router.add('GET', '/_emulator/sms', 'control', () => ({
    json: { numbers: ctx.smsNumbers.list(), inbound: ctx.smsNumbers.inbound },
  }));
  router.add('POST', '/_emulator/sms/inbound', 'control', (req) => ({
    json: receiveSms(ctx, parseControlBody(inboundSchema, req)),
  }));
  router.add('GET', '/_emulator/sns/topics', 'control', () => ({
    json: {
      topics: ctx.topics
        .list()
        .map((t) => ({ arn: t.arn, managed: t.managed, attributes: Object.fromEntries(t.attributes) })),
    },
  }));
}
