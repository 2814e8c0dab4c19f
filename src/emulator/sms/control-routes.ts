import { z } from 'zod';
import { formatIssues } from '../config';
import type { EmulatorContext } from '../context';
import { ControlError } from '../http/control-errors';
import type { Router } from '../http/router';
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
  router.add('POST', '/_emulator/sms/inbound', 'control', (req) => {
    let json: unknown;
    try {
      json = JSON.parse(req.body.toString('utf8') || '{}');
    } catch {
      throw new ControlError(400, 'body is not valid JSON');
    }
    const parsed = inboundSchema.safeParse(json);
    if (!parsed.success) throw new ControlError(400, formatIssues(parsed.error.issues));
    return { json: receiveSms(ctx, parsed.data) };
  });
  router.add('GET', '/_emulator/sns/topics', 'control', () => ({
    json: {
      topics: ctx.topics
        .list()
        .map((t) => ({ arn: t.arn, managed: t.managed, attributes: Object.fromEntries(t.attributes) })),
    },
  }));
}
