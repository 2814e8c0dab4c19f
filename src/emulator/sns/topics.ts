import type { AccountRef } from '../ids';

/** An SNS topic made through the emulated SNS API (or named by the configuration). */
export interface TopicState {
  arn: string;
  name: string;
  attributes: Map<string, string>;
  tags: Map<string, string>;
  /** Made through CreateTopic: its policy decides which services may publish to it. */
  managed: boolean;
}

/** A request the SNS API refuses; `code` is SNS's error code (NotFound, InvalidParameter …). */
export class SnsApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = 'SnsApiError';
  }
}

const TOPIC_NAME = /^[A-Za-z0-9_-]{1,256}$/;
// Attributes a caller may set; the others (TopicArn, Owner, counts) are SNS's own.
const SETTABLE = new Set([
  'Policy',
  'DisplayName',
  'DeliveryPolicy',
  'KmsMasterKeyId',
  'TracingConfig',
  'SignatureVersion',
  'ContentBasedDeduplication',
  'FifoTopic',
  'ArchivePolicy',
]);

/**
 * The account's SNS topics. Infrastructure, like subscriptions: they survive a world reset. Topics that
 * the configuration names as event destinations exist from the start and accept any publisher, so
 * configured worlds behave as before; topics made with CreateTopic enforce their policy.
 */
export class TopicRegistry {
  private readonly topics = new Map<string, TopicState>();

  constructor(private readonly account: AccountRef) {}

  /** Registers a configured topic (no policy enforcement). */
  adopt(arn: string): void {
    if (this.topics.has(arn)) return;
    const name = arn.slice(arn.lastIndexOf(':') + 1);
    this.topics.set(arn, { arn, name, attributes: this.defaults(arn), tags: new Map(), managed: false });
  }

  /** CreateTopic: idempotent by name when the attributes agree, as in SNS. */
  create(name: string, attributes: Map<string, string>, tags: Map<string, string>): TopicState {
    const fifo = name.endsWith('.fifo');
    const base = fifo ? name.slice(0, -5) : name;
    if (!TOPIC_NAME.test(base)) {
      throw new SnsApiError('InvalidParameter', 'Invalid parameter: Topic Name');
    }
    if (fifo !== (attributes.get('FifoTopic') === 'true')) {
      throw new SnsApiError(
        'InvalidParameter',
        'Invalid parameter: Fifo Topic names must end with .fifo and must have the FifoTopic attribute set to true',
      );
    }
    for (const key of attributes.keys()) this.checkSettable(key);
    const arn = `arn:aws:sns:${this.account.region}:${this.account.accountId}:${name}`;
    const existing = this.topics.get(arn);
    if (existing) {
      for (const [k, v] of attributes) {
        if (existing.attributes.get(k) !== v) {
          throw new SnsApiError(
            'InvalidParameter',
            'Invalid parameter: Attributes Reason: Topic already exists with different attributes',
          );
        }
      }
      return existing;
    }
    const topic: TopicState = { arn, name, attributes: this.defaults(arn), tags, managed: true };
    for (const [k, v] of attributes) topic.attributes.set(k, v);
    this.topics.set(arn, topic);
    return topic;
  }

  list(): TopicState[] {
    return [...this.topics.values()];
  }

  /** A topic by ARN, or SNS's NotFound. */
  require(arn: string): TopicState {
    const topic = this.topics.get(arn);
    if (!topic) throw new SnsApiError('NotFound', 'Topic does not exist', 404);
    return topic;
  }

  setAttribute(arn: string, name: string, value: string): void {
    this.checkSettable(name);
    if (name === 'Policy') {
      try {
        JSON.parse(value);
      } catch {
        throw new SnsApiError('InvalidParameter', 'Invalid parameter: Policy Error: null');
      }
    }
    this.require(arn).attributes.set(name, value);
  }

  /**
   * Whether an AWS service may publish to the topic. Unknown and configured topics accept anyone; a
   * topic made through the API needs a policy statement allowing that service principal sns:Publish
   * (conditions, if any, must name this account).
   */
  allowsService(arn: string, principal: string): boolean {
    const topic = this.topics.get(arn);
    if (!topic?.managed) return true;
    let statements: Record<string, unknown>[];
    try {
      const doc = JSON.parse(topic.attributes.get('Policy') ?? '{}') as { Statement?: unknown };
      statements = (Array.isArray(doc.Statement) ? doc.Statement : [doc.Statement]).filter(Boolean) as Record<
        string,
        unknown
      >[];
    } catch {
      return false;
    }
    return statements.some((s) => {
      const services = ([] as unknown[]).concat(
        (s.Principal as { Service?: unknown } | undefined)?.Service ?? [],
      );
      const actions = ([] as unknown[]).concat(s.Action ?? []);
      const account = JSON.stringify(s.Condition ?? {}).match(/"aws:SourceAccount":"?(\d{12})/i)?.[1];
      return (
        s.Effect === 'Allow' &&
        services.includes(principal) &&
        actions.some((a) => a === 'sns:Publish' || a === 'sns:*') &&
        (account === undefined || account === this.account.accountId)
      );
    });
  }

  private checkSettable(name: string): void {
    if (!SETTABLE.has(name))
      throw new SnsApiError('InvalidParameter', `Invalid parameter: AttributeName ${name}`);
  }

  private defaults(arn: string): Map<string, string> {
    const { accountId } = this.account;
    const policy = {
      Version: '2008-10-17',
      Id: '__default_policy_ID',
      Statement: [
        {
          Sid: '__default_statement_ID',
          Effect: 'Allow',
          Principal: { AWS: '*' },
          Action: ['SNS:GetTopicAttributes', 'SNS:SetTopicAttributes', 'SNS:Subscribe', 'SNS:Publish'],
          Resource: arn,
          Condition: { StringEquals: { 'AWS:SourceOwner': accountId } },
        },
      ],
    };
    return new Map([
      ['TopicArn', arn],
      ['Owner', accountId],
      ['Policy', JSON.stringify(policy)],
      ['DisplayName', ''],
    ]);
  }
}
