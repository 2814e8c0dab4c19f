import { z } from 'zod';
import { CodecKeyError, parseCodecKeys } from './codec-keys';
import type { ConnectionLimits } from './http-service';
import { DEFAULT_PACE_SAFETY } from './workflow-contracts';

/** A comma-separated list; empty items dropped, absent = empty list. */
const commaList = z
  .string()
  .optional()
  .transform((v) =>
    (v ?? '')
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean),
  );

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
  /**
   * Named prepared statements on a PostgreSQL server (on by default: one round trip per statement instead
   * of two). Turn off behind a connection pooler that cannot carry them, such as PgBouncer before 1.21 in
   * transaction mode.
   */
  WA_DB_PREPARE: z
    .enum(['true', 'false', 'on', 'off', '1', '0'], {
      message: 'must be true or false (on/off, 1/0)',
    })
    .default('true')
    .transform((v) => v === 'true' || v === 'on' || v === '1'),
  WA_TASK_QUEUE: z.string().min(1).default('wa-campaigns'),
  WA_HTTP_HOST: z.string().default('0.0.0.0'),
  WA_WORKER_HTTP_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
  /** Where the Temporal core's own Prometheus exporter listens (loopback); 0 turns it off. */
  WA_CORE_METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9465),
  WA_INGEST_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  /** SNS topics the ingest service accepts and confirms, comma-separated; `*` wildcards allowed. */
  WA_INGEST_TOPIC_ARNS: commaList,
  /**
   * SNS topics the ingest service accepts for inbound SMS only (a two-way SMS channel that is not one of
   * the event topics), comma-separated; `*` wildcards allowed.
   */
  WA_INGEST_SMS_TOPIC_ARNS: commaList,
  /** Signing-certificate URLs trusted besides real SNS (the emulator's), comma-separated; `*` ends a prefix. */
  WA_INGEST_TRUSTED_CERT_URLS: commaList,
  /** SNS messages signed longer ago are refused as replays; 0 = no limit. */
  WA_INGEST_MAX_MESSAGE_AGE_SECONDS: z.coerce.number().int().min(0).default(7200),
  /** Opt-out / opt-in words replacing the built-in multilingual lists, comma-separated. */
  WA_INGEST_STOP_WORDS: commaList,
  WA_INGEST_RESUME_WORDS: commaList,
  /** Database connections the ingest service may hold. */
  WA_INGEST_DB_CONNECTIONS: z.coerce.number().int().min(1).max(200).default(16),
  /** Group commit: transactions in flight at once, and most events written in one. */
  WA_INGEST_LANES: z.coerce.number().int().min(1).max(64).default(2),
  WA_INGEST_MAX_BATCH: z.coerce.number().int().min(1).max(5000).default(256),
  /**
   * Days the ingest service keeps archived events (and finished outbox signals); older ones are deleted
   * every 10 minutes. 0 keeps everything. Events waiting for --reprocess are always kept.
   */
  WA_INGEST_ARCHIVE_DAYS: z.coerce.number().int().min(0).max(36_500).default(0),
  WA_SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).default(30_000),
  /** Bounds on the services' HTTP connections: header and whole-request time, idle time, open connections. */
  WA_HTTP_HEADERS_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
  WA_HTTP_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).default(15_000),
  WA_HTTP_KEEPALIVE_TIMEOUT_MS: z.coerce.number().int().min(100).default(5_000),
  WA_HTTP_MAX_CONNECTIONS: z.coerce.number().int().min(1).default(4_096),
  /** Fraction of a number's MPS the engine uses; the rest absorbs dispatch jitter. */
  WA_PACE_SAFETY: z.coerce.number().gt(0).max(1).default(DEFAULT_PACE_SAFETY),
  /**
   * Payload encryption keys, `kid:<base64 32 bytes>` comma-separated, oldest first: the last one encrypts,
   * all decrypt. Required to onboard numbers (access tokens and PINs must never reach Temporal in clear).
   */
  WA_CODEC_KEYS: z
    .string()
    .optional()
    .transform((v, ctx) => {
      try {
        return parseCodecKeys(v);
      } catch (err) {
        ctx.addIssue({
          code: 'custom',
          message: err instanceof CodecKeyError ? err.message : 'invalid key list',
        });
        return z.NEVER;
      }
    }),
  /** Public URL of the ingest service's SNS endpoint, subscribed to each onboarded WABA's topic. */
  WA_INGEST_PUBLIC_URL: z.url({ protocol: /^https?$/ }).optional(),
  /** Meta Graph API base, for requesting and checking a number's verification code. */
  WA_META_GRAPH_URL: z.url({ protocol: /^https?$/ }).default('https://graph.facebook.com'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type AppConfig = z.infer<typeof envSchema>;

/** The connection bounds of a service's HTTP face, from the settings. */
export function connectionLimits(config: AppConfig): ConnectionLimits {
  return {
    headersTimeoutMs: config.WA_HTTP_HEADERS_TIMEOUT_MS,
    requestTimeoutMs: config.WA_HTTP_REQUEST_TIMEOUT_MS,
    keepAliveTimeoutMs: config.WA_HTTP_KEEPALIVE_TIMEOUT_MS,
    maxConnections: config.WA_HTTP_MAX_CONNECTIONS,
  };
}

function isPostgresUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'postgres:' || url.protocol === 'postgresql:') && url.hostname.length > 0;
  } catch {
    return false;
  }
}

/**
 * Pruning the archive also deletes the SNS MessageIds that tell a redelivery from a new event, so with a
 * retention, messages older than it must be refused as replays.
 */
function retentionProblem(c: AppConfig): string | undefined {
  const days = c.WA_INGEST_ARCHIVE_DAYS;
  const maxAge = c.WA_INGEST_MAX_MESSAGE_AGE_SECONDS;
  if (days === 0 || (maxAge > 0 && maxAge < days * 86_400)) return undefined;
  return (
    `WA_INGEST_MAX_MESSAGE_AGE_SECONDS: must be between 1 and ${days * 86_400 - 1} with ` +
    `WA_INGEST_ARCHIVE_DAYS=${days} (it is ${maxAge}${maxAge === 0 ? ', no limit' : ''}): once an event's ` +
    'archive row is pruned, only its age keeps a redelivery from being applied again'
  );
}

/** A configuration problem the user can fix; the message names the setting. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * LOG_LEVEL alone, validated as in {@link loadConfig}: the CLI sets the logger's level from it before any
 * command runs, including those that need none of the other settings (the emulator).
 */
export function loadLogLevel(env: NodeJS.ProcessEnv = process.env): AppConfig['LOG_LEVEL'] {
  const parsed = envSchema.shape.LOG_LEVEL.safeParse(env.LOG_LEVEL);
  if (parsed.success) return parsed.data;
  throw new ConfigError(`invalid configuration: LOG_LEVEL: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
}

/** DEBUG set to anything: the CLI prints a failure's full error after its one-line message. */
export function showErrorDetail(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.DEBUG);
}

/**
 * Keeps the AWS SDK from printing its nine-line notice that its releases after January 2027 need Node 22
 * into every command's output (its documented switch, which the SDK reads when a client is made). Node 20
 * is still supported here (package.json `engines`, README). A value the operator set is left as it is.
 */
export function quietAwsNodeVersionWarning(env: NodeJS.ProcessEnv = process.env): void {
  env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
}

/** Reads and validates the environment once; throws ConfigError with one line per bad setting. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const parsed = envSchema.safeParse(env);
  if (parsed.success) {
    const problem = retentionProblem(parsed.data);
    if (problem) throw new ConfigError(`invalid configuration: ${problem}`);
    return parsed.data;
  }
  const lines = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
  throw new ConfigError(`invalid configuration: ${lines.join('; ')}`);
}
