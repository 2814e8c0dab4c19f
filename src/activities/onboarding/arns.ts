import { permanent } from './aws-failures';

/** Partition, region and account of an AWS resource: what policies and "same account" checks need. */
export interface AccountScope {
  partition: string;
  region: string;
  accountId: string;
}

const ARN = /^arn:(aws[\w-]*):([\w-]+):([a-z0-9-]*):(\d{12}):(.+)$/;

/** Splits an ARN; undefined when it is not one. */
export function parseArn(arn: string): (AccountScope & { service: string; resource: string }) | undefined {
  const m = ARN.exec(arn);
  if (!m) return undefined;
  return { partition: m[1]!, service: m[2]!, region: m[3]!, accountId: m[4]!, resource: m[5]! };
}

/** The scope of an ARN of the given service, or a non-retryable failure naming what is wrong. */
export function scopeOf(arn: string, service: string, what: string): AccountScope & { resource: string } {
  const parsed = parseArn(arn);
  if (!parsed || parsed.service !== service) {
    throw permanent('InvalidArn', `${what} ${arn} is not an ${service} ARN`);
  }
  return parsed;
}

/** `arn:<partition>:social-messaging:<region>:<account>:*`: what aws:SourceArn conditions match. */
export function socialMessagingSourceArn(scope: AccountScope): string {
  return `arn:${scope.partition}:social-messaging:${scope.region}:${scope.accountId}:*`;
}
