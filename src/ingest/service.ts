import type { Client } from '@temporalio/client';
import { sql } from 'drizzle-orm';
import type { Database } from '../db/client';
import { startServiceHttp, type ConnectionLimits } from '../shared/http-service';
import { DEFAULT_TASK_QUEUE } from '../shared/ids';
import { logger as defaultLogger, type Logger } from '../shared/logger';
import { OptOutKeywords } from './apply/keywords';
import { SnsEndpoint } from './http/sns-endpoint';
import { SnsReceiver } from './receiver';
import { NotificationStore, type NotificationStoreOptions } from './store/notification-store';
import { ArchivePruner, type PruneResult } from './store/retention';
import { TrustedCertUrls } from './sns/cert-urls';
import { SnsSignatureVerifier } from './sns/signature';
import { TopicAllowList } from './sns/topics';
import { SignalDispatcher } from './signals/dispatcher';
import { safeErrorText } from '../shared/safe-error';

export interface IngestServiceOptions {
  db: Database;
  /** Bounds on slow, idle and too many connections (defaults: DEFAULT_CONNECTION_LIMITS). */
  httpLimits?: Partial<ConnectionLimits>;
  /**
   * Without a client no signals are decided or sent; events are still stored and applied. It should
   * carry the product's payload codec (`codecDataConverter(WA_CODEC_KEYS)`): verification codes are
   * signalled only through a client that encrypts.
   */
  temporal?: Pick<Client, 'workflow'>;
  /**
   * Whether `temporal` encrypts payloads; by default, whether its data converter has a payload codec.
   * When it does not, verification codes from inbound SMS are stored but not signalled (the onboarding
   * finds them in the archive itself), so no secret reaches Temporal in clear.
   */
  payloadsEncrypted?: boolean;
  taskQueue?: string;
  /** 0 picks a free port. */
  port?: number;
  host?: string;
  /** Topics whose messages are accepted and whose subscriptions are confirmed; `*` wildcards allowed. */
  allowedTopicArns: readonly string[];
  /**
   * Topics accepted for inbound SMS only (the two-way SMS channel, when it is not one of the event
   * topics): their subscriptions are confirmed and their SMS stored, but WhatsApp events published
   * there are archived without being applied. `*` wildcards allowed.
   */
  smsTopicArns?: readonly string[];
  /**
   * Signing-certificate URLs trusted besides real SNS (https://sns.<region>.amazonaws.com): exact URLs,
   * prefixes ending in `*`, or patterns. For the emulator: `http://127.0.0.1:<port>/_emulator/sns/cert.pem`.
   */
  trustedCertUrls?: readonly (string | RegExp)[];
  /** Messages signed longer ago are refused as replays (default 2 h; 0 = no limit). */
  maxMessageAgeMs?: number;
  /** Opt-out and opt-in words; the built-in multilingual lists when absent. */
  stopWords?: readonly string[];
  resumeWords?: readonly string[];
  logger?: Logger;
  /** Undelivered signals are given up after this long (default 1 h). */
  signalTtlMs?: number;
  signalSweepMs?: number;
  /** Group commit: most events per transaction (default 256) and transactions in flight (default 4). */
  batching?: NotificationStoreOptions;
  /** Days archived events and finished signals are kept (0 or absent: everything is kept). */
  archiveDays?: number;
  /** How often the retention runs (default 10 minutes). */
  pruneEveryMs?: number;
  /** Time to let deliveries under way finish on close (default 10 s). */
  shutdownGraceMs?: number;
  /** Replaceable in tests. */
  now?: () => number;
  fetchCertificate?: (url: string) => Promise<string>;
  confirmSubscription?: (url: string) => Promise<void>;
}

export interface IngestService {
  port: number;
  /** Waits for signal deliveries under way (tests). */
  signalsIdle(): Promise<void>;
  /** Retries undelivered signals now instead of at the next sweep. */
  sweepSignals(): Promise<number>;
  /** Runs the archive retention now instead of at its next turn; undefined when it is off. */
  pruneArchive(): Promise<PruneResult | undefined>;
  close(): Promise<void>;
}

export const DEFAULT_MAX_MESSAGE_AGE_MS = 2 * 3600_000;

/** Whether a client's data converter has a payload codec (the product's encrypts). */
export function hasPayloadCodec(temporal: Pick<Client, 'workflow'> | undefined): boolean {
  // Read defensively: stand-ins for the client (tests) have no options.
  const workflow = temporal?.workflow as Partial<Pick<Client['workflow'], 'options'>> | undefined;
  return (workflow?.options?.loadedDataConverter.payloadCodecs.length ?? 0) > 0;
}

/**
 * The event-ingest service: an SNS HTTP(S) subscriber that stores every platform event, applies it
 * (recipient states, service windows, opt-outs, number limits) and signals the workflows concerned
 * (campaigns, numbers, and onboardings, which also get the verification codes inbound SMS carry), with
 * /healthz and /metrics beside it.
 */
export async function startIngestService(options: IngestServiceOptions): Promise<IngestService> {
  const log = (options.logger ?? defaultLogger).child({ component: 'ingest' });
  const now = options.now ?? Date.now;
  const smsTopicArns = options.smsTopicArns ?? [];
  const topics = new TopicAllowList([...options.allowedTopicArns, ...smsTopicArns]);
  if (topics.empty)
    log.warn('no topic ARNs configured: every SNS message will be refused (set WA_INGEST_TOPIC_ARNS)');
  const whatsAppTopics = smsTopicArns.length > 0 ? new TopicAllowList(options.allowedTopicArns) : undefined;
  const trusted = new TrustedCertUrls(options.trustedCertUrls ?? []);
  const verifier = new SnsSignatureVerifier({
    trusted,
    now,
    ...(options.fetchCertificate ? { fetchCertificate: options.fetchCertificate } : {}),
  });
  const dispatcher = options.temporal
    ? new SignalDispatcher({
        db: options.db,
        temporal: options.temporal,
        taskQueue: options.taskQueue ?? DEFAULT_TASK_QUEUE,
        logger: log,
        ...(options.signalTtlMs !== undefined ? { ttlMs: options.signalTtlMs } : {}),
        ...(options.signalSweepMs !== undefined ? { sweepEveryMs: options.signalSweepMs } : {}),
      })
    : undefined;
  if (!dispatcher) log.warn('no Temporal client: events are applied, but no workflow will be signalled');
  const secretSignals = options.payloadsEncrypted ?? hasPayloadCodec(options.temporal);

  const store = new NotificationStore(
    {
      db: options.db,
      keywords: new OptOutKeywords(options.stopWords, options.resumeWords),
      now,
      signals: dispatcher !== undefined,
      secretSignals,
      ...(whatsAppTopics ? { whatsAppTopics } : {}),
    },
    options.batching ?? {},
  );
  const receiver = new SnsReceiver({
    db: options.db,
    auth: { topics, verifier, maxAgeMs: options.maxMessageAgeMs ?? DEFAULT_MAX_MESSAGE_AGE_MS, now },
    trusted,
    store,
    logger: log,
    onSignals: (ids) => dispatcher?.deliverSoon(ids),
    ...(options.confirmSubscription ? { confirm: options.confirmSubscription } : {}),
  });
  const endpoint = new SnsEndpoint(receiver, log);
  const http = await startServiceHttp({
    host: options.host ?? '0.0.0.0',
    port: options.port ?? 0,
    ...(options.httpLimits ? { limits: options.httpLimits } : {}),
    handle: endpoint.handle,
    health: async () => {
      try {
        await Promise.race([
          options.db.execute(sql`select 1`),
          new Promise((_, reject) => setTimeout(() => reject(new Error('timed out')), 2_000).unref()),
        ]);
        return { ok: true, detail: { database: 'ok', signals: dispatcher ? 'on' : 'off' } };
      } catch (err) {
        return { ok: false, detail: { database: safeErrorText(err) } };
      }
    },
  });
  const pruner = new ArchivePruner({
    db: options.db,
    archiveDays: options.archiveDays ?? 0,
    logger: log,
    now,
    ...(options.pruneEveryMs !== undefined ? { everyMs: options.pruneEveryMs } : {}),
  });
  pruner.start();
  dispatcher?.start();
  // Signals left over from before a restart go out straight away.
  if (dispatcher) void dispatcher.sweep();
  log.info(
    {
      port: http.port,
      topics: options.allowedTopicArns,
      smsTopics: smsTopicArns,
      signals: Boolean(dispatcher),
      encryptedSignals: Boolean(dispatcher) && secretSignals,
      archiveDays: pruner.enabled ? options.archiveDays : 'all kept',
    },
    'ingest service listening',
  );

  let closing: Promise<void> | undefined;
  return {
    port: http.port,
    signalsIdle: () => dispatcher?.idle() ?? Promise.resolve(),
    sweepSignals: () => dispatcher?.sweep() ?? Promise.resolve(0),
    pruneArchive: () => pruner.prune(),
    close: () =>
      (closing ??= (async () => {
        await endpoint.drain(options.shutdownGraceMs ?? 10_000);
        await http.close();
        await pruner.close();
        await dispatcher?.close();
        log.info('ingest service stopped');
      })()),
  };
}
