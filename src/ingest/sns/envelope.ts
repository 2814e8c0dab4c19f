import { asObject, asString } from '../events/shape';

export type SnsMessageType = 'Notification' | 'SubscriptionConfirmation' | 'UnsubscribeConfirmation';

/** The first level of the envelope: the JSON body SNS POSTs to an HTTP(S) subscriber. */
export interface SnsBody {
  Type: SnsMessageType;
  MessageId: string;
  TopicArn: string;
  Message: string;
  Timestamp: string;
  SignatureVersion: string;
  Signature: string;
  SigningCertURL: string;
  Subject?: string;
  Token?: string;
  SubscribeURL?: string;
  UnsubscribeURL?: string;
  [field: string]: unknown;
}

/** The body is not an SNS message at all; answered with 400. */
export class MalformedSnsBody extends Error {
  override name = 'MalformedSnsBody';
}

const TYPES: readonly string[] = ['Notification', 'SubscriptionConfirmation', 'UnsubscribeConfirmation'];
const REQUIRED = [
  'MessageId',
  'TopicArn',
  'Message',
  'Timestamp',
  'SignatureVersion',
  'Signature',
  'SigningCertURL',
];

/** Checks the fields every SNS message carries; the signature is checked separately. */
export function parseSnsBody(text: string): SnsBody {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new MalformedSnsBody('body is not JSON');
  }
  const obj = asObject(parsed);
  if (!obj) throw new MalformedSnsBody('body is not a JSON object');
  const type = asString(obj.Type);
  if (!type || !TYPES.includes(type))
    throw new MalformedSnsBody(`unknown SNS message Type ${JSON.stringify(obj.Type)}`);
  const missing = REQUIRED.filter((field) => typeof obj[field] !== 'string');
  if (type !== 'Notification' && typeof obj.SubscribeURL !== 'string') missing.push('SubscribeURL');
  if (missing.length > 0) throw new MalformedSnsBody(`SNS ${type} lacks ${missing.join(', ')}`);
  return obj as SnsBody;
}
