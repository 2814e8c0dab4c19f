import { randomUUID } from 'node:crypto';
import type { EmulatorContext } from '../context';
import type { HandlerResult } from '../http/router';
import { SnsApiError } from './topics';

/**
 * The part of Amazon SNS's query API that onboarding uses, spoken as @aws-sdk/client-sns speaks it
 * (AWS query protocol: form-encoded `Action=…` POSTs, XML answers): CreateTopic, GetTopicAttributes,
 * SetTopicAttributes, Subscribe (HTTP/HTTPS endpoints, with the usual confirmation handshake) and
 * ListSubscriptionsByTopic.
 */
export function snsQueryAction(ctx: EmulatorContext, form: URLSearchParams): HandlerResult {
  const action = form.get('Action') ?? '';
  try {
    switch (action) {
      case 'CreateTopic':
        return createTopic(ctx, form);
      case 'GetTopicAttributes':
        return getTopicAttributes(ctx, form);
      case 'SetTopicAttributes':
        return setTopicAttributes(ctx, form);
      case 'Subscribe':
        return subscribe(ctx, form);
      case 'ListSubscriptionsByTopic':
        return listSubscriptionsByTopic(ctx, form);
      default:
        throw new SnsApiError('InvalidAction', `The action ${action} is not valid for this endpoint.`);
    }
  } catch (err) {
    if (err instanceof SnsApiError) return errorXml(err);
    throw err;
  }
}

const NS = 'http://sns.amazonaws.com/doc/2010-03-31/';

function escapeXml(text: string): string {
  return text.replace(
    /[<>&'"]/g,
    (c) => `&${{ '<': 'lt', '>': 'gt', '&': 'amp', "'": 'apos', '"': 'quot' }[c]};`,
  );
}

function respond(action: string, result: string): HandlerResult {
  const body =
    `<${action}Response xmlns="${NS}">` +
    (result ? `<${action}Result>${result}</${action}Result>` : '') +
    `<ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></${action}Response>`;
  return { text: body, contentType: 'text/xml' };
}

function errorXml(err: SnsApiError): HandlerResult {
  const type = err.status >= 500 ? 'Receiver' : 'Sender';
  return {
    status: err.status,
    text: `<ErrorResponse xmlns="${NS}"><Error><Type>${type}</Type><Code>${err.code}</Code><Message>${escapeXml(err.message)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
    contentType: 'text/xml',
  };
}

function required(form: URLSearchParams, name: string): string {
  const value = form.get(name);
  if (!value) throw new SnsApiError('InvalidParameter', `Invalid parameter: ${name}`);
  return value;
}

/** `Prefix.entry.N.key/value` (attributes) or `Prefix.member.N.Key/Value` (tags) as a map. */
function mapParam(
  form: URLSearchParams,
  prefix: string,
  item: string,
  key: string,
  value: string,
): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 1; form.has(`${prefix}.${item}.${i}.${key}`); i++) {
    out.set(
      form.get(`${prefix}.${item}.${i}.${key}`) as string,
      form.get(`${prefix}.${item}.${i}.${value}`) ?? '',
    );
  }
  return out;
}

function createTopic(ctx: EmulatorContext, form: URLSearchParams): HandlerResult {
  const topic = ctx.topics.create(
    required(form, 'Name'),
    mapParam(form, 'Attributes', 'entry', 'key', 'value'),
    mapParam(form, 'Tags', 'member', 'Key', 'Value'),
  );
  return respond('CreateTopic', `<TopicArn>${escapeXml(topic.arn)}</TopicArn>`);
}

function getTopicAttributes(ctx: EmulatorContext, form: URLSearchParams): HandlerResult {
  const topic = ctx.topics.require(required(form, 'TopicArn'));
  const subs = ctx.sns.list().filter((s) => s.topicArn === topic.arn);
  const attributes = new Map(topic.attributes);
  attributes.set('SubscriptionsConfirmed', String(subs.filter((s) => s.status === 'Confirmed').length));
  attributes.set('SubscriptionsPending', String(subs.filter((s) => s.status !== 'Confirmed').length));
  attributes.set('SubscriptionsDeleted', '0');
  const entries = [...attributes]
    .map(([k, v]) => `<entry><key>${escapeXml(k)}</key><value>${escapeXml(v)}</value></entry>`)
    .join('');
  return respond('GetTopicAttributes', `<Attributes>${entries}</Attributes>`);
}

function setTopicAttributes(ctx: EmulatorContext, form: URLSearchParams): HandlerResult {
  ctx.topics.setAttribute(
    required(form, 'TopicArn'),
    required(form, 'AttributeName'),
    form.get('AttributeValue') ?? '',
  );
  return respond('SetTopicAttributes', '');
}

function subscribe(ctx: EmulatorContext, form: URLSearchParams): HandlerResult {
  const topic = ctx.topics.require(required(form, 'TopicArn'));
  const protocol = required(form, 'Protocol');
  const endpoint = required(form, 'Endpoint');
  if (protocol !== 'http' && protocol !== 'https') {
    throw new SnsApiError(
      'InvalidParameter',
      `Invalid parameter: the emulator delivers only to http and https endpoints, not ${protocol}`,
    );
  }
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new SnsApiError('InvalidParameter', 'Invalid parameter: Endpoint');
  }
  if (url.protocol !== `${protocol}:`)
    throw new SnsApiError('InvalidParameter', 'Invalid parameter: Endpoint must match the protocol');
  const sub = ctx.sns.subscribe(endpoint, topic.arn);
  // As in SNS: the ARN only once confirmed, unless the caller asks for it anyway.
  const showArn = sub.status === 'Confirmed' || form.get('ReturnSubscriptionArn') === 'true';
  return respond(
    'Subscribe',
    `<SubscriptionArn>${escapeXml(showArn ? sub.subscriptionArn : 'pending confirmation')}</SubscriptionArn>`,
  );
}

function listSubscriptionsByTopic(ctx: EmulatorContext, form: URLSearchParams): HandlerResult {
  const topic = ctx.topics.require(required(form, 'TopicArn'));
  const members = ctx.sns
    .list()
    .filter((s) => s.topicArn === topic.arn)
    .map(
      (s) =>
        `<member><TopicArn>${escapeXml(s.topicArn)}</TopicArn><Protocol>${new URL(s.endpoint).protocol.slice(0, -1)}</Protocol>` +
        `<SubscriptionArn>${escapeXml(s.status === 'Confirmed' ? s.subscriptionArn : 'PendingConfirmation')}</SubscriptionArn>` +
        `<Owner>${ctx.config.accountId}</Owner><Endpoint>${escapeXml(s.endpoint)}</Endpoint></member>`,
    )
    .join('');
  return respond('ListSubscriptionsByTopic', `<Subscriptions>${members}</Subscriptions>`);
}
