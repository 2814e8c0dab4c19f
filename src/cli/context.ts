import { openDatabase, type DatabaseHandle } from '../db/client';
import { CampaignClient } from '../client/campaign-client';
import { createSocialMessagingClient } from '../platform/aws-client';
import { loadConfig, type AppConfig } from '../shared/config';
import { codecDataConverter } from '../shared/data-converter';
import { connectClient } from '../shared/temporal-connection';

export interface CliContext {
  config: AppConfig;
  database: DatabaseHandle;
  campaigns: CampaignClient;
}

/** Opens what a CLI command needs, runs it, and closes everything again, whatever happens. */
export async function withCampaignClient<T>(fn: (ctx: CliContext) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const database = await openDatabase({
    url: config.DATABASE_URL,
    dataDir: config.WA_DATA_DIR,
    maxConnections: 4,
    prepare: config.WA_DB_PREPARE,
  });
  try {
    const temporal = await connectClient({ dataConverter: codecDataConverter(config.WA_CODEC_KEYS) });
    try {
      const campaigns = new CampaignClient({
        db: database.db,
        temporal: temporal.client,
        socialMessaging: createSocialMessagingClient(),
        taskQueue: config.WA_TASK_QUEUE,
        paceSafety: config.WA_PACE_SAFETY,
      });
      return await fn({ config, database, campaigns });
    } finally {
      await temporal.close();
    }
  } finally {
    await database.close();
  }
}
