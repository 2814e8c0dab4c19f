import { Option, type Command } from 'commander';
import type { AppConfig } from '../shared/config';

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new Error(`--port ${value}: must be a port number (0-65535)`);
  return n;
}

interface IngestOptions {
  port?: number;
  host?: string;
  topicArn?: string[];
  smsTopicArn?: string[];
  trustCertUrl?: string[];
  reprocess?: true | 'failed' | 'unrecognized';
}

async function reprocess(config: AppConfig, outcome: 'failed' | 'unrecognized'): Promise<void> {
  const [{ openDatabase }, { OptOutKeywords }, { reprocessEvents }] = await Promise.all([
    import('../db/client.js'),
    import('./apply/keywords.js'),
    import('./reprocess.js'),
  ]);
  const database = await openDatabase({
    url: config.DATABASE_URL,
    dataDir: config.WA_DATA_DIR,
    maxConnections: 2,
    prepare: config.WA_DB_PREPARE,
  });
  try {
    const keywords = new OptOutKeywords(
      config.WA_INGEST_STOP_WORDS.length > 0 ? config.WA_INGEST_STOP_WORDS : undefined,
      config.WA_INGEST_RESUME_WORDS.length > 0 ? config.WA_INGEST_RESUME_WORDS : undefined,
    );
    const result = await reprocessEvents({ db: database.db, outcome, keywords });
    process.stdout.write(
      `re-processed ${result.examined} ${outcome} events: ${result.applied} applied, ${result.stillFailing} still failing\n`,
    );
  } finally {
    await database.close();
  }
}

const collect = (value: string, previous: string[] = []) => [
  ...previous,
  ...value.split(',').map((v) => v.trim()),
];

/** Registers `wa-campaigns ingest`. */
export function registerIngestCommand(program: Command): void {
  program
    .command('ingest')
    .description('Run the event-ingest service (SNS HTTP subscriber) until SIGINT/SIGTERM')
    .addOption(
      new Option('--port <port>', 'port to listen on (default: WA_INGEST_PORT, 8080)').argParser(port),
    )
    .addOption(new Option('--host <host>', 'address to listen on (default: WA_HTTP_HOST)'))
    .addOption(
      new Option(
        '--topic-arn <arn>',
        'SNS topic to accept, repeatable (default: WA_INGEST_TOPIC_ARNS)',
      ).argParser(collect),
    )
    .addOption(
      new Option(
        '--sms-topic-arn <arn>',
        'SNS topic to accept for inbound SMS only (two-way SMS channel), repeatable (default: WA_INGEST_SMS_TOPIC_ARNS)',
      ).argParser(collect),
    )
    .addOption(
      new Option(
        '--trust-cert-url <url>',
        "signing-certificate URL trusted besides SNS, e.g. the emulator's (default: WA_INGEST_TRUSTED_CERT_URLS)",
      ).argParser(collect),
    )
    .addOption(
      new Option(
        '--reprocess [outcome]',
        'apply archived events again (failed or unrecognized), then exit',
      ).choices(['failed', 'unrecognized']),
    )
    .action(async (opts: IngestOptions) => {
      // Loaded when the command runs, not with the CLI, so that other commands start without them.
      const [{ loadConfig }, { runIngestService }] = await Promise.all([
        import('../shared/config.js'),
        import('./run-service.js'),
      ]);
      const config = loadConfig();
      if (opts.reprocess) {
        await reprocess(config, opts.reprocess === true ? 'failed' : opts.reprocess);
        return;
      }
      await runIngestService(config, {
        ...(opts.port !== undefined ? { port: opts.port } : {}),
        ...(opts.host ? { host: opts.host } : {}),
        ...(opts.topicArn ? { topicArns: opts.topicArn } : {}),
        ...(opts.smsTopicArn ? { smsTopicArns: opts.smsTopicArn } : {}),
        ...(opts.trustCertUrl ? { trustedCertUrls: opts.trustCertUrl } : {}),
      });
    });
}
