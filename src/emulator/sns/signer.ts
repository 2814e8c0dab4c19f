import { sign, type KeyObject } from 'node:crypto';
import type { SnsMessage } from './messages';

// The fields SNS signs, in the order it signs them (an absent Subject is skipped).
const NOTIFICATION_FIELDS = ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type'] as const;
const CONFIRMATION_FIELDS = [
  'Message',
  'MessageId',
  'SubscribeURL',
  'Timestamp',
  'Token',
  'TopicArn',
  'Type',
] as const;

/** The canonical string SNS signs: `name\nvalue\n` for each signed field present. */
export function stringToSign(message: Omit<SnsMessage, 'Signature'>): string {
  const fields = message.Type === 'Notification' ? NOTIFICATION_FIELDS : CONFIRMATION_FIELDS;
  const record = message as unknown as Record<string, string | undefined>;
  let out = '';
  for (const field of fields) {
    const value = record[field];
    if (value !== undefined) out += `${field}\n${value}\n`;
  }
  return out;
}

/** Signs like SNS: SignatureVersion 1 is SHA1withRSA, 2 is SHA256withRSA; base64. */
export function signSnsMessage(message: Omit<SnsMessage, 'Signature'>, key: KeyObject): string {
  const algorithm = message.SignatureVersion === '1' ? 'sha1' : 'sha256';
  return sign(algorithm, Buffer.from(stringToSign(message), 'utf8'), key).toString('base64');
}
