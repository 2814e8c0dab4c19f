import { fieldsOf } from '../apply/apply-batch';
import { parsePlatformMessage, UnrecognizedMessage } from '../events/platform-message';
import type { SnsBody } from '../sns/envelope';
import { GroupCommitter } from './group-commit';
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

/** Where verified notifications go: parsed (levels two and three), then group-committed. */
export class NotificationStore {
  private readonly committer: GroupCommitter<PendingEvent, StoredNotification>;

  constructor(
    private readonly deps: StoreDeps,
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
      // Not a WhatsApp event (e.g. an SMS on the same topic): kept, nothing to apply.
      return storeUnapplied(this.deps.db, body, 'unrecognized', 'unrecognized', err.message);
    }
    return this.committer.submit({ body, message, kind: fieldsOf(message).join(',') || 'empty' });
  }
}
