import { socialMessagingSourceArn, type AccountScope } from './arns';

/**
 * Policy documents for an event destination. Every grant to an AWS service principal carries
 * aws:SourceAccount and aws:SourceArn conditions, so the service can act only on behalf of our own
 * account's resources (the "confused deputy" guard AWS recommends).
 */

export const SOCIAL_MESSAGING_PRINCIPAL = 'social-messaging.amazonaws.com';
export const SMS_VOICE_PRINCIPAL = 'sms-voice.amazonaws.com';
export const TOPIC_STATEMENT_SID = 'WaCampaignsSocialMessagingPublish';
export const SMS_TOPIC_STATEMENT_SID = 'WaCampaignsTwoWaySmsPublish';

export type PolicyStatement = Record<string, unknown> & { Sid?: string };

interface PolicyDocument {
  Version: string;
  Id?: string;
  Statement: PolicyStatement[];
}

function sourceConditions(scope: AccountScope, sourceArn: string): Record<string, unknown> {
  return {
    StringEquals: { 'aws:SourceAccount': scope.accountId },
    ArnLike: { 'aws:SourceArn': sourceArn },
  };
}

/** Lets AWS End User Messaging Social publish the WABA's events to the topic. */
export function topicPublishStatement(topicArn: string, scope: AccountScope): PolicyStatement {
  return {
    Sid: TOPIC_STATEMENT_SID,
    Effect: 'Allow',
    Principal: { Service: SOCIAL_MESSAGING_PRINCIPAL },
    Action: 'sns:Publish',
    Resource: topicArn,
    Condition: sourceConditions(scope, socialMessagingSourceArn(scope)),
  };
}

/** Lets AWS End User Messaging SMS publish inbound SMS (two-way SMS) to the topic. */
export function smsPublishStatement(topicArn: string, scope: AccountScope): PolicyStatement {
  return {
    Sid: SMS_TOPIC_STATEMENT_SID,
    Effect: 'Allow',
    Principal: { Service: SMS_VOICE_PRINCIPAL },
    Action: 'sns:Publish',
    Resource: topicArn,
    Condition: sourceConditions(
      scope,
      `arn:${scope.partition}:sms-voice:${scope.region}:${scope.accountId}:*`,
    ),
  };
}

/**
 * The key policy statement a KMS key that encrypts the topic needs: SNS must be able to encrypt what
 * Social Messaging publishes, which it does with data keys generated under that principal's name.
 */
export function kmsKeyStatement(scope: AccountScope): PolicyStatement {
  return {
    Sid: 'WaCampaignsSocialMessagingUseOfKey',
    Effect: 'Allow',
    Principal: { Service: SOCIAL_MESSAGING_PRINCIPAL },
    Action: ['kms:GenerateDataKey*', 'kms:Decrypt'],
    Resource: '*',
    Condition: sourceConditions(scope, socialMessagingSourceArn(scope)),
  };
}

/** What the IAM role of an Amazon Connect event destination may do. */
export function connectRolePermissions(instanceArn: string, scope: AccountScope): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: ['connect:SendIntegrationEvent', 'connect:ImportPhoneNumber'],
        Resource: [instanceArn, `${instanceArn}/*`],
      },
      {
        Effect: 'Allow',
        Action: [
          'social-messaging:GetLinkedWhatsAppBusinessAccountPhoneNumber',
          'social-messaging:TagResource',
        ],
        Resource: socialMessagingSourceArn(scope),
      },
    ],
  };
}

/** Who may assume that role: Social Messaging, for our account only. */
export function connectRoleTrust(scope: AccountScope): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { Service: SOCIAL_MESSAGING_PRINCIPAL },
        Action: 'sts:AssumeRole',
        Condition: sourceConditions(scope, socialMessagingSourceArn(scope)),
      },
    ],
  };
}

/**
 * The topic's policy with our statements added or replaced (matched by Sid), every other statement kept
 * as it was. Returns undefined when nothing changes, so an unchanged policy is not written again.
 */
export function mergeTopicPolicy(current: string | undefined, ours: PolicyStatement[]): string | undefined {
  let doc: PolicyDocument;
  try {
    doc = current ? (JSON.parse(current) as PolicyDocument) : { Version: '2008-10-17', Statement: [] };
  } catch {
    doc = { Version: '2008-10-17', Statement: [] };
  }
  const statements = Array.isArray(doc.Statement) ? doc.Statement : [doc.Statement];
  const sids = new Set(ours.map((s) => s.Sid));
  const kept = statements.filter((s) => !sids.has(s.Sid));
  const next = { ...doc, Statement: [...kept, ...ours] };
  const before = statements.filter((s) => sids.has(s.Sid));
  const same =
    before.length === ours.length &&
    ours.every((s) => before.some((b) => JSON.stringify(b) === JSON.stringify(s)));
  return same ? undefined : JSON.stringify(next);
}

/** Pretty JSON for the operator. */
export const pretty = (value: unknown): string => JSON.stringify(value, null, 2);
