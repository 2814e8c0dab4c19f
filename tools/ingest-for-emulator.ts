import type { Client } from '@temporalio/client';
import type { Database } from '../src/db/client';
import { startIngestService, type IngestService } from '../src/ingest';
import type { Logger } from '../src/shared/logger';

export interface IngestForEmulatorOptions {
  db: Database;
  temporal: Pick<Client, 'workflow'>;
  taskQueue: string;
  emulatorUrl: string;
  topicArn: string;
  logger: Logger;
}

/**
 * An ingest service on a free loopback port that trusts the emulator's signing certificate, subscribed
 * to one of the emulator's topics (the emulator then runs the SNS handshake). For the demo and tests.
 */
export async function startIngestForEmulator(options: IngestForEmulatorOptions): Promise<IngestService> {
  const ingest = await startIngestService({
    db: options.db,
    temporal: options.temporal,
    taskQueue: options.taskQueue,
    port: 0,
    host: '127.0.0.1',
    allowedTopicArns: [options.topicArn],
    trustedCertUrls: [`${options.emulatorUrl}/_emulator/sns/cert.pem`],
    logger: options.logger,
  });
  const res = await fetch(`${options.emulatorUrl}/_emulator/sns/subscribe`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ endpoint: `http://127.0.0.1:${ingest.port}/sns`, topicArn: options.topicArn }),
  });
  if (!res.ok) {
    await ingest.close();
    throw new Error(`subscribing the ingest service to the emulator failed: HTTP ${res.status}`);
  }
  return ingest;
}
