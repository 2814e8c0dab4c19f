import type { AccountRef } from '../ids';
import type { Rng } from '../random';

/** A phone number of AWS End User Messaging SMS (pinpoint-sms-voice-v2). */
export interface SmsNumberState {
  id: string;
  arn: string;
  /** E.164. */
  phoneNumber: string;
  isoCountryCode: string;
  twoWayEnabled: boolean;
  twoWayChannelArn?: string | undefined;
  twoWayChannelRole?: string | undefined;
  createdMs: number;
}

/** An inbound SMS that reached a number, and where it went. */
export interface InboundSmsRecord {
  atMs: number;
  inboundMessageId: string;
  originationNumber: string;
  destinationNumber: string;
  messageBody: string;
  /** The SNS topic it was published to, or why it was not. */
  publishedTo?: string | undefined;
  dropped?: string | undefined;
}

const digits = (phone: string) => phone.replace(/\D/g, '');

// A rough country guess from the calling code; enough for DescribePhoneNumbers' IsoCountryCode.
function countryOf(e164: string): string {
  const d = digits(e164);
  if (d.startsWith('1')) return 'US';
  if (d.startsWith('44')) return 'GB';
  if (d.startsWith('49')) return 'DE';
  return 'ZZ';
}

/**
 * The account's SMS numbers and the inbound SMS they received. Infrastructure: they survive a world
 * reset, like SNS topics and subscriptions.
 */
export class SmsNumbers {
  private readonly byId = new Map<string, SmsNumberState>();
  readonly inbound: InboundSmsRecord[] = [];

  constructor(
    private readonly account: AccountRef,
    private readonly rng: Rng,
  ) {}

  /** Adds a number (from the configuration). */
  add(
    cfg: { id?: string | undefined; phoneNumber: string; twoWayEnabled?: boolean | undefined },
    now: number,
  ): SmsNumberState {
    const id = cfg.id ?? `phone-${this.rng.hex(32)}`;
    const state: SmsNumberState = {
      id,
      arn: `arn:aws:sms-voice:${this.account.region}:${this.account.accountId}:phone-number/${id}`,
      phoneNumber: `+${digits(cfg.phoneNumber)}`,
      isoCountryCode: countryOf(cfg.phoneNumber),
      twoWayEnabled: cfg.twoWayEnabled ?? false,
      createdMs: now,
    };
    this.byId.set(id, state);
    return state;
  }

  /** By id or ARN. */
  get(idOrArn: string): SmsNumberState | undefined {
    const id = idOrArn.includes(':phone-number/') ? idOrArn.slice(idOrArn.lastIndexOf('/') + 1) : idOrArn;
    return this.byId.get(id);
  }

  /** The number with this E.164 address, if it is one of ours. */
  byPhoneNumber(phone: string): SmsNumberState | undefined {
    const wanted = digits(phone);
    for (const n of this.byId.values()) if (digits(n.phoneNumber) === wanted) return n;
    return undefined;
  }

  list(): SmsNumberState[] {
    return [...this.byId.values()];
  }
}
