import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  PHONE_NUMBER_ID,
  WABA_ID,
  accountUpdateChange,
  numberMessage,
  phoneQualityChange,
  platformMessage,
  templateQualityChange,
  templateStatusChange,
} from './helpers/events';
import { seedCampaign, startHarness, type Harness } from './helpers/harness';
import { queueSignals } from '../../src/ingest/signals/outbox';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
  await h.db.execute(
    sql`insert into numbers (phone_number_id, waba_id, tier_limit) values (${PHONE_NUMBER_ID}, ${WABA_ID}, 250),
          ('phone-number-id-other-waba', 'waba-someoneelse', 250), ('phone-number-id-sibling', ${WABA_ID}, 1000)`,
  );
  await seedCampaign(h.db, { id: 'spring-1', phones: ['+447700900001'], phoneNumberId: PHONE_NUMBER_ID });
  await seedCampaign(h.db, {
    id: 'spring-2',
    phones: ['+447700900002'],
    phoneNumberId: 'phone-number-id-sibling',
    language: 'en-us',
  });
  await seedCampaign(h.db, {
    id: 'spring-done',
    phones: ['+447700900003'],
    phoneNumberId: PHONE_NUMBER_ID,
    state: 'completed',
  });
  await seedCampaign(h.db, {
    id: 'spring-fr',
    phones: ['+447700900004'],
    phoneNumberId: PHONE_NUMBER_ID,
    language: 'fr',
  });
  await seedCampaign(h.db, {
    id: 'other-template',
    phones: ['+447700900005'],
    phoneNumberId: PHONE_NUMBER_ID,
    template: 'welcome',
  });
  await seedCampaign(h.db, {
    id: 'other-waba',
    phones: ['+447700900006'],
    phoneNumberId: 'phone-number-id-other-waba',
  });
});
afterAll(async () => {
  await h.close();
});
beforeEach(() => {
  h.temporal.calls.length = 0;
  h.temporal.down = false;
  h.temporal.missing.clear();
});

async function deliver(message: string) {
  const reply = await h.notify(message);
  expect(reply.status).toBe(200);
  await h.service.signalsIdle();
  return reply;
}

describe('template events', () => {
  it('PAUSED reaches every active campaign with that template and language in the WABA', async () => {
    await deliver(
      platformMessage([templateStatusChange('spring_sale', 'en_US', 'PAUSED', 'FIRST_PAUSE')], {
        phone: false,
      }),
    );
    const targets = h.temporal.calls.map((c) => c.workflowId).sort();
    expect(targets).toEqual(['campaign:spring-1', 'campaign:spring-2']);
    expect(h.temporal.calls.find((c) => c.workflowId === 'campaign:spring-2')).toEqual({
      workflowId: 'campaign:spring-2',
      signal: 'templateStatus',
      // The campaign's own spelling of the language, which its workflow compares.
      payload: {
        templateName: 'spring_sale',
        templateLanguage: 'en-us',
        event: 'PAUSED',
        detail: 'FIRST_PAUSE',
      },
    });
  });

  it('a quality drop to RED is signalled with the score as the event', async () => {
    await deliver(
      platformMessage([templateQualityChange('spring_sale', 'fr', 'GREEN', 'RED')], { phone: false }),
    );
    expect(h.temporal.calls).toEqual([
      {
        workflowId: 'campaign:spring-fr',
        signal: 'templateStatus',
        payload: {
          templateName: 'spring_sale',
          templateLanguage: 'fr',
          event: 'RED',
          reason: 'template quality GREEN → RED',
        },
      },
    ]);
  });

  it('events for templates no campaign uses are stored, not dropped', async () => {
    const reply = await deliver(
      platformMessage([templateStatusChange('unused', 'en_US', 'APPROVED')], { phone: false }),
    );
    expect(reply.body.outcome).toBe('unmatched');
    expect(h.temporal.calls).toEqual([]);
    const [row] = await h.rows<{ kind: string }>(
      sql`select kind from events_raw where id = ${reply.body.eventId!}`,
    );
    expect(row?.kind).toBe('message_template_status_update');
  });
});

describe('number and account events', () => {
  it('FLAGGED stores tier and quality and signals the number workflow, starting it if needed', async () => {
    await deliver(platformMessage([phoneQualityChange('FLAGGED', 'TIER_1K')]));
    expect(h.temporal.calls).toEqual([
      {
        workflowId: `number:${PHONE_NUMBER_ID}`,
        signal: 'numberStatus',
        payload: { event: 'FLAGGED', reason: 'phone number quality is low (flagged by Meta)' },
        start: {
          workflowType: 'numberWorkflow',
          args: [{ phoneNumberId: PHONE_NUMBER_ID }],
          taskQueue: 'test-queue',
        },
      },
    ]);
    const [row] = await h.rows<{ tier_limit: number; quality_rating: string; status: string }>(
      sql`select tier_limit, quality_rating, status from numbers where phone_number_id = ${PHONE_NUMBER_ID}`,
    );
    expect(row).toEqual({ tier_limit: 1000, quality_rating: 'RED', status: 'FLAGGED' });
  });

  it('UPGRADE to unlimited stores no limit and sends no signal; UNFLAGGED resumes', async () => {
    await deliver(platformMessage([phoneQualityChange('UPGRADE', 'TIER_UNLIMITED')]));
    expect(h.temporal.calls).toEqual([]);
    await deliver(platformMessage([phoneQualityChange('UNFLAGGED', 'TIER_UNLIMITED')]));
    expect(h.temporal.calls.map((c) => c.payload)).toEqual([{ event: 'UNFLAGGED' }]);
    const [row] = await h.rows<{ tier_limit: number | null; quality_rating: string | null }>(
      sql`select tier_limit, quality_rating from numbers where phone_number_id = ${PHONE_NUMBER_ID}`,
    );
    expect(row).toEqual({ tier_limit: null, quality_rating: null });
  });

  it('THROUGHPUT_UPGRADE raises the stored rate to 1,000 messages/s', async () => {
    await deliver(platformMessage([phoneQualityChange('THROUGHPUT_UPGRADE', 'TIER_UNLIMITED')]));
    const [row] = await h.rows<{ mps: number }>(
      sql`select mps from numbers where phone_number_id = ${PHONE_NUMBER_ID}`,
    );
    expect(row?.mps).toBe(1000);
  });

  it('an account restriction stops the campaigns on every number of the WABA', async () => {
    const restriction = accountUpdateChange('ACCOUNT_RESTRICTION', {
      restriction_info: [
        { restriction_type: 'RESTRICTED_BIZ_INITIATED_MESSAGING', expiration: '1758257794' },
      ],
    });
    await deliver(platformMessage([restriction], { phone: false }));
    const byNumber = new Map(h.temporal.calls.map((c) => [c.workflowId, c.payload]));
    expect([...byNumber.keys()].sort()).toEqual([
      `number:${PHONE_NUMBER_ID}`,
      'number:phone-number-id-sibling',
    ]);
    expect(byNumber.get(`number:${PHONE_NUMBER_ID}`)).toEqual({
      event: 'ACCOUNT_RESTRICTION',
      reason: 'ACCOUNT_RESTRICTION: RESTRICTED_BIZ_INITIATED_MESSAGING until 1758257794',
      stop: true,
    });
  });

  it('account news that needs no action is stored only', async () => {
    const reply = await deliver(platformMessage([accountUpdateChange('VERIFIED_ACCOUNT')], { phone: false }));
    expect(reply.body.outcome).toBe('ignored');
    expect(h.temporal.calls).toEqual([]);
  });

  it('business_capability_update sets the portfolio limit of portfolio-budgeted numbers', async () => {
    await h.db.execute(
      sql`update numbers set tier_scope = 'portfolio', portfolio_id = 'p1' where phone_number_id = 'phone-number-id-sibling'`,
    );
    await deliver(
      platformMessage(
        [{ field: 'business_capability_update', value: { max_daily_conversations_per_business: 2000 } }],
        {
          phone: false,
        },
      ),
    );
    const [row] = await h.rows<{ tier_limit: number }>(
      sql`select tier_limit from numbers where phone_number_id = 'phone-number-id-sibling'`,
    );
    expect(row?.tier_limit).toBe(2000);
  });

  it('unknown fields are stored and tolerated', async () => {
    const reply = await deliver(
      platformMessage([{ field: 'flows', value: { event: 'FLOW_STATUS_CHANGE' } }]),
    );
    expect(reply.body.outcome).toBe('ignored');
    const [row] = await h.rows<{ error: string }>(
      sql`select error from events_raw where id = ${reply.body.eventId!}`,
    );
    expect(row?.error).toContain('field flows');
  });
});

describe('signal delivery', () => {
  it('a Temporal outage loses no signal: the event is acknowledged and the signal retried later', async () => {
    h.temporal.down = true;
    const reply = await deliver(
      platformMessage([templateStatusChange('welcome', 'en_US', 'DISABLED')], { phone: false }),
    );
    expect(reply.body.outcome).toBe('applied');
    expect(h.temporal.calls).toEqual([]);
    const [pending] = await h.rows<{ attempts: number; last_error: string; done_at: Date | null }>(
      sql`select attempts, last_error, done_at from ingest_signals where workflow_id = 'campaign:other-template'`,
    );
    expect(pending).toMatchObject({ attempts: 1, done_at: null });
    expect(pending?.last_error).toContain('UNAVAILABLE');

    h.temporal.down = false;
    await h.db.execute(sql`update ingest_signals set next_attempt_at = now() where done_at is null`);
    expect(await h.service.sweepSignals()).toBe(1);
    expect(h.temporal.calls.map((c) => c.workflowId)).toEqual(['campaign:other-template']);
    const [done] = await h.rows<{ outcome: string }>(
      sql`select outcome from ingest_signals where workflow_id = 'campaign:other-template'`,
    );
    expect(done?.outcome).toBe('delivered');
  });

  it('a campaign that has finished is not retried', async () => {
    h.temporal.missing.add('campaign:spring-1');
    await deliver(
      platformMessage([templateStatusChange('spring_sale', 'en_US', 'REINSTATED')], { phone: false }),
    );
    const rows = await h.rows<{ workflow_id: string; outcome: string }>(
      sql`select workflow_id, outcome from ingest_signals where payload->>'event' = 'REINSTATED' order by workflow_id`,
    );
    expect(rows).toEqual([
      { workflow_id: 'campaign:spring-1', outcome: 'gone' },
      { workflow_id: 'campaign:spring-2', outcome: 'delivered' },
    ]);
  });

  it('signals too old to matter are given up', async () => {
    h.temporal.down = true;
    await deliver(platformMessage([templateStatusChange('welcome', 'en_US', 'FLAGGED')], { phone: false }));
    await h.db.execute(
      sql`update ingest_signals set created_at = now() - interval '2 hours', next_attempt_at = now() where done_at is null`,
    );
    await h.service.sweepSignals();
    const [row] = await h.rows<{ outcome: string }>(sql`select outcome from ingest_signals
          where workflow_id = 'campaign:other-template' and payload->>'event' = 'FLAGGED'`);
    expect(row?.outcome).toBe('expired');
  });

  it('without a Temporal client events are applied and no signal is queued', async () => {
    const bare = await startHarness({ withTemporal: false });
    try {
      await seedCampaign(bare.db, { id: 'x', phones: ['+447700900001'] });
      const reply = await bare.notify(
        platformMessage([templateStatusChange('spring_sale', 'en_US', 'PAUSED')], { phone: false }),
      );
      expect(reply.status).toBe(200);
      expect(await bare.rows(sql`select 1 from ingest_signals`)).toEqual([]);
    } finally {
      await bare.close();
    }
  });

  it('queues a batch in one go: decided order kept, each stop written once however its repeats interleave', async () => {
    const stop = (event: string) => ({
      kind: 'campaign-stop' as const,
      workflowId: 'campaign:outbox-batch',
      payload: { event, reason: event, stop: true },
    });
    const [e1, e2] = await h.rows<{ id: unknown }>(
      sql`insert into events_raw (kind, outcome, body) values ('test', 'applied', '{}'), ('test', 'applied', '{}') returning id`,
    );
    const first = Number(e1!.id);
    const second = Number(e2!.id);
    const queued = await h.db.transaction((tx) =>
      queueSignals(tx, [
        { eventId: first, signals: [stop('ERROR_131048'), stop('ERROR_131048'), stop('ERROR_131031')] },
        // Stops already queued by another event of the batch, the latest one or not: nothing new.
        { eventId: second, signals: [stop('ERROR_131031'), stop('ERROR_131048'), stop('ERROR_132001')] },
      ]),
    );
    const ids = [...(queued.get(first) ?? []), ...(queued.get(second) ?? [])];
    expect(queued.get(first)).toHaveLength(2);
    expect(queued.get(second)).toHaveLength(1);
    const rows = await h.rows<{ id: unknown; event_id: unknown; event: string }>(
      sql`select id, event_id, payload->>'event' as event from ingest_signals
          where workflow_id = 'campaign:outbox-batch' order by id`,
    );
    expect(rows.map((r) => [Number(r.event_id), r.event])).toEqual([
      [first, 'ERROR_131048'],
      [first, 'ERROR_131031'],
      [second, 'ERROR_132001'],
    ]);
    expect(rows.map((r) => Number(r.id))).toEqual(ids);
    // A later batch within the repeat window adds nothing for stops already queued, the last or an earlier one.
    const again = await h.db.transaction((tx) =>
      queueSignals(tx, [{ eventId: second, signals: [stop('ERROR_132001'), stop('ERROR_131048')] }]),
    );
    expect(again.size).toBe(0);
  });

  describe('repeat window', () => {
    const workflowId = (name: string) => `number:phone-number-id-${name}`;
    const numberSignal = (name: string, event: string) => ({
      kind: 'number-status' as const,
      workflowId: workflowId(name),
      phoneNumberId: `phone-number-id-${name}`,
      payload: { event },
    });
    let eventId: number;
    beforeAll(async () => {
      const [row] = await h.rows<{ id: unknown }>(
        sql`insert into events_raw (kind, outcome, body) values ('test', 'applied', '{}') returning id`,
      );
      eventId = Number(row!.id);
    });
    const queue = (...signals: ReturnType<typeof numberSignal>[]) =>
      h.db.transaction((tx) => queueSignals(tx, [{ eventId, signals }]));
    const queuedEvents = async (name: string) =>
      (
        await h.rows<{ event: string }>(
          sql`select payload->>'event' as event from ingest_signals where workflow_id = ${workflowId(name)} order by id`,
        )
      ).map((r) => r.event);

    it('a burst of the same signal is queued once, in one batch and across batches', async () => {
      const burst = Array.from({ length: 100 }, () => numberSignal('burst', 'ERROR_131048'));
      expect((await queue(...burst)).get(eventId)).toHaveLength(1);
      expect((await queue(...burst)).size).toBe(0);
      expect(await queuedEvents('burst')).toEqual(['ERROR_131048']);
    });

    it('a state that flips back within one batch is queued each time it changes', async () => {
      const flips = ['FLAGGED', 'FLAGGED', 'UNFLAGGED', 'FLAGGED', 'FLAGGED'];
      await queue(...flips.map((e) => numberSignal('flip-batch', e)));
      expect(await queuedEvents('flip-batch')).toEqual(['FLAGGED', 'UNFLAGGED', 'FLAGGED']);
    });

    it('a state that flips back across batches within the window is queued each time it changes', async () => {
      for (const e of ['FLAGGED', 'UNFLAGGED', 'FLAGGED', 'FLAGGED'])
        await queue(numberSignal('flip-across', e));
      expect(await queuedEvents('flip-across')).toEqual(['FLAGGED', 'UNFLAGGED', 'FLAGGED']);
      // The first of a batch is compared with the latest row, the rest with the one decided before it.
      await queue(numberSignal('flip-across', 'FLAGGED'), numberSignal('flip-across', 'UNFLAGGED'));
      expect(await queuedEvents('flip-across')).toEqual(['FLAGGED', 'UNFLAGGED', 'FLAGGED', 'UNFLAGGED']);
    });

    it('the latest signal is repeated once the window has passed', async () => {
      await queue(numberSignal('window', 'FLAGGED'));
      await h.db.execute(
        sql`update ingest_signals set created_at = now() - interval '61 seconds' where workflow_id = ${workflowId('window')}`,
      );
      await queue(numberSignal('window', 'FLAGGED'));
      expect(await queuedEvents('window')).toEqual(['FLAGGED', 'FLAGGED']);
    });
  });

  it('FLAGGED, UNFLAGGED, FLAGGED within a minute each reach the number workflow', async () => {
    const hex = 'f11p';
    const at = Date.now();
    const quality = (event: string) =>
      phoneQualityChange(event, 'TIER_1K', { display_phone_number: '447700900777' });
    for (const [i, event] of ['FLAGGED', 'UNFLAGGED', 'FLAGGED'].entries())
      await deliver(numberMessage(hex, [quality(event)], new Date(at + i * 1000)));
    expect(h.temporal.calls.map((c) => [c.workflowId, c.payload])).toEqual([
      [
        `number:phone-number-id-${hex}`,
        { event: 'FLAGGED', reason: 'phone number quality is low (flagged by Meta)' },
      ],
      [`number:phone-number-id-${hex}`, { event: 'UNFLAGGED' }],
      [
        `number:phone-number-id-${hex}`,
        { event: 'FLAGGED', reason: 'phone number quality is low (flagged by Meta)' },
      ],
    ]);
    const [row] = await h.rows<{ status: string }>(
      sql`select status from numbers where phone_number_id = ${`phone-number-id-${hex}`}`,
    );
    expect(row?.status).toBe('FLAGGED');
  });

  it('a restriction, a reinstatement and a restriction within a minute each reach the number workflow', async () => {
    const hex = 'acc0f11p';
    const at = Date.now();
    const restriction = accountUpdateChange('ACCOUNT_RESTRICTION', {
      restriction_info: [{ restriction_type: 'RESTRICTED_BIZ_INITIATED_MESSAGING' }],
    });
    const reinstated = accountUpdateChange('DISABLED_UPDATE', {
      ban_info: { waba_ban_state: ['REINSTATE'] },
    });
    for (const [i, change] of [restriction, reinstated, restriction].entries())
      await deliver(numberMessage(hex, [change], new Date(at + i * 1000)));
    expect(h.temporal.calls.map((c) => c.payload)).toEqual([
      {
        event: 'ACCOUNT_RESTRICTION',
        reason: 'ACCOUNT_RESTRICTION: RESTRICTED_BIZ_INITIATED_MESSAGING',
        stop: true,
      },
      { event: 'UNRESTRICTED', reason: 'DISABLED_UPDATE' },
      {
        event: 'ACCOUNT_RESTRICTION',
        reason: 'ACCOUNT_RESTRICTION: RESTRICTED_BIZ_INITIATED_MESSAGING',
        stop: true,
      },
    ]);
    const [row] = await h.rows<{ status: string }>(
      sql`select status from numbers where phone_number_id = ${`phone-number-id-${hex}`}`,
    );
    expect(row?.status).toBe('RESTRICTED');
  });
});
