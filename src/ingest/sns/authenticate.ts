import type { SnsBody } from './envelope';
import { SignatureRejected, type SnsSignatureVerifier } from './signature';
import type { TopicAllowList } from './topics';

export type RejectionReason = 'wrong-topic' | 'expired' | 'bad-signature';

/** A message that must not be acted on; answered with 403 and archived as rejected. */
export class MessageRejected extends Error {
  override name = 'MessageRejected';
  constructor(
    readonly reason: RejectionReason,
    message: string,
  ) {
    super(message);
  }
}

export interface AuthenticateOptions {
  topics: TopicAllowList;
  verifier: SnsSignatureVerifier;
  /** Messages signed longer ago than this are refused as replays; 0 turns the check off. */
  maxAgeMs: number;
  now: () => number;
}

/**
 * Decides whether an SNS message may be acted on: it comes from one of our topics, it is recent, and
 * SNS signed it. The cheap checks run first so a flood of junk costs no certificate downloads.
 * Throws MessageRejected, or CertificateUnavailable when the answer is not known yet.
 */
export async function authenticate(body: SnsBody, options: AuthenticateOptions): Promise<void> {
  if (!options.topics.allows(body.TopicArn)) {
    throw new MessageRejected('wrong-topic', `topic ${body.TopicArn} is not one this service listens to`);
  }
  const signedAt = Date.parse(body.Timestamp);
  if (Number.isNaN(signedAt))
    throw new MessageRejected('bad-signature', `Timestamp ${body.Timestamp} is not a time`);
  if (options.maxAgeMs > 0 && options.now() - signedAt > options.maxAgeMs) {
    throw new MessageRejected(
      'expired',
      `message signed at ${body.Timestamp} is older than the accepted ${options.maxAgeMs / 1000} s`,
    );
  }
  try {
    await options.verifier.verify(body);
  } catch (err) {
    if (err instanceof SignatureRejected) throw new MessageRejected('bad-signature', err.message);
    throw err;
  }
}
