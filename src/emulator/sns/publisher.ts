import http from 'node:http';
import https from 'node:https';
import type { Logger } from '../../shared/logger';
import type { EmulatorClock } from '../clock';
import type { Rng } from '../random';
import type { SigningIdentity } from './certificate';
import type { SnsNotification, SnsSubscriptionConfirmation } from './messages';
import { signSnsMessage } from './signer';

export interface SnsDeliveryConfig {
  signatureVersion: '1' | '2';
  signingCertUrl?: string | undefined;
  retry: { maxAttempts: number; minDelayMs: number; maxDelayMs: number };
  deliveryTimeoutMs: number;
  concurrency: number;
}

export interface SnsPublisherDeps {
  identity: SigningIdentity;
  clock: EmulatorClock;
  rng: Rng;
  config: SnsDeliveryConfig;
  /** Base URL subscribers reach the emulator at (SubscribeURL, cert, UnsubscribeURL). */
  baseUrl: () => string;
  logger: Logger;
}

/** A subscription as the control surface shows it. */
export interface SubscriptionView {
  subscriptionArn: string;
  topicArn: string;
  endpoint: string;
  status: 'PendingConfirmation' | 'Confirmed';
  delivered: number;
  failed: number;
  queued: number;
  lastError?: string | undefined;
}

interface Delivery {
  kind: 'confirmation' | 'notification';
  type: string;
  messageId: string;
  body: string;
  attempt: number;
}

interface Subscription {
  arn: string;
  topicArn: string;
  endpoint: string;
  token: string;
  confirmed: boolean;
  active: boolean;
  delivered: number;
  failed: number;
  queue: Delivery[];
  queueHead: number;
  inFlight: number;
  healthy: boolean;
  lastError?: string | undefined;
}

/**
 * SNS for HTTP(S) subscribers: the SubscriptionConfirmation handshake, then signed Notifications with
 * retries and exponential backoff on network errors, timeouts, 429 and 5xx (other 4xx answers are
 * final). Messages published while a subscription is unconfirmed are not delivered to it, as in SNS.
 * Each subscription has a bounded number of requests in flight and a queue behind them.
 */
export class SnsPublisher {
  private subs = new Map<string, Subscription>();
  private retryTimers = new Set<NodeJS.Timeout>();
  private requests = new Set<http.ClientRequest>();
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;
  private closed = false;

  constructor(private readonly deps: SnsPublisherDeps) {
    this.httpAgent = new http.Agent({ keepAlive: true, maxSockets: deps.config.concurrency * 4 });
    this.httpsAgent = new https.Agent({ keepAlive: true, maxSockets: deps.config.concurrency * 4 });
  }

  /** The URL of the signing certificate, as put in SigningCertURL. */
  signingCertUrl(): string {
    return this.deps.config.signingCertUrl ?? `${this.deps.baseUrl()}/_emulator/sns/cert.pem`;
  }

  /** Subscribes an HTTP endpoint and sends it the SubscriptionConfirmation (again, if still pending). */
  subscribe(endpoint: string, topicArn: string): SubscriptionView {
    const existing = [...this.subs.values()].find((s) => s.endpoint === endpoint && s.topicArn === topicArn);
    const sub = existing ?? this.create(endpoint, topicArn);
    if (!sub.confirmed) this.enqueue(sub, this.confirmation(sub));
    return this.view(sub);
  }

  /** Confirms a subscription from its SubscribeURL; undefined when the token is unknown. */
  confirm(topicArn: string, token: string): SubscriptionView | undefined {
    const sub = [...this.subs.values()].find((s) => s.topicArn === topicArn && s.token === token && s.active);
    if (!sub) return undefined;
    if (!sub.confirmed) {
      sub.confirmed = true;
      this.deps.logger.info(
        { subscriptionArn: sub.arn, endpoint: sub.endpoint },
        'SNS subscription confirmed',
      );
    }
    return this.view(sub);
  }

  /** Removes a subscription (UnsubscribeURL or control surface). */
  unsubscribe(arn: string): boolean {
    const sub = this.subs.get(arn);
    if (!sub) return false;
    sub.active = false;
    sub.queue = [];
    sub.queueHead = 0;
    this.subs.delete(arn);
    return true;
  }

  /** Every subscription. */
  list(): SubscriptionView[] {
    return [...this.subs.values()].map((s) => this.view(s));
  }

  /** Whether publishing to `topicArn` would reach anyone (lets callers skip building events). */
  hasConfirmed(topicArn: string): boolean {
    for (const s of this.subs.values()) if (s.confirmed && s.topicArn === topicArn) return true;
    return false;
  }

  /**
   * Publishes a `Message` string to the confirmed subscriptions of a topic, or of every topic when
   * `topicArn` is undefined. Signed once per topic (the signature covers the topic, not the subscriber).
   */
  publish(
    topicArn: string | undefined,
    message: string,
    subject?: string,
  ): { messageId: string; recipients: number } {
    const messageId = this.deps.rng.uuid();
    const byTopic = new Map<string, Subscription[]>();
    for (const s of this.subs.values()) {
      if (!s.confirmed || (topicArn !== undefined && s.topicArn !== topicArn)) continue;
      const list = byTopic.get(s.topicArn) ?? [];
      list.push(s);
      byTopic.set(s.topicArn, list);
    }
    let recipients = 0;
    for (const [topic, subs] of byTopic) {
      const unsigned: Omit<SnsNotification, 'Signature' | 'UnsubscribeURL'> = {
        Type: 'Notification',
        MessageId: messageId,
        TopicArn: topic,
        ...(subject !== undefined ? { Subject: subject } : {}),
        Message: message,
        Timestamp: new Date(this.deps.clock.now()).toISOString(),
        SignatureVersion: this.deps.config.signatureVersion,
        SigningCertURL: this.signingCertUrl(),
      };
      const Signature = signSnsMessage(unsigned, this.deps.identity.privateKey);
      for (const sub of subs) {
        const notification: SnsNotification = {
          ...unsigned,
          Signature,
          UnsubscribeURL: `${this.deps.baseUrl()}/?Action=Unsubscribe&SubscriptionArn=${encodeURIComponent(sub.arn)}`,
        };
        this.enqueue(sub, {
          kind: 'notification',
          type: 'Notification',
          messageId,
          body: JSON.stringify(notification),
          attempt: 0,
        });
        recipients++;
      }
    }
    return { messageId, recipients };
  }

  /** Stops delivering: pending retries are dropped and open requests aborted. */
  close(): void {
    this.closed = true;
    for (const t of this.retryTimers) clearTimeout(t);
    this.retryTimers.clear();
    for (const r of this.requests) r.destroy();
    this.requests.clear();
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  private create(endpoint: string, topicArn: string): Subscription {
    const sub: Subscription = {
      arn: `${topicArn}:${this.deps.rng.uuid()}`,
      topicArn,
      endpoint,
      token: this.deps.rng.hex(128),
      confirmed: false,
      active: true,
      delivered: 0,
      failed: 0,
      queue: [],
      queueHead: 0,
      inFlight: 0,
      healthy: true,
    };
    this.subs.set(sub.arn, sub);
    return sub;
  }

  private confirmation(sub: Subscription): Delivery {
    const base = this.deps.baseUrl();
    const unsigned: Omit<SnsSubscriptionConfirmation, 'Signature'> = {
      Type: 'SubscriptionConfirmation',
      MessageId: this.deps.rng.uuid(),
      Token: sub.token,
      TopicArn: sub.topicArn,
      Message: `You have chosen to subscribe to the topic ${sub.topicArn}.\nTo confirm the subscription, visit the SubscribeURL included in this message.`,
      SubscribeURL: `${base}/?Action=ConfirmSubscription&TopicArn=${encodeURIComponent(sub.topicArn)}&Token=${sub.token}`,
      Timestamp: new Date(this.deps.clock.now()).toISOString(),
      SignatureVersion: this.deps.config.signatureVersion,
      SigningCertURL: this.signingCertUrl(),
    };
    const message: SnsSubscriptionConfirmation = {
      ...unsigned,
      Signature: signSnsMessage(unsigned, this.deps.identity.privateKey),
    };
    return {
      kind: 'confirmation',
      type: 'SubscriptionConfirmation',
      messageId: message.MessageId,
      body: JSON.stringify(message),
      attempt: 0,
    };
  }

  private view(s: Subscription): SubscriptionView {
    return {
      subscriptionArn: s.arn,
      topicArn: s.topicArn,
      endpoint: s.endpoint,
      status: s.confirmed ? 'Confirmed' : 'PendingConfirmation',
      delivered: s.delivered,
      failed: s.failed,
      queued: s.queue.length - s.queueHead + s.inFlight,
      lastError: s.lastError,
    };
  }

  private enqueue(sub: Subscription, delivery: Delivery): void {
    sub.queue.push(delivery);
    this.pump(sub);
  }

  private pump(sub: Subscription): void {
    while (
      !this.closed &&
      sub.active &&
      sub.inFlight < this.deps.config.concurrency &&
      sub.queueHead < sub.queue.length
    ) {
      const delivery = sub.queue[sub.queueHead++] as Delivery;
      // A confirmation still being retried is pointless once the subscriber has confirmed.
      if (delivery.kind === 'confirmation' && sub.confirmed) continue;
      sub.inFlight++;
      this.send(sub, delivery);
    }
    if (sub.queueHead > 1024 && sub.queueHead * 2 > sub.queue.length) {
      sub.queue = sub.queue.slice(sub.queueHead);
      sub.queueHead = 0;
    }
  }

  private send(sub: Subscription, delivery: Delivery): void {
    delivery.attempt++;
    let settled = false;
    const settle = (status: number | undefined, error?: string): void => {
      if (settled) return;
      settled = true;
      this.requests.delete(req);
      sub.inFlight--;
      this.outcome(sub, delivery, status, error);
      this.pump(sub);
    };
    const url = new URL(sub.endpoint);
    const secure = url.protocol === 'https:';
    const headers: Record<string, string | number> = {
      'content-type': 'text/plain; charset=UTF-8',
      'content-length': Buffer.byteLength(delivery.body),
      'user-agent': 'Amazon Simple Notification Service Agent',
      'x-amz-sns-message-type': delivery.type,
      'x-amz-sns-message-id': delivery.messageId,
      'x-amz-sns-topic-arn': sub.topicArn,
    };
    if (delivery.kind === 'notification') headers['x-amz-sns-subscription-arn'] = sub.arn;
    const req = (secure ? https : http).request(
      url,
      { method: 'POST', headers, agent: secure ? this.httpsAgent : this.httpAgent },
      (res) => {
        res.resume();
        res.on('end', () => settle(res.statusCode));
        res.on('error', (err) => settle(undefined, err.message));
      },
    );
    this.requests.add(req);
    req.setTimeout(this.deps.config.deliveryTimeoutMs, () => {
      req.destroy(new Error(`no answer within ${this.deps.config.deliveryTimeoutMs} ms`));
    });
    req.on('error', (err) => settle(undefined, err.message));
    req.end(delivery.body);
  }

  private outcome(sub: Subscription, delivery: Delivery, status: number | undefined, error?: string): void {
    if (status !== undefined && status >= 200 && status < 300) {
      sub.delivered++;
      if (!sub.healthy)
        this.deps.logger.info({ endpoint: sub.endpoint }, 'SNS subscriber is answering again');
      sub.healthy = true;
      return;
    }
    sub.lastError = error ?? `HTTP ${status}`;
    const retryable = status === undefined || status === 429 || status >= 500;
    const { maxAttempts, minDelayMs, maxDelayMs } = this.deps.config.retry;
    if (retryable && delivery.attempt < maxAttempts && !this.closed && sub.active) {
      const delay = Math.min(maxDelayMs, minDelayMs * 2 ** (delivery.attempt - 1));
      const timer = setTimeout(() => {
        this.retryTimers.delete(timer);
        if (sub.active) this.enqueue(sub, delivery);
      }, delay);
      this.retryTimers.add(timer);
      return;
    }
    if (delivery.kind === 'notification') sub.failed++;
    if (sub.healthy) {
      this.deps.logger.warn(
        { endpoint: sub.endpoint, kind: delivery.kind, attempts: delivery.attempt, error: sub.lastError },
        'SNS delivery failed for good',
      );
    }
    sub.healthy = false;
  }
}
