import { Client, Connection, type ClientOptions, type ConnectionLike } from '@temporalio/client';
import { openDatabase } from '../db/client';
import { connectionLimits, type AppConfig } from '../shared/config';
import { codecDataConverter } from '../shared/data-converter';
import { logger, type Logger } from '../shared/logger';
import { temporalSettings } from '../shared/temporal-connection';
import { startIngestService } from './service';

export interface IngestRunOverrides {
  port?: number;
  host?: string;
  topicArns?: string[];
  smsTopicArns?: string[];
  trustedCertUrls?: string[];
}

export interface IngestClientOptionsInput {
  config: Pick<AppConfig, 'WA_CODEC_KEYS'>;
  connection: ConnectionLike;
  namespace: string;
  /** Told once, here, when WA_CODEC_KEYS is not set. */
  logger?: Pick<Logger, 'warn'>;
}

/**
 * The options of the ingest service's Temporal client: the product's data converter (payload codec and
 * encoded failures, `codecDataConverter(WA_CODEC_KEYS)`), as the worker and the CLI use, so the signals it
 * sends, verification codes among them, are encrypted and the worker can read them. Without keys,
 * Temporal's plaintext default: campaigns still work, and a warning says so.
 */
export function ingestClientOptions(input: IngestClientOptionsInput): ClientOptions {
  const dataConverter = codecDataConverter(input.config.WA_CODEC_KEYS);
  if (!dataConverter) {
    (input.logger ?? logger).warn(
      'WA_CODEC_KEYS is not set: signals reach Temporal unencrypted, so verification codes from two-way SMS are not signalled (onboardings find them in the archive)',
    );
  }
  return {
    connection: input.connection,
    namespace: input.namespace,
    ...(dataConverter ? { dataConverter } : {}),
  };
}

/** Resolves on the first SIGTERM or SIGINT. */
function stopRequested(): Promise<string> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      resolve(signal);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

/**
 * `wa-campaigns ingest`: runs the ingest service until SIGTERM/SIGINT, then stops taking deliveries,
 * lets those under way finish and closes everything. The Temporal connection is made lazily, so events
 * are stored and applied even while Temporal is unreachable; their signals wait in the outbox.
 */
export async function runIngestService(config: AppConfig, overrides: IngestRunOverrides = {}): Promise<void> {
  const database = await openDatabase({
    url: config.DATABASE_URL,
    dataDir: config.WA_DATA_DIR,
    maxConnections: config.WA_INGEST_DB_CONNECTIONS,
    prepare: config.WA_DB_PREPARE,
  });
  logger.info({ database: database.kind, location: database.location }, 'database ready');
  const settings = temporalSettings();
  const connection = Connection.lazy({
    ...(settings.options as Parameters<typeof Connection.lazy>[0]),
    address: settings.address,
  });
  const temporal = new Client(
    ingestClientOptions({ config, connection, namespace: settings.namespace, logger }),
  );
  try {
    const service = await startIngestService({
      db: database.db,
      temporal,
      taskQueue: config.WA_TASK_QUEUE,
      port: overrides.port ?? config.WA_INGEST_PORT,
      host: overrides.host ?? config.WA_HTTP_HOST,
      allowedTopicArns: overrides.topicArns?.length ? overrides.topicArns : config.WA_INGEST_TOPIC_ARNS,
      smsTopicArns: overrides.smsTopicArns?.length ? overrides.smsTopicArns : config.WA_INGEST_SMS_TOPIC_ARNS,
      trustedCertUrls: overrides.trustedCertUrls?.length
        ? overrides.trustedCertUrls
        : config.WA_INGEST_TRUSTED_CERT_URLS,
      maxMessageAgeMs: config.WA_INGEST_MAX_MESSAGE_AGE_SECONDS * 1000,
      ...(config.WA_INGEST_STOP_WORDS.length > 0 ? { stopWords: config.WA_INGEST_STOP_WORDS } : {}),
      ...(config.WA_INGEST_RESUME_WORDS.length > 0 ? { resumeWords: config.WA_INGEST_RESUME_WORDS } : {}),
      batching: { lanes: config.WA_INGEST_LANES, maxBatch: config.WA_INGEST_MAX_BATCH },
      archiveDays: config.WA_INGEST_ARCHIVE_DAYS,
      shutdownGraceMs: config.WA_SHUTDOWN_GRACE_MS,
      httpLimits: connectionLimits(config),
      logger,
    });
    const signal = await stopRequested();
    logger.info({ signal }, 'stopping ingest service');
    await service.close();
  } finally {
    await connection.close().catch(() => undefined);
    await database.close();
  }
}
