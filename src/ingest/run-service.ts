import { Client, Connection } from '@temporalio/client';
import { openDatabase } from '../db/client';
import type { AppConfig } from '../shared/config';
import { logger } from '../shared/logger';
import { temporalSettings } from '../shared/temporal-connection';
import { startIngestService } from './service';

export interface IngestRunOverrides {
  port?: number;
  host?: string;
  topicArns?: string[];
  trustedCertUrls?: string[];
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
  });
  logger.info({ database: database.kind, location: database.location }, 'database ready');
  const settings = temporalSettings();
  const connection = Connection.lazy({
    ...(settings.options as Parameters<typeof Connection.lazy>[0]),
    address: settings.address,
  });
  const temporal = new Client({ connection, namespace: settings.namespace });
  try {
    const service = await startIngestService({
      db: database.db,
      temporal,
      taskQueue: config.WA_TASK_QUEUE,
      port: overrides.port ?? config.WA_INGEST_PORT,
      host: overrides.host ?? config.WA_HTTP_HOST,
      allowedTopicArns: overrides.topicArns?.length ? overrides.topicArns : config.WA_INGEST_TOPIC_ARNS,
      trustedCertUrls: overrides.trustedCertUrls?.length
        ? overrides.trustedCertUrls
        : config.WA_INGEST_TRUSTED_CERT_URLS,
      maxMessageAgeMs: config.WA_INGEST_MAX_MESSAGE_AGE_SECONDS * 1000,
      ...(config.WA_INGEST_STOP_WORDS.length > 0 ? { stopWords: config.WA_INGEST_STOP_WORDS } : {}),
      ...(config.WA_INGEST_RESUME_WORDS.length > 0 ? { resumeWords: config.WA_INGEST_RESUME_WORDS } : {}),
      batching: { lanes: config.WA_INGEST_LANES, maxBatch: config.WA_INGEST_MAX_BATCH },
      shutdownGraceMs: config.WA_SHUTDOWN_GRACE_MS,
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
