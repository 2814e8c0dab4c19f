import {
  CreateTopicCommand,
  GetTopicAttributesCommand,
  ListSubscriptionsByTopicCommand,
  SetTopicAttributesCommand,
  SubscribeCommand,
  type SNSClient,
} from '@aws-sdk/client-sns';
import {
  EventDestinationKind,
  type EventDestinationChoice,
  type OnboardingDocuments,
} from '../../shared/workflow-contracts';
import type { ActivityDeps } from '../deps';
import { scopeOf, type AccountScope } from './arns';
import { permanent, rethrowAws } from './aws-failures';
import {
  connectRolePermissions,
  connectRoleTrust,
  kmsKeyStatement,
  mergeTopicPolicy,
  pretty,
  smsPublishStatement,
  topicPublishStatement,
} from './policies';

export interface PrepareEventDestinationInput {
  onboardingId: string;
  /** The WABA's ARN: the destination must be in its account and region. */
  wabaArn: string;
  choice: EventDestinationChoice;
  /** Subscribed to the topic when given. */
  ingestUrl?: string;
  /** Two-way SMS will publish inbound SMS to the same topic. */
  allowSmsPublish?: boolean;
}

export interface PrepareEventDestinationResult {
  eventDestinationArn: string;
  roleArn?: string;
  kind: EventDestinationKind;
  subscription: 'pending' | 'confirmed' | 'none';
  documents: OnboardingDocuments;
}

/**
 * Makes the WABA's event destination ready before finalization names it: an SNS topic that exists, is
 * standard, lives in the WABA's account and region, lets Social Messaging publish, and delivers to our
 * ingest service; or, for Amazon Connect, the role policies the operator must put in place. Every
 * call here is idempotent, so a retry after a crash repeats it safely.
 */
export async function prepareEventDestination(
  deps: ActivityDeps,
  input: PrepareEventDestinationInput,
): Promise<PrepareEventDestinationResult> {
  const scope = scopeOf(input.wabaArn, 'social-messaging', 'WABA');
  const choice = input.choice;
  if (choice.kind === EventDestinationKind.Connect) return connectDestination(choice, scope);

  const sns = deps.sns;
  if (!sns) throw permanent('NotConfigured', 'this worker has no SNS client; it cannot prepare a topic');
  const documents: OnboardingDocuments = {};
  let topicArn: string;
  if (choice.kind === EventDestinationKind.ExistingTopic) {
    topicArn = choice.topicArn;
    checkTopicArn(topicArn, scope);
  } else {
    const name = choice.topicName ?? defaultTopicName(input.onboardingId);
    if (name.endsWith('.fifo'))
      throw permanent('FifoTopic', `topic ${name}: FIFO topics cannot be event destinations`);
    topicArn = await createTopic(sns, name, input.onboardingId, choice.kmsKeyId);
    // The SNS client's region decides where the topic is made; it must be the WABA's.
    checkTopicArn(topicArn, scope);
  }

  const attributes = await topicAttributes(sns, topicArn);
  if (attributes.FifoTopic === 'true') {
    throw permanent(
      'FifoTopic',
      `topic ${topicArn} is a FIFO topic; event destinations must be standard topics`,
    );
  }
  if (attributes.KmsMasterKeyId) documents.kmsKeyPolicyStatement = pretty(kmsKeyStatement(scope));

  const statements = [topicPublishStatement(topicArn, scope)];
  if (input.allowSmsPublish) statements.push(smsPublishStatement(topicArn, scope));
  documents.topicPolicyStatement = pretty(statements.length === 1 ? statements[0] : statements);
  const policy = mergeTopicPolicy(attributes.Policy, statements);
  if (policy !== undefined) {
    try {
      await sns.send(
        new SetTopicAttributesCommand({
          TopicArn: topicArn,
          AttributeName: 'Policy',
          AttributeValue: policy,
        }),
      );
    } catch (err) {
      rethrowAws(err, `setting the policy of ${topicArn}`);
    }
  }

  const subscription = input.ingestUrl ? await subscribe(sns, topicArn, input.ingestUrl) : 'none';
  deps.logger.info({ onboardingId: input.onboardingId, topicArn, subscription }, 'event destination ready');
  return { eventDestinationArn: topicArn, kind: choice.kind, subscription, documents };
}

function connectDestination(
  choice: Extract<EventDestinationChoice, { kind: EventDestinationKind.Connect }>,
  scope: AccountScope,
): PrepareEventDestinationResult {
  const instance = scopeOf(choice.instanceArn, 'connect', 'Amazon Connect instance');
  if (!instance.resource.startsWith('instance/')) {
    throw permanent('InvalidArn', `${choice.instanceArn} is not an Amazon Connect instance ARN`);
  }
  sameScope(instance, scope, choice.instanceArn);
  scopeOf(choice.roleArn, 'iam', 'role');
  return {
    eventDestinationArn: choice.instanceArn,
    roleArn: choice.roleArn,
    kind: choice.kind,
    subscription: 'none',
    documents: {
      connectRolePermissions: pretty(connectRolePermissions(choice.instanceArn, scope)),
      connectRoleTrust: pretty(connectRoleTrust(scope)),
    },
  };
}

/** Topic names allow letters, digits, - and _ (256 at most). */
function defaultTopicName(onboardingId: string): string {
  return `wa-events-${onboardingId.replace(/[^A-Za-z0-9_-]/g, '-')}`.slice(0, 256);
}

function checkTopicArn(topicArn: string, waba: AccountScope): void {
  const topic = scopeOf(topicArn, 'sns', 'topic');
  if (topic.resource.endsWith('.fifo')) {
    throw permanent(
      'FifoTopic',
      `topic ${topicArn} is a FIFO topic; event destinations must be standard topics`,
    );
  }
  sameScope(topic, waba, topicArn);
}

function sameScope(resource: AccountScope, waba: AccountScope, arn: string): void {
  if (
    resource.partition !== waba.partition ||
    resource.region !== waba.region ||
    resource.accountId !== waba.accountId
  ) {
    throw permanent(
      'WrongAccountOrRegion',
      `${arn} must be in the WABA's account ${waba.accountId} and region ${waba.region}`,
    );
  }
}

async function createTopic(
  sns: SNSClient,
  name: string,
  onboardingId: string,
  kmsKeyId?: string,
): Promise<string> {
  let arn: string | undefined;
  try {
    // CreateTopic is idempotent by name (and attributes): a retry returns the same topic.
    const out = await sns.send(
      new CreateTopicCommand({
        Name: name,
        ...(kmsKeyId ? { Attributes: { KmsMasterKeyId: kmsKeyId } } : {}),
        Tags: [{ Key: 'wa-campaigns:onboarding', Value: onboardingId }],
      }),
    );
    arn = out.TopicArn;
  } catch (err) {
    rethrowAws(err, `creating topic ${name}`);
  }
  if (!arn) throw permanent('CreateTopicEmpty', `CreateTopic ${name} returned no ARN`);
  return arn;
}

async function topicAttributes(sns: SNSClient, topicArn: string): Promise<Record<string, string>> {
  try {
    return (await sns.send(new GetTopicAttributesCommand({ TopicArn: topicArn }))).Attributes ?? {};
  } catch (err) {
    rethrowAws(err, `reading topic ${topicArn}`);
  }
}

/** Subscribes the ingest service once: an existing subscription of the same endpoint is reused. */
async function subscribe(
  sns: SNSClient,
  topicArn: string,
  endpoint: string,
): Promise<'pending' | 'confirmed'> {
  try {
    let next: string | undefined;
    do {
      const page = await sns.send(
        new ListSubscriptionsByTopicCommand({ TopicArn: topicArn, NextToken: next }),
      );
      const existing = page.Subscriptions?.find((s) => s.Endpoint === endpoint);
      if (existing) return isPending(existing.SubscriptionArn) ? 'pending' : 'confirmed';
      next = page.NextToken;
    } while (next);
    const protocol = new URL(endpoint).protocol === 'https:' ? 'https' : 'http';
    const out = await sns.send(
      new SubscribeCommand({ TopicArn: topicArn, Protocol: protocol, Endpoint: endpoint }),
    );
    return isPending(out.SubscriptionArn) ? 'pending' : 'confirmed';
  } catch (err) {
    rethrowAws(err, `subscribing ${endpoint} to ${topicArn}`);
  }
}

// SNS says "PendingConfirmation" (listings) or "pending confirmation" (Subscribe, unless asked to return
// the ARN anyway) until the endpoint has visited its SubscribeURL.
const isPending = (arn: string | undefined): boolean => !arn || !arn.startsWith('arn:');
