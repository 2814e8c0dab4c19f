import pino from 'pino';

/** Process-wide JSON logger; level from LOG_LEVEL (validated in config for services). */
export const logger = pino({
  level: process.env.LOG_LEVEL ?? 'info',
  base: { service: 'wa-campaigns' },
  timestamp: pino.stdTimeFunctions.isoTime,
  // Secrets must never reach logs, even by accident through a logged object.
  redact: {
    paths: ['*.pin', '*.twoFactorPin', '*.accessToken', '*.password', 'pin', 'accessToken'],
    censor: '[redacted]',
  },
});

export type Logger = typeof logger;
