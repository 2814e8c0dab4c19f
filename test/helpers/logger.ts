import pino from 'pino';

/**
 * A silent logger for the product's code under test: the tests assert behaviour, not log lines.
 * TEST_LOG_LEVEL (e.g. `debug`) makes it speak, to see what a failing test's services did.
 */
export const quietLogger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
