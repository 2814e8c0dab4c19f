import http from 'node:http';
import https from 'node:https';
import { SocialMessagingClient } from '@aws-sdk/client-socialmessaging';
import { NodeHttpHandler } from '@smithy/node-http-handler';

export interface SocialMessagingClientOptions {
  /** Longest wait for one response; a send that times out is treated as possibly delivered. */
  requestTimeoutMs?: number;
  /** Sockets kept open to the endpoint; bounds concurrent sends. */
  maxSockets?: number;
}

/** No region setting (the SDK's own chain decides) when one is configured, else us-east-1. */
export function awsRegionDefaults(): { region?: string } {
  return (process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION) ? {} : { region: 'us-east-1' };
}

/**
 * The AWS client used everywhere. Region, credentials and endpoint come from the SDK's own chain
 * (AWS_REGION, AWS_ENDPOINT_URL_SOCIALMESSAGING, profiles …), so the emulator is chosen by configuration
 * alone. The SDK's automatic retries are off: SendWhatsAppMessage has no idempotency token, and a retry of
 * a request the platform already accepted would message the user twice. The engine retries by itself,
 * knowing which failures are safe to repeat.
 */
export function createSocialMessagingClient(
  options: SocialMessagingClientOptions = {},
): SocialMessagingClient {
  const maxSockets = options.maxSockets ?? 256;
  return new SocialMessagingClient({
    ...awsRegionDefaults(),
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({
      httpAgent: new http.Agent({ keepAlive: true, maxSockets }),
      httpsAgent: new https.Agent({ keepAlive: true, maxSockets }),
      connectionTimeout: 5_000,
      requestTimeout: options.requestTimeoutMs ?? 15_000,
      // Without this the handler only warns and a lost response would block a send forever.
      throwOnRequestTimeout: true,
    }),
  });
}
