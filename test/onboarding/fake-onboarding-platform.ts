import type { SNSClient } from '@aws-sdk/client-sns';
import {
  InvalidParametersException,
  ThrottledRequestException,
  type SocialMessagingClient,
} from '@aws-sdk/client-socialmessaging';

const ACCOUNT = '123456789012';
const REGION = 'us-east-1';
const HOUR = 3_600_000;

interface FakeNumber {
  id: string;
  metaId: string;
  display: string;
  /** The PIN Meta holds (imported number), if any. */
  pin?: string;
  registered: boolean;
}

type Command = { constructor: { name: string }; input: Record<string, unknown> };

/**
 * AWS End User Messaging Social and SNS as onboarding sees them, in memory, for the time-skipping
 * server: registration attempts are timed by the activity's virtual clock, so a 72-hour block lifts
 * when the test server has skipped 72 hours. It records every call so tests can count attempts.
 */
export class FakeOnboardingPlatform {
  readonly wabaId = 'waba-0123456789abcdef0123456789abcdef';
  readonly numbers: FakeNumber[];
  readonly calls: string[] = [];
  /** Times of register attempts per number (for 133016). */
  readonly attempts = new Map<string, number[]>();
  /** Meta codes the next finalizations answer, one per call, before the normal rules. */
  readonly failNext: number[] = [];
  readonly topics = new Map<string, Record<string, string>>();
  readonly subscriptions: { topicArn: string; endpoint: string; confirmed: boolean }[] = [];
  /** Calls (by command name, without "Command") that fail as throttled this many more times. */
  readonly throttle = new Map<string, number>();
  registered = false;

  constructor(
    private readonly clock: () => number,
    numbers: { suffix: string; pin?: string }[] = [{ suffix: 'a' }],
  ) {
    this.numbers = numbers.map((n) => ({
      id: `phone-number-id-${n.suffix.repeat(32).slice(0, 32)}`,
      metaId: `10654035224${String(this.counter++).padStart(4, '0')}`,
      display: `+1 555-010-${String(1000 + this.counter).slice(-4)}`,
      ...(n.pin ? { pin: n.pin } : {}),
      registered: false,
    }));
  }

  private counter = 1;

  get wabaArn(): string {
    return `arn:aws:social-messaging:${REGION}:${ACCOUNT}:waba/${this.wabaId.slice(5)}`;
  }

  /**
   * Records `n` register attempts on a number at `atMs` (to provoke 133016). Tests pass the test server's
   * time: outside an activity the clock would answer real time, which skipped time has left behind.
   */
  exhaustAttempts(phoneNumberId: string, atMs: number, n = 10): void {
    this.attempts.set(
      phoneNumberId,
      Array.from({ length: n }, () => atMs),
    );
  }

  socialMessaging(): SocialMessagingClient {
    const send = (command: Command) => {
      const name = command.constructor.name.replace(/Command$/, '');
      this.calls.push(name);
      if (this.throttled(name)) return Promise.reject(throttledError());
      switch (name) {
        case 'AssociateWhatsAppBusinessAccount':
          return Promise.resolve(
            command.input.signupCallback ? this.signupCallback() : this.finalize(command.input),
          );
        case 'GetLinkedWhatsAppBusinessAccount':
          return Promise.resolve({
            account: {
              arn: this.wabaArn,
              id: this.wabaId,
              registrationStatus: this.numbers.every((n) => n.registered) ? 'COMPLETE' : 'INCOMPLETE',
              eventDestinations: [],
            },
          });
        case 'GetLinkedWhatsAppBusinessAccountPhoneNumber':
          return Promise.resolve({
            phoneNumber: { qualityRating: 'GREEN' },
            linkedWhatsAppBusinessAccountId: this.wabaId,
          });
        default:
          return Promise.reject(new Error(`fake platform does not know ${name}`));
      }
    };
    return { send } as unknown as SocialMessagingClient;
  }

  sns(): SNSClient {
    const send = (command: Command) => {
      const name = command.constructor.name.replace(/Command$/, '');
      this.calls.push(name);
      const input = command.input as Record<string, string>;
      if (this.throttled(name)) return Promise.reject(throttledError());
      switch (name) {
        case 'CreateTopic': {
          const arn = `arn:aws:sns:${REGION}:${ACCOUNT}:${input.Name}`;
          if (!this.topics.has(arn))
            this.topics.set(arn, { TopicArn: arn, Policy: '{"Version":"2008-10-17","Statement":[]}' });
          return Promise.resolve({ TopicArn: arn });
        }
        case 'GetTopicAttributes': {
          const t = this.topics.get(input.TopicArn as string);
          if (!t)
            return Promise.reject(
              Object.assign(new Error('Topic does not exist'), {
                name: 'NotFoundException',
                $metadata: { httpStatusCode: 404 },
              }),
            );
          return Promise.resolve({ Attributes: t });
        }
        case 'SetTopicAttributes':
          (this.topics.get(input.TopicArn as string) as Record<string, string>)[
            input.AttributeName as string
          ] = input.AttributeValue as string;
          return Promise.resolve({});
        case 'ListSubscriptionsByTopic':
          return Promise.resolve({
            Subscriptions: this.subscriptions
              .filter((s) => s.topicArn === input.TopicArn)
              .map((s) => ({
                Endpoint: s.endpoint,
                SubscriptionArn: s.confirmed ? `${s.topicArn}:sub` : 'PendingConfirmation',
              })),
          });
        case 'Subscribe':
          this.subscriptions.push({
            topicArn: input.TopicArn as string,
            endpoint: input.Endpoint as string,
            confirmed: false,
          });
          return Promise.resolve({ SubscriptionArn: 'pending confirmation' });
        default:
          return Promise.reject(new Error(`fake SNS does not know ${name}`));
      }
    };
    return { send } as unknown as SNSClient;
  }

  private throttled(name: string): boolean {
    const left = this.throttle.get(name) ?? 0;
    if (left > 0) this.throttle.set(name, left - 1);
    return left > 0;
  }

  private signupCallback() {
    return {
      signupCallbackResult: {
        associateInProgressToken: `aipt-${this.calls.length}`,
        // As the service model has it: keyed by Meta's WABA id, the AWS id in each value's `wabaId`.
        linkedAccountsWithIncompleteSetup: {
          '102290129340398': {
            accountName: 'Fake Shop',
            registrationStatus: 'INCOMPLETE',
            wabaId: this.wabaId,
            unregisteredWhatsAppPhoneNumbers: this.numbers
              .filter((n) => !n.registered)
              .map((n) => ({
                phoneNumberId: n.id,
                metaPhoneNumberId: n.metaId,
                displayPhoneNumber: n.display,
              })),
          },
        },
      },
    };
  }

  private finalize(input: Record<string, unknown>) {
    const fin = input.setupFinalization as { phoneNumbers: { id: string; twoFactorPin: string }[] };
    const now = this.clock();
    // 133016 is a throttle (429), the other registration refusals are invalid parameters (400).
    const meta = (code: number, text: string) =>
      Promise.reject(
        code === 133016
          ? new ThrottledRequestException({
              message: `(#${code}) ${text}`,
              $metadata: { httpStatusCode: 429 },
            })
          : new InvalidParametersException({
              message: `(#${code}) ${text}`,
              $metadata: { httpStatusCode: 400 },
            }),
      );
    const planned = this.failNext.shift();
    if (planned !== undefined) return meta(planned, 'planned refusal');
    for (const p of fin.phoneNumbers) {
      const number = this.numbers.find((n) => n.id === p.id);
      if (!number) return Promise.reject(new Error(`unknown number ${p.id}`));
      const recent = (this.attempts.get(p.id) ?? []).filter((t) => t > now - 72 * HOUR);
      if (recent.length >= 10) return meta(133016, `${p.id} had too many registration attempts`);
      recent.push(now);
      this.attempts.set(p.id, recent);
      if (number.pin !== undefined && number.pin !== p.twoFactorPin)
        return meta(133005, `the PIN does not match the one set for ${p.id}`);
    }
    for (const p of fin.phoneNumbers) {
      const number = this.numbers.find((n) => n.id === p.id) as FakeNumber;
      number.registered = true;
      number.pin = p.twoFactorPin;
    }
    return Promise.resolve({ statusCode: 200, linkedWhatsAppBusinessAccountId: this.wabaId });
  }
}

/** What SNS answers when it is throttling: retry later. */
function throttledError(): Error {
  return Object.assign(new Error('Rate exceeded'), {
    name: 'ThrottledException',
    $metadata: { httpStatusCode: 400 },
  });
}
