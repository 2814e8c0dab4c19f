import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { formatIssues } from '../config';
import type { EmulatorContext } from '../context';
import { topicOf } from '../events/event-bus';
import { ControlError } from '../http/control-errors';
import type { EmulatorRequest, HandlerResult, Router } from '../http/router';

const topicArn = z
  .string()
  .regex(/^arn:aws[\w-]*:sns:[a-z0-9-]+:\d{12}:[\w.-]+$/, 'expected an SNS topic ARN');
const subscribeSchema = z.strictObject({
  endpoint: z.url({ protocol: /^https?$/ }),
  topicArn: topicArn.optional(),
});
const unsubscribeSchema = z.strictObject({ subscriptionArn: z.string().min(1) });
const publishSchema = z.strictObject({
  message: z.string().min(1),
  topicArn: topicArn.optional(),
  subject: z.string().optional(),
});

/** A control request's JSON body checked against `schema`; 400 with what is wrong otherwise. */
export function parseControlBody<S extends z.ZodType>(schema: S, req: EmulatorRequest): z.output<S> {
  let json: unknown;
  try {
    json = JSON.parse(req.body.toString('utf8') || '{}');
  } catch {
    throw new ControlError(400, 'body is not valid JSON');
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new ControlError(400, formatIssues(parsed.error.issues));
  return parsed.data;
}

function xml(status: number, text: string): HandlerResult {
  return { status, text, contentType: 'text/xml' };
}

/** The topic a subscription without one gets: the first WABA's destination, else a default name. */
export function defaultTopicArn(ctx: EmulatorContext): string {
  for (const waba of ctx.world.wabas.values()) {
    const topic = topicOf(waba);
    if (topic) return topic;
  }
  return `arn:aws:sns:${ctx.config.region}:${ctx.config.accountId}:wa-campaigns-events`;
}

/**
 * SNS endpoints: the signing certificate, subscription management and raw publishing under
 * /_emulator/sns/, and the query-style SubscribeURL / UnsubscribeURL that SNS hands to subscribers.
 */
export function registerSnsRoutes(router: Router, ctx: EmulatorContext): void {
  router.add('GET', '/_emulator/sns/cert.pem', 'control', () => ({
    text: ctx.identity.certificatePem,
    contentType: 'application/x-pem-file',
  }));
  router.add('GET', '/_emulator/sns/subscriptions', 'control', () => ({
    json: { subscriptions: ctx.sns.list() },
  }));
  router.add('POST', '/_emulator/sns/subscribe', 'control', (req) => {
    const b = parseControlBody(subscribeSchema, req);
    return { json: ctx.sns.subscribe(b.endpoint, b.topicArn ?? defaultTopicArn(ctx)) };
  });
  router.add('POST', '/_emulator/sns/unsubscribe', 'control', (req) => {
    const b = parseControlBody(unsubscribeSchema, req);
    if (!ctx.sns.unsubscribe(b.subscriptionArn))
      throw new ControlError(404, `no subscription ${b.subscriptionArn}`);
    return { json: { ok: true } };
  });
  router.add('POST', '/_emulator/sns/publish', 'control', (req) => {
    const b = parseControlBody(publishSchema, req);
    return { json: ctx.sns.publish(b.topicArn, b.message, b.subject) };
  });

  router.addAction('GET', 'ConfirmSubscription', 'aws', (req) => {
    const sub = ctx.sns.confirm(req.query.get('TopicArn') ?? '', req.query.get('Token') ?? '');
    if (!sub) {
      return xml(
        404,
        `<ErrorResponse><Error><Type>Sender</Type><Code>NotFound</Code><Message>Subscription not found</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
      );
    }
    return xml(
      200,
      `<ConfirmSubscriptionResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><ConfirmSubscriptionResult><SubscriptionArn>${sub.subscriptionArn}</SubscriptionArn></ConfirmSubscriptionResult><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></ConfirmSubscriptionResponse>`,
    );
  });
  router.addAction('GET', 'Unsubscribe', 'aws', (req) => {
    ctx.sns.unsubscribe(req.query.get('SubscriptionArn') ?? '');
    return xml(
      200,
      `<UnsubscribeResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></UnsubscribeResponse>`,
    );
  });
}
