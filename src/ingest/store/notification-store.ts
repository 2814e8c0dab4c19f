import { parseInboundSms } from '../../platform/inbound-sms';
import { SMS_ONLY_TOPIC_NOTE } from '../../shared/archive-notes';
import { fieldsOf } from '../apply/apply-batch';
import { parsePlatformMessage, UnrecognizedMessage } from '../events/platform-message';
import type { SnsBody } from '../sns/envelope';
import type { TopicAllowList } from '../sns/topics';
import { GroupCommitter } from './group-commit';
import { storeInboundSms } from './store-sms';
import {
  storeEvents,
  storeUnapplied,
  type PendingEvent,
  type StoreDeps,
  type StoredNotification,
} from './store-events';

export interface NotificationStoreOptions {
  /** Most events written in one transaction. */
  maxBatch?: number;
  /** Transactions in flight at once. */
  lanes?: number;
}

export interface NotificationStoreDeps extends StoreDeps {
  /**
   * Topics WhatsApp events are applied from; absent: every accepted topic. Topics accepted only for
   * inbound SMS (WA_INGEST_SMS_TOPIC_ARNS) are not on it: their WhatsApp events are archived, not applied.
   */
  whatsAppTopics?: TopicAllowList;
}

/**
 * Where verified notifications go: WhatsApp events parsed (levels two and three), then group-committed;
 * inbound SMS (two-way SMS, which carries onboarding verification codes) stored one by one.
 */
export class NotificationStore {
  private readonly committer: GroupCommitter<PendingEvent, StoredNotification>;

  constructor(
    private readonly deps: NotificationStoreDeps,
    options: NotificationStoreOptions = {},
  ) {
    this.committer = new GroupCommitter((events) => storeEvents(deps, events), {
      maxBatch: options.maxBatch ?? 256,
      lanes: options.lanes ?? 2,
    });
  }

  /** Stores (and applies) one notification; resolves once it is committed. */
  async store(body: SnsBody): Promise<StoredNotification> {
    let message;
    try {
      message = parsePlatformMessage(body.Message);
    } catch (err) {
      if (!(err instanceof UnrecognizedMessage)) throw err;
      const sms = parseInboundSms(body.Message);
      if (sms) return storeInboundSms(this.deps, body, sms);
      // Neither a WhatsApp event nor an SMS: kept, nothing to apply.
      return storeUnapplied(this.deps.db, body, 'unrecognized', 'unrecognized', err.message);
    }
    const kind = fieldsOf(message).join(',') || 'empty';
    if (this.deps.whatsAppTopics && !this.deps.whatsAppTopics.allows(body.TopicArn)) {
      return storeUnapplied(
        this.deps.db,
        body,
        kind,
        'ignored',
        `${SMS_ONLY_TOPIC_NOTE}: topic ${body.TopicArn}`,
      );
    }
    return this.committer.submit({ body, message, kind });
  }
}
