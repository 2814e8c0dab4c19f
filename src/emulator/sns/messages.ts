/** Fields common to the SNS messages POSTed to HTTP subscribers. */
interface SnsSigned {
  MessageId: string;
  TopicArn: string;
  Message: string;
  Timestamp: string;
  SignatureVersion: '1' | '2';
  Signature: string;
  SigningCertURL: string;
}

/** A published message as SNS delivers it. */
export interface SnsNotification extends SnsSigned {
  Type: 'Notification';
  Subject?: string;
  UnsubscribeURL: string;
}

/** The handshake SNS sends before any notification: the subscriber must visit SubscribeURL. */
export interface SnsSubscriptionConfirmation extends SnsSigned {
  Type: 'SubscriptionConfirmation';
  Token: string;
  SubscribeURL: string;
}

export type SnsMessage = SnsNotification | SnsSubscriptionConfirmation;
