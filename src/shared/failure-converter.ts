import { DefaultFailureConverter } from '@temporalio/common';

/**
 * Moves failure messages and stack traces into an encoded attributes payload, where the payload codec
 * encrypts them: a message may quote a platform answer, and nothing about an onboarding should be
 * readable on the server. Bundled into the workflow sandbox too (worker option failureConverterPath), so
 * this module must stay free of Node built-ins.
 */
export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
