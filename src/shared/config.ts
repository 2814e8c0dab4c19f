import { z } from 'zod';

/**
 * Everything the services read from the environment, validated once at start-up.
 * Temporal connection settings (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TLS …) are read by
 * @temporalio/envconfig, and AWS settings (AWS_REGION, AWS_ENDPOINT_URL_SOCIALMESSAGING, credentials) by the
 * AWS SDK's own chain, so neither is repeated here.
 */
const envSchema = z.object({
  DATABASE_URL: z
    .string()
    .trim()
    .optional()
    .transform((v) => (v ? v : undefined))
    .refine((v) => v === undefined || isPostgresUrl(v), {
      message: 'must be a postgres:// or postgresql:// URL, e.g. postgres://user:pass@localhost:5432/wa',
    }),
  WA_DATA_DIR: z.string().default('.data'),
  WA_TASK_QUEUE: z.string().min(1).default('wa-campaigns'),
  WA_HTTP_HOST: z.string().default('0.0.0.0'),
  WA_WORKER_HTTP_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
  /** Where the Temporal core's own Prometheus exporter listens (loopback); 0 turns it off. */
  WA_CORE_METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9465),
  WA_INGEST_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  WA_SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).default(30_000),
  /** Fraction of a number's MPS the engine uses; the rest absorbs dispatch jitter. */
  WA_PACE_SAFETY: z.coerce.number().gt(0).max(1).default(0.98),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type AppConfig = z.infer<typeof envSchema>;

function isPostgresUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'postgres:' || url.protocol === 'postgresql:') && url.hostname.length > 0;
  } catch {
    return false;
  }
}

/** A configuration problem the user can fix; the message names the setting. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Reads and validates the environment once; throws ConfigError with one line per bad setting. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const parsed = envSchema.safeParse(env);
  if (parsed.success) return parsed.data;
  const lines = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
  throw new ConfigError(`invalid configuration: ${lines.join('; ')}`);
}
