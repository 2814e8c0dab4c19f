import type { AddressInfo } from 'node:net';
import { logger as rootLogger, type Logger } from '../shared/logger';
import { registerGraphRoutes } from './api/graph';
import { registerSocialMessagingRoutes } from './api/routes';
import { EmulatorClock } from './clock';
import { resolveConfig, type EmulatorConfig, type ResolvedConfig } from './config';
import type { EmulatorContext, EmulatorLogs } from './context';
import { registerControlRoutes } from './control/routes';
import { EventBus, topicOf } from './events/event-bus';
import { registerRootDispatch } from './http/root-dispatch';
import { createHttpServer } from './http/server';
import { Router, type HttpExchange } from './http/router';
import { createRngStreams, Rng } from './random';
import { FaultInjector } from './rules/faults';
import { SlidingWindowLimiter } from './rules/sliding-window';
import { Scheduler } from './scheduler';
import { createSigningIdentity } from './sns/certificate';
import { registerSmsControlRoutes } from './sms/control-routes';
import { SmsNumbers } from './sms/sms-numbers';
import { SnsPublisher } from './sns/publisher';
import { defaultTopicArn, registerSnsRoutes } from './sns/routes';
import { TopicRegistry } from './sns/topics';
import { AppendLog } from './world/logs';
import { World } from './world/state';

export {
  EmulatorConfigError,
  loadConfigFile,
  resolveConfig,
  type EmulatorConfig,
  type ResolvedConfig,
  type Rules,
  type Tier,
} from './config';
export * from './demo-world';
export type { EventRecord, RejectionRecord, SendRecord, ViolationRecord } from './world/records';
export type { HttpExchange } from './http/router';

export interface StartEmulatorOptions {
  /** Port to listen on; 0 (the default) picks a free one. */
  port?: number;
  /** Interface to listen on; default 127.0.0.1. */
  host?: string;
  /** The world and its rules; without it (or without `wabas`) the demo world. */
  config?: EmulatorConfig;
  /** Seed for ids, faults, delays and chances; default the config's `seed`, else 1. */
  seed?: number;
  /** Base clock in epoch ms; the control surface can move emulator time ahead of it. */
  now?: () => number;
  logger?: Logger;
  /**
   * Called with every answer an AWS-protocol route gives (Social Messaging, SNS, SMS and voice), errors
   * included: the contract tests hold each against AWS's published service models.
   */
  onAwsExchange?: (exchange: HttpExchange) => void;
}

export interface EmulatorHandle {
  /** Base URL: give it to the SDK as `endpoint` (or AWS_ENDPOINT_URL_SOCIALMESSAGING). */
  url: string;
  /** Base URL put in the links subscribers follow (SubscribeURL, SigningCertURL): `publicUrl` or `url`. */
  publicUrl: string;
  port: number;
  host: string;
  /** PEM of the certificate SNS messages are signed with (also at /_emulator/sns/cert.pem). */
  certificatePem: string;
  /** Emulator time in epoch ms. */
  now(): number;
  /** Moves emulator time forward, running what falls due on the way. */
  advanceClock(ms: number): void;
  /** Stops the server, pending events and deliveries. */
  close(): Promise<void>;
}

function createLogs(config: ResolvedConfig): EmulatorLogs {
  return {
    sends: new AppendLog(config.logs.maxSends),
    rejections: new AppendLog(config.logs.maxRejections),
    violations: new AppendLog(config.logs.maxRejections),
    events: new AppendLog(config.logs.maxEvents),
  };
}

function createQuotas(config: ResolvedConfig): EmulatorContext['quotas'] {
  const { sendMessagePerSecond, mediaPerSecond } = config.apiQuotas;
  return {
    send: sendMessagePerSecond > 0 ? new SlidingWindowLimiter(sendMessagePerSecond, 1_000) : undefined,
    media: mediaPerSecond > 0 ? new SlidingWindowLimiter(mediaPerSecond, 1_000) : undefined,
  };
}

/**
 * Starts the emulator of AWS End User Messaging Social (and WhatsApp behind it) on a plain HTTP server.
 * The real `@aws-sdk/client-socialmessaging` client talks to it when its endpoint is `url`.
 */
export async function startEmulator(opts: StartEmulatorOptions = {}): Promise<EmulatorHandle> {
  const config = resolveConfig(opts.config ?? {});
  const seed = opts.seed ?? config.seed ?? 1;
  const host = opts.host ?? '127.0.0.1';
  const logger = (opts.logger ?? rootLogger).child({ component: 'emulator' });
  const clock = new EmulatorClock(opts.now);
  const account = { accountId: config.accountId, region: config.region };
  const identity = createSigningIdentity();
  const scheduler = new Scheduler(clock, (err) => logger.error({ err }, 'scheduled emulator task failed'));
  let baseUrl = config.publicUrl?.replace(/\/$/, '') ?? '';
  const sns = new SnsPublisher({
    identity,
    clock,
    rng: new Rng(seed, 'sns'),
    config: config.sns,
    baseUrl: () => baseUrl,
    logger,
  });

  const freshRun = () => {
    const rng = createRngStreams(seed);
    return {
      rng,
      world: new World(config, account, rng.ids, clock.now()),
      logs: createLogs(config),
      faults: new FaultInjector(config.faults, rng.faults),
      quotas: createQuotas(config),
    };
  };
  const run = freshRun();
  const topics = new TopicRegistry(account);
  const smsNumbers = new SmsNumbers(account, new Rng(seed, 'sms'));
  for (const n of config.smsNumbers) smsNumbers.add(n, clock.now());
  const ctx: EmulatorContext = {
    config,
    seed,
    clock,
    scheduler,
    ...run,
    events: new EventBus(
      clock,
      account,
      () => ctx.logs.events,
      () => ctx.rng.events,
      sns,
      (arn) => topics.allowsService(arn, 'social-messaging.amazonaws.com'),
    ),
    sns,
    topics,
    smsNumbers,
    identity,
    logger,
  };
  const reset = (): void => {
    // Subscriptions are infrastructure, not world: they survive a reset so subscribers need no new handshake.
    scheduler.clear();
    clock.resetOffset();
    Object.assign(ctx, freshRun());
    logger.info('emulator world reset');
  };

  const router = new Router();
  registerSocialMessagingRoutes(router, ctx);
  registerControlRoutes(router, ctx, reset);
  registerSnsRoutes(router, ctx);
  registerRootDispatch(router, ctx);
  registerGraphRoutes(router, ctx);
  registerSmsControlRoutes(router, ctx);
  const server = createHttpServer({
    router,
    maxBodyBytes: config.maxBodyBytes,
    logger,
    onAwsExchange: opts.onAwsExchange,
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  // Listening on every interface: hand out the loopback address, which always reaches us locally.
  const reachable = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  const url = `http://${reachable.includes(':') ? `[${reachable}]` : reachable}:${port}`;
  if (!baseUrl) baseUrl = url;

  // Topics the configuration names already exist, so the SNS API can read and subscribe to them.
  for (const waba of ctx.world.wabas.values()) {
    const topicArn = topicOf(waba);
    if (topicArn) topics.adopt(topicArn);
  }
  for (const s of config.sns.subscribers) {
    const topicArn = s.topicArn ?? defaultTopicArn(ctx);
    topics.adopt(topicArn);
    sns.subscribe(s.endpoint, topicArn);
  }
  logger.info(
    { url, seed, wabas: ctx.world.wabas.size, numbers: ctx.world.numbers.size },
    'emulator listening',
  );

  let closing: Promise<void> | undefined;
  return {
    url,
    publicUrl: baseUrl,
    port,
    host,
    certificatePem: identity.certificatePem,
    now: () => clock.now(),
    advanceClock: (ms) => scheduler.advanceBy(ms),
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        scheduler.stop();
        sns.close();
        server.close(() => resolve());
        // Keep-alive and deliberately hung connections would hold close() open forever.
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
