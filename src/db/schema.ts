import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  uniqueIndex,
  timestamp,
} from 'drizzle-orm/pg-core';

const tstz = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/** A sending number and the limits Meta gives it; the campaign engine paces and budgets by these. */
export const numbers = pgTable('numbers', {
  phoneNumberId: text('phone_number_id').primaryKey(),
  wabaId: text('waba_id'),
  displayPhoneNumber: text('display_phone_number'),
  /** Messages per second the number may send (80 by default, 1,000 after Meta's upgrade). */
  mps: integer('mps').notNull().default(80),
  /** Unique users per rolling window; null means unlimited. */
  tierLimit: integer('tier_limit'),
  /** Budget scope key: the number itself, or the business portfolio its tier belongs to. */
  tierScope: text('tier_scope').notNull().default('number'),
  portfolioId: text('portfolio_id'),
  qualityRating: text('quality_rating'),
  status: text('status'),
  /**
   * When the last phone_number_quality_update applied to tier and quality happened; events arrive out
   * of order, and an older one must not overwrite a newer state.
   */
  qualityEventAt: tstz('quality_event_at'),
  /** When the last event applied to `status` happened (FLAGGED / UNFLAGGED, account restrictions). */
  statusEventAt: tstz('status_event_at'),
  /** Time zone used for recipients that carry none (the number's country). */
  defaultTimezone: text('default_timezone').notNull().default('UTC'),
  /** Length of the rolling tier window; 24 h on the platform, shorter in demos and tests. */
  tierWindowSeconds: integer('tier_window_seconds').notNull().default(86_400),
  updatedAt: tstz('updated_at').notNull().defaultNow(),
});

/**
 * Throughput reservations: the next free send slot of each number, in epoch milliseconds. Every sender,
 * whatever worker it runs on, claims its slots here in one atomic statement, so one number is never
 * driven past its rate by two senders that each believe they own it.
 */
export const pacers = pgTable('pacers', {
  phoneNumberId: text('phone_number_id').primaryKey(),
  nextSlotMs: bigint('next_slot_ms', { mode: 'number' }).notNull().default(0),
  /** Consecutive 130429 answers; each one backs the number off a little longer. */
  throttleStreak: integer('throttle_streak').notNull().default(0),
});

/**
 * The latest business-initiated reach of each user per budget scope. A user is inside the rolling tier
 * window exactly when their latest reach is, so counting rows newer than now-window gives the used budget.
 */
export const reaches = pgTable(
  'reaches',
  {
    scopeKey: text('scope_key').notNull(),
    phone: text('phone').notNull(),
    reachedAt: tstz('reached_at').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.scopeKey, t.phone] }),
    index('reaches_scope_time').on(t.scopeKey, t.reachedAt),
  ],
);

/** Customer-service windows: 24 h from a user's last inbound message to a number. */
export const serviceWindows = pgTable(
  'service_windows',
  {
    phoneNumberId: text('phone_number_id').notNull(),
    phone: text('phone').notNull(),
    lastInboundAt: tstz('last_inbound_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.phoneNumberId, t.phone] })],
);

export const campaigns = pgTable(
  'campaigns',
  {
    id: text('id').primaryKey(),
    name: text('name'),
    templateName: text('template_name').notNull(),
    templateLanguage: text('template_language').notNull(),
    category: text('category').notNull(),
    phoneNumberId: text('phone_number_id').notNull(),
    state: text('state').notNull(),
    reason: text('reason'),
    total: integer('total').notNull().default(0),
    rejected: integer('rejected').notNull().default(0),
    startAt: tstz('start_at'),
    deadline: tstz('deadline'),
    /** Local send window as minutes after midnight, e.g. 09:00-20:00 → 540/1200. */
    windowStartMin: integer('window_start_min'),
    windowEndMin: integer('window_end_min'),
    /** What to do with recipients whose send outcome is unknown after a crash. */
    ambiguityPolicy: text('ambiguity_policy').notNull().default('at-most-once'),
    createdAt: tstz('created_at').notNull().defaultNow(),
    updatedAt: tstz('updated_at').notNull().defaultNow(),
    finishedAt: tstz('finished_at'),
  },
  (t) => [index('campaigns_number').on(t.phoneNumberId)],
);

/**
 * One row per accepted recipient. `seq` is the position in the uploaded list and, with the campaign id,
 * the idempotency key of every send made to that recipient.
 */
export const recipients = pgTable(
  'recipients',
  {
    campaignId: text('campaign_id').notNull(),
    seq: integer('seq').notNull(),
    phone: text('phone').notNull(),
    params: jsonb('params')
      .$type<string[]>()
      .notNull()
      .default(sql`'[]'::jsonb`),
    timezone: text('timezone'),
    locale: text('locale'),
    state: text('state').notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: tstz('next_attempt_at'),
    messageId: text('message_id'),
    errorCode: integer('error_code'),
    errorMessage: text('error_message'),
    /** Set when the intent to send is recorded, cleared when the outcome is. */
    sendingSince: tstz('sending_since'),
    sentAt: tstz('sent_at'),
    deliveredAt: tstz('delivered_at'),
    readAt: tstz('read_at'),
    failedAt: tstz('failed_at'),
    updatedAt: tstz('updated_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.campaignId, t.seq] }),
    // Only what the sender scans often is indexed by state, so the planner cannot mistake a state index
    // for a way to find rows by seq (statistics lag behind a campaign that sends a million rows).
    index('recipients_pending')
      .on(t.campaignId, t.seq)
      .where(sql`state = 'pending'`),
    index('recipients_unsettled')
      .on(t.campaignId, t.state)
      .where(sql`state in ('sending', 'ambiguous')`),
    index('recipients_message').on(t.messageId),
    uniqueIndex('recipients_phone').on(t.campaignId, t.phone),
  ],
);

/** Input rows refused at import, each with the reason, so the user can fix and resend them. */
export const rejectedRows = pgTable(
  'rejected_rows',
  {
    campaignId: text('campaign_id').notNull(),
    line: integer('line').notNull(),
    input: text('input').notNull(),
    reason: text('reason').notNull(),
  },
  (t) => [primaryKey({ columns: [t.campaignId, t.line] })],
);

/** Users who must not get marketing messages (opt-outs, 131050). */
export const suppressions = pgTable('suppressions', {
  phone: text('phone').primaryKey(),
  reason: text('reason').notNull(),
  source: text('source').notNull(),
  createdAt: tstz('created_at').notNull().defaultNow(),
});

/** Every opt-out and opt-in change with its time and source. */
export const optOutAudit = pgTable(
  'opt_out_audit',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    phone: text('phone').notNull(),
    action: text('action').notNull(),
    source: text('source').notNull(),
    detail: jsonb('detail'),
    at: tstz('at').notNull().defaultNow(),
  },
  (t) => [index('opt_out_audit_phone').on(t.phone)],
);

/** Raw platform events as received, for audit and re-processing. */
export const eventsRaw = pgTable(
  'events_raw',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    snsMessageId: text('sns_message_id').unique(),
    topicArn: text('topic_arn'),
    kind: text('kind').notNull(),
    outcome: text('outcome').notNull(),
    error: text('error'),
    body: jsonb('body').notNull(),
    receivedAt: tstz('received_at').notNull().defaultNow(),
  },
  (t) => [index('events_raw_received').on(t.receivedAt)],
);

/** Message status events, one per message and status, so redeliveries change nothing. */
export const messageStatuses = pgTable(
  'message_statuses',
  {
    messageId: text('message_id').notNull(),
    status: text('status').notNull(),
    at: tstz('at').notNull(),
    recipientPhone: text('recipient_phone'),
    bizOpaqueCallbackData: text('biz_opaque_callback_data'),
    errors: jsonb('errors'),
    pricing: jsonb('pricing'),
    conversation: jsonb('conversation'),
  },
  (t) => [primaryKey({ columns: [t.messageId, t.status] })],
);

/**
 * Inbound messages already taken into account, by their WhatsApp message id: the platform may deliver
 * the same message twice, and a repeated STOP must not be counted as a second opt-out.
 */
export const inboundMessages = pgTable(
  'inbound_messages',
  {
    messageId: text('message_id').primaryKey(),
    phoneNumberId: text('phone_number_id'),
    phone: text('phone').notNull(),
    type: text('type'),
    at: tstz('at').notNull(),
    eventId: bigint('event_id', { mode: 'number' }),
  },
  (t) => [index('inbound_messages_phone').on(t.phone, t.at)],
);

/**
 * Workflow signals decided by the ingest service, written in the same transaction as the event that
 * caused them and delivered afterwards, so a Temporal outage delays a brake instead of losing it.
 */
export const ingestSignals = pgTable(
  'ingest_signals',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    eventId: bigint('event_id', { mode: 'number' }),
    workflowId: text('workflow_id').notNull(),
    /** `signal` for a running workflow, `signal-with-start` for one that is started if absent. */
    mode: text('mode').notNull(),
    signalName: text('signal_name').notNull(),
    payload: jsonb('payload').notNull(),
    /** Workflow type and arguments used by signal-with-start. */
    start: jsonb('start'),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: tstz('next_attempt_at').notNull().defaultNow(),
    /** Set while one delivery attempt owns the row, so two ingest replicas never send it twice at once. */
    claimedUntil: tstz('claimed_until'),
    doneAt: tstz('done_at'),
    /** delivered, gone (the workflow no longer runs), expired (too old to act on). */
    outcome: text('outcome'),
    lastError: text('last_error'),
    createdAt: tstz('created_at').notNull().defaultNow(),
  },
  (t) => [
    index('ingest_signals_due').on(t.doneAt, t.nextAttemptAt),
    index('ingest_signals_workflow').on(t.workflowId, t.id),
  ],
);

/**
 * Number onboardings, mirrored from their workflows (`onboarding:<id>`) so the ingest service can tell
 * which onboarding an event or an inbound SMS belongs to, and operators can list them. Holds no secret:
 * neither the access token nor any PIN is ever written here.
 */
export const onboardings = pgTable(
  'onboardings',
  {
    id: text('id').primaryKey(),
    /** AWS id of the linked WABA (`waba-…`), once the signup callback named it. */
    wabaId: text('waba_id'),
    step: text('step').notNull(),
    waitingFor: text('waiting_for'),
    /** 14 days after embedded signup: numbers not registered by then need a new signup. */
    deadline: tstz('deadline').notNull(),
    eventDestinationArn: text('event_destination_arn'),
    /** E.164 of the two-way SMS number verification codes arrive on, if one was set up. */
    smsNumber: text('sms_number'),
    reason: text('reason'),
    createdAt: tstz('created_at').notNull().defaultNow(),
    updatedAt: tstz('updated_at').notNull().defaultNow(),
    finishedAt: tstz('finished_at'),
  },
  (t) => [index('onboardings_waba').on(t.wabaId), index('onboardings_sms').on(t.smsNumber)],
);

/** The numbers each onboarding sets up. */
export const onboardingNumbers = pgTable(
  'onboarding_numbers',
  {
    onboardingId: text('onboarding_id').notNull(),
    phoneNumberId: text('phone_number_id').notNull(),
    displayPhoneNumber: text('display_phone_number'),
    metaPhoneNumberId: text('meta_phone_number_id'),
    state: text('state').notNull(),
    updatedAt: tstz('updated_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.onboardingId, t.phoneNumberId] }),
    index('onboarding_numbers_phone').on(t.phoneNumberId),
  ],
);
