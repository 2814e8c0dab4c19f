import { PinpointSMSVoiceV2Client } from '@aws-sdk/client-pinpoint-sms-voice-v2';
import { SNSClient } from '@aws-sdk/client-sns';
import { Runtime, DefaultLogger, makeTelemetryFilterString, type LogLevel } from '@temporalio/worker';
import { openDatabase } from '../db/client';
import { awsRegionDefaults, createSocialMessagingClient } from '../platform/aws-client';
import { connectionLimits, type AppConfig } from '../shared/config';
import { codecDataConverter } from '../shared/data-converter';
import { startServiceHttp } from '../shared/http-service';
import { logger } from '../shared/logger';
import { workerUp } from '../shared/metrics';
import { connectWorker } from '../shared/temporal-connection';
import { bundleWorkflowsInChild } from './bundle';
import { createWorker } from './create-worker';

const TEMPORAL_LOG_LEVELS: Record<string, LogLevel> = {
  trace: 'TRACE',
  debug: 'DEBUG',
  info: 'INFO',
  warn: 'WARN',
  error: 'ERROR',
  fatal: 'ERROR',
  silent: 'ERROR',
};

/**
 * `wa-campaigns worker`: runs every workflow and activity until SIGINT/SIGTERM, then drains gracefully.
 * Serves /healthz and /metrics (ours plus the Temporal core's).
 */
export async function runWorkerService(config: AppConfig): Promise<void> {
  const level = TEMPORAL_LOG_LEVELS[config.LOG_LEVEL] ?? 'INFO';
  Runtime.install({
    logger: new DefaultLogger(level, (entry) => {
      const method = entry.level === 'ERROR' ? 'error' : entry.level === 'WARN' ? 'warn' : 'debug';
      logger[method]({ ...entry.meta, source: 'temporal' }, entry.message);
    }),
    telemetryOptions: {
      logging: { filter: makeTelemetryFilterString({ core: level }), forward: {} },
      ...(config.WA_CORE_METRICS_PORT > 0
        ? { metrics: { prometheus: { bindAddress: `127.0.0.1:${config.WA_CORE_METRICS_PORT}` } } }
        : {}),
    },
  });

  const database = await openDatabase({
    url: config.DATABASE_URL,
    dataDir: config.WA_DATA_DIR,
    prepare: config.WA_DB_PREPARE,
  });
  logger.info({ database: database.kind, location: database.location }, 'database ready');
  const { connection, namespace } = await connectWorker();
  if (!config.WA_CODEC_KEYS) {
    logger.warn(
      'WA_CODEC_KEYS is not set: payloads reach Temporal unencrypted, and numbers cannot be onboarded',
    );
  }
  // Region and endpoints come from the SDK's own chain (AWS_REGION, AWS_ENDPOINT_URL_SNS …), as for
  // Social Messaging; us-east-1 when no region is configured at all.
  const region = awsRegionDefaults();
  const dataConverter = codecDataConverter(config.WA_CODEC_KEYS);
  const worker = await createWorker({
    connection,
    namespace,
    taskQueue: config.WA_TASK_QUEUE,
    shutdownGraceTimeMs: config.WA_SHUTDOWN_GRACE_MS,
    dataConverter,
    workflowBundle: await bundleWorkflowsInChild({
      failureConverterPath: dataConverter?.failureConverterPath,
    }),
    deps: {
      db: database.db,
      socialMessaging: createSocialMessagingClient(),
      sns: new SNSClient(region),
      smsVoice: new PinpointSMSVoiceV2Client(region),
      metaGraphUrl: config.WA_META_GRAPH_URL,
      logger,
      paceSafety: config.WA_PACE_SAFETY,
    },
  });
  const http = await startServiceHttp({
    host: config.WA_HTTP_HOST,
    port: config.WA_WORKER_HTTP_PORT,
    limits: connectionLimits(config),
    coreMetricsUrl:
      config.WA_CORE_METRICS_PORT > 0 ? `http://127.0.0.1:${config.WA_CORE_METRICS_PORT}/metrics` : undefined,
    health: () => {
      const state = worker.getState();
      return {
        ok: state === 'RUNNING',
        detail: { worker: state, taskQueue: config.WA_TASK_QUEUE, namespace },
      };
    },
  });
  logger.info({ taskQueue: config.WA_TASK_QUEUE, namespace, http: http.port }, 'worker started');
  workerUp.set(1);
  try {
    await worker.run();
  } finally {
    workerUp.set(0);
    await http.close();
    await connection.close();
    await database.close();
    logger.info('worker stopped');
  }
}
