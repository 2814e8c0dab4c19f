import type { PinpointSMSVoiceV2Client } from '@aws-sdk/client-pinpoint-sms-voice-v2';
import type { SNSClient } from '@aws-sdk/client-sns';
import type { SocialMessagingClient } from '@aws-sdk/client-socialmessaging';
import type { Database } from '../db/client';
import type { Logger } from '../shared/logger';

/** What activities need from the outside world; only the worker (or a test) builds these. */
export interface ActivityDeps {
  db: Database;
  socialMessaging: SocialMessagingClient;
  logger: Logger;
  /** Local clock, replaceable in tests. */
  clock?: () => number;
  /** Fraction of the number's MPS actually used, absorbing dispatch jitter (default DEFAULT_PACE_SAFETY). */
  paceSafety?: number;
  /**
   * How often a sending batch looks up its template's quality itself (ms; 0 = never), so a RED template
   * brakes within about a second even when the platform's event is stuck behind a backlog of status
   * events. Default 1,000.
   */
  templateWatchMs?: number;
  /** Cloud API version SendWhatsAppMessage carries. */
  metaApiVersion?: string;
  /** SNS, for onboarding's event destination (topic, policy, subscription). */
  sns?: SNSClient;
  /** AWS End User Messaging SMS, for two-way SMS on the number that receives verification codes. */
  smsVoice?: PinpointSMSVoiceV2Client;
  /** Meta Graph API base (request_code / verify_code); https://graph.facebook.com by default. */
  metaGraphUrl?: string;
}
