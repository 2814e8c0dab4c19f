import type { Database } from '../db/client';
import type { Logger } from '../shared/logger';
import { eventsTotal } from '../shared/metrics';
import { authenticate, MessageRejected, type AuthenticateOptions } from './sns/authenticate';
import { isConfirmableSubscribeUrl, type TrustedCertUrls } from './sns/cert-urls';
import { visitSubscribeUrl } from './sns/confirm-subscription';
import { MalformedSnsBody, parseSnsBody, type SnsBody } from './sns/envelope';
import { CertificateUnavailable } from './sns/signature';
import { isTransientDbError } from './store/db-errors';
import type { NotificationStore } from './store/notification-store';
import { insertRawEvent } from './store/raw-events';

export interface ReceiverDeps {
  db: Database;
  auth: AuthenticateOptions;
  trusted: TrustedCertUrls;
  store: NotificationStore;
  logger: Logger;
  /** Hands committed outbox rows to the dispatcher. */
  onSignals: (ids: number[]) => void;
  confirm?: (url: string) => Promise<void>;
}

/** What to answer SNS, and what happened, for the log and the tests. */
export interface ReceiveResult {
  status: number;
  outcome: string;
  kind: string;
  eventId?: number;
  detail?: string;
}

/**
 * One SNS delivery, from request body to answer. 2xx only once the event is stored; 4xx for what must
 * never be acted on (recorded as rejected); 5xx when it could not be stored, so SNS delivers again.
 */
export class SnsReceiver {
  constructor(private readonly deps: ReceiverDeps) {}

  async receive(text: string): Promise<ReceiveResult> {
    const result = await this.handle(text);
    eventsTotal.inc({ kind: result.kind, outcome: result.outcome });
    return result;
  }

  private async handle(text: string): Promise<ReceiveResult> {
    let body: SnsBody;
    try {
      body = parseSnsBody(text);
    } catch (err) {
      if (!(err instanceof MalformedSnsBody)) throw err;
      return this.reject(null, 'malformed', 400, err.message, {
        raw: head(text, MAX_REJECTED_ARCHIVE_CHARS),
        ...(text.length > MAX_REJECTED_ARCHIVE_CHARS ? { truncatedFrom: text.length } : {}),
      });
    }
    try {
      await authenticate(body, this.deps.auth);
    } catch (err) {
      if (err instanceof MessageRejected)
        return this.reject(body, body.Type, 403, `${err.reason}: ${err.message}`, body);
      if (err instanceof CertificateUnavailable) {
        this.deps.logger.warn({ messageId: body.MessageId, err: err.message }, 'cannot check signature yet');
        return { status: 503, outcome: 'deferred', kind: body.Type, detail: err.message };
      }
      throw err;
    }
    try {
      switch (body.Type) {
        case 'SubscriptionConfirmation':
          return await this.confirmSubscription(body);
        case 'UnsubscribeConfirmation':
          return await this.recordUnsubscribe(body);
        case 'Notification':
          return await this.storeNotification(body);
      }
    } catch (err) {
      if (!isTransientDbError(err)) throw err;
      this.deps.logger.warn(
        { messageId: body.MessageId, err },
        'database unavailable; SNS will deliver again',
      );
      return { status: 503, outcome: 'unavailable', kind: body.Type, detail: 'database unavailable' };
    }
  }

  private async storeNotification(body: SnsBody): Promise<ReceiveResult> {
    const stored = await this.deps.store.store(body);
    if (stored.signalIds.length > 0) this.deps.onSignals(stored.signalIds);
    if (stored.outcome === 'failed') {
      this.deps.logger.error(
        { eventId: stored.eventId, kind: stored.kind, error: stored.error },
        'event stored but not applied',
      );
    } else {
      this.deps.logger.debug(
        { eventId: stored.eventId, kind: stored.kind, outcome: stored.outcome },
        'event stored',
      );
    }
    return {
      status: 200,
      outcome: stored.outcome,
      kind: stored.kind,
      ...(stored.eventId !== undefined ? { eventId: stored.eventId } : {}),
      ...(stored.error ? { detail: stored.error } : {}),
    };
  }

  /**
   * Confirms by visiting SubscribeURL (only reached for allowed topics), then records it. Visiting
   * first means a failed visit is answered 5xx and SNS sends the confirmation again.
   */
  private async confirmSubscription(body: SnsBody): Promise<ReceiveResult> {
    const url = body.SubscribeURL ?? '';
    if (!isConfirmableSubscribeUrl(url, body.SigningCertURL, this.deps.trusted)) {
      return this.reject(body, body.Type, 403, `SubscribeURL ${url} is not on SNS`, body);
    }
    try {
      await (this.deps.confirm ?? visitSubscribeUrl)(url);
    } catch (err) {
      const detail = err instanceof Error ? err.message : String(err);
      this.deps.logger.warn({ topicArn: body.TopicArn, err: detail }, 'subscription confirmation failed');
      return { status: 502, outcome: 'confirm-failed', kind: body.Type, detail };
    }
    const eventId = await insertRawEvent(this.deps.db, {
      snsMessageId: body.MessageId,
      topicArn: body.TopicArn,
      kind: 'subscription-confirmation',
      outcome: 'confirmed',
      body,
    });
    this.deps.logger.info({ topicArn: body.TopicArn }, 'SNS subscription confirmed');
    return {
      status: 200,
      outcome: 'confirmed',
      kind: body.Type,
      ...(eventId !== undefined ? { eventId } : {}),
    };
  }

  /** Someone unsubscribed this endpoint: nothing more will arrive from the topic, which deserves a warning. */
  private async recordUnsubscribe(body: SnsBody): Promise<ReceiveResult> {
    const eventId = await insertRawEvent(this.deps.db, {
      snsMessageId: body.MessageId,
      topicArn: body.TopicArn,
      kind: 'unsubscribe-confirmation',
      outcome: 'unsubscribed',
      body,
    });
    this.deps.logger.warn(
      { topicArn: body.TopicArn },
      'SNS subscription removed: no more events from this topic',
    );
    return {
      status: 200,
      outcome: 'unsubscribed',
      kind: body.Type,
      ...(eventId !== undefined ? { eventId } : {}),
    };
  }

  /** Archives a refused message without its MessageId (so a forgery cannot pre-empt the genuine one). */
  private async reject(
    body: SnsBody | null,
    kind: string,
    status: number,
    reason: string,
    archived: unknown,
  ): Promise<ReceiveResult> {
    this.deps.logger.warn(
      { messageId: body?.MessageId, topicArn: body?.TopicArn, reason },
      'SNS message rejected',
    );
    try {
      await insertRawEvent(this.deps.db, {
        snsMessageId: null,
        topicArn: body?.TopicArn ?? null,
        kind,
        outcome: 'rejected',
        error: reason,
        // A malformed body arrives bounded already.
        body: body === null ? archived : boundedForArchive(archived),
      });
    } catch (err) {
      // The answer is the same whether or not the record could be written.
      this.deps.logger.warn({ err }, 'could not record a rejected message');
    }
    return { status, outcome: 'rejected', kind, detail: reason };
  }
}

/** Most of a refused delivery the archive keeps: refusals need no authentication, so they must stay small. */
export const MAX_REJECTED_ARCHIVE_CHARS = 65_536;

/** The first `max` characters of `text`, never ending inside a surrogate pair (jsonb refuses half of one). */
function head(text: string, max: number): string {
  const cut = text.slice(0, max);
  return /[\uD800-\uDBFF]$/.test(cut) ? cut.slice(0, -1) : cut;
}

/** A refused delivery as archived: whole when small, else its beginning and its size. */
export function boundedForArchive(archived: unknown): unknown {
  const text = JSON.stringify(archived) ?? 'null';
  if (text.length <= MAX_REJECTED_ARCHIVE_CHARS) return archived;
  return { raw: head(text, MAX_REJECTED_ARCHIVE_CHARS), truncatedFrom: text.length };
}
