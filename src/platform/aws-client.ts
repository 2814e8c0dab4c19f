import http from 'node:http';
import https from 'node:https';
import { SocialMessagingClient } from '@aws-sdk/client-socialmessaging';
import { loadConfig, NODE_REGION_CONFIG_FILE_OPTIONS, NODE_REGION_CONFIG_OPTIONS } from '@smithy/core/config';
import { NodeHttpHandler } from '@smithy/node-http-handler';

export interface SocialMessagingClientOptions {
  /** Longest wait for one response; a send that times out is treated as possibly delivered. */
  requestTimeoutMs?: number;
  /** Sockets kept open to the endpoint; bounds concurrent sends. */
  maxSockets?: number;
}

/**
 * The region as the SDK's own chain finds it (AWS_REGION, then the profile's `region`), with us-east-1
 * where the chain would end in "Region is missing": a local rehearsal against the emulator needs no AWS
 * settings at all.
 */
export function awsRegionDefaults(): { region: () => Promise<string> } {
  return {
    region: loadConfig(
      { ...NODE_REGION_CONFIG_OPTIONS, default: () => 'us-east-1' },
      NODE_REGION_CONFIG_FILE_OPTIONS,
    ),
  };
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
