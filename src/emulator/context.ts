import type { Logger } from '../shared/logger';
import type { EmulatorClock } from './clock';
import type { ResolvedConfig } from './config';
import type { EventBus } from './events/event-bus';
import type { RngStreams } from './random';
import type { FaultInjector } from './rules/faults';
import type { SlidingWindowLimiter } from './rules/sliding-window';
import type { Scheduler } from './scheduler';
import type { SigningIdentity } from './sns/certificate';
import type { SmsNumbers } from './sms/sms-numbers';
import type { SnsPublisher } from './sns/publisher';
import type { TopicRegistry } from './sns/topics';
import type { AppendLog } from './world/logs';
import type { EventRecord, RejectionRecord, SendRecord, ViolationRecord } from './world/records';
import type { World } from './world/state';

/** The run's records, readable through the control surface. */
export interface EmulatorLogs {
  sends: AppendLog<SendRecord>;
  rejections: AppendLog<RejectionRecord>;
  violations: AppendLog<ViolationRecord>;
  events: AppendLog<EventRecord>;
}

/**
 * What every handler works with. `world`, `rng`, `logs`, `faults` and `quotas` are replaced by a reset,
 * so handlers read them from here on each call instead of keeping their own references.
 */
export interface EmulatorContext {
  config: ResolvedConfig;
  seed: number;
  clock: EmulatorClock;
  scheduler: Scheduler;
  world: World;
  rng: RngStreams;
  logs: EmulatorLogs;
  faults: FaultInjector;
  /** AWS account quotas (requests per second); undefined when turned off. */
  quotas: { send?: SlidingWindowLimiter | undefined; media?: SlidingWindowLimiter | undefined };
  events: EventBus;
  sns: SnsPublisher;
  /** SNS topics (emulated SNS API); like subscriptions, they survive a reset. */
  topics: TopicRegistry;
  /** AWS End User Messaging SMS numbers and their inbound SMS; survive a reset too. */
  smsNumbers: SmsNumbers;
  identity: SigningIdentity;
  logger: Logger;
}
