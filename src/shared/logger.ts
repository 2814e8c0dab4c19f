import pino from 'pino';
import { withoutQueryParams } from './safe-error';

/** Errors logged under `err` (ours) or `error` (the Temporal SDK's), failed queries without their data. */
const errorSerializer = (err: unknown) => pino.stdSerializers.err(withoutQueryParams(err) as Error);
export const logSerializers = { err: errorSerializer, error: errorSerializer };

/**
 * Process-wide JSON logger. It starts at `info`; the CLI sets the level from LOG_LEVEL once the
 * configuration is read (src/shared/config.ts), before a command runs.
 */
export const logger = pino({
  level: 'info',
  base: { service: 'wa-campaigns' },
  timestamp: pino.stdTimeFunctions.isoTime,
  serializers: logSerializers,
  // Secrets must never reach logs, even by accident through a logged object.
  redact: {
    paths: ['*.pin', '*.twoFactorPin', '*.accessToken', '*.password', 'pin', 'accessToken'],
    censor: '[redacted]',
  },
});

export type Logger = typeof logger;
