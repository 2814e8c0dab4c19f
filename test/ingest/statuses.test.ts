import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bizOpaqueCallbackData } from '../../src/shared/ids';
import { platformMessage, statusChange, type StatusInput } from './helpers/events';
import { recipient, seedCampaign, setRecipient, startHarness, type Harness } from './helpers/harness';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});

let counter = 0;
/** A fresh campaign with `n` recipients, each already sent with message id `wamid.<campaign>.<seq>`. */
async function campaign(n = 1, opts: { deadline?: Date; sent?: boolean } = {}) {
  const id = `c${++counter}`;
  await seedCampaign(h.db, {
    id,
    phones: Array.from({ length: n }, (_, i) => `+4477009${counter}${String(i).padStart(4, '0')}`),
    ...opts,
  });
  if (opts.sent !== false) {
    for (let seq = 0; seq < n; seq++)
      await setRecipient(h.db, id, seq, { state: 'sent', messageId: `wamid.${id}.${seq}` });
  }
  return {
    id,
    mid: (seq: number) => `wamid.${id}.${seq}`,
    biz: (seq: number) => bizOpaqueCallbackData(id, seq),
  };
}

const send = (...statuses: StatusInput[]) => h.notify(platformMessage([statusChange(...statuses)]));

describe('message statuses', () => {
  it('moves a recipient through delivered and read, keeping each time', async () => {
    const c = await campaign();
    const t = Date.now() - 60_000;
    expect((await send({ id: c.mid(0), status: 'delivered', atMs: t })).body.outcome).toBe('applied');
    expect((await recipient(h.db, c.id, 0)).state).toBe('delivered');
    await send({ id: c.mid(0), status: 'read', atMs: t + 5000 });
    const row = await recipient(h.db, c.id, 0);
    expect(row.state).toBe('read');
    expect(new Date(row.delivered_at!).getTime()).toBe(Math.floor(t / 1000) * 1000);
    expect(new Date(row.read_at!).getTime()).toBe(Math.floor((t + 5000) / 1000) * 1000);
  });

  it('is safe out of order: read before delivered, and a late sent never moves read back', async () => {
    const c = await campaign();
    const t = Date.now() - 60_000;
    await send({ id: c.mid(0), status: 'read', atMs: t + 2000 });
    await send({ id: c.mid(0), status: 'delivered', atMs: t + 1000 });
    await send({ id: c.mid(0), status: 'sent', atMs: t });
    const row = await recipient(h.db, c.id, 0);
    expect(row.state).toBe('read');
    expect(new Date(row.delivered_at!).getTime()).toBe(Math.floor((t + 1000) / 1000) * 1000);
    expect(new Date(row.sent_at!).getTime()).toBeLessThanOrEqual(t);
  });

  it('changes nothing on redelivery, by SNS MessageId or by message and status', async () => {
    const c = await campaign();
    const body = h.build(platformMessage([statusChange({ id: c.mid(0), status: 'delivered' })]));
    expect((await h.post(body)).body.outcome).toBe('applied');
    const first = await recipient(h.db, c.id, 0);
    const again = await h.post(body);
    expect(again.status).toBe(200);
    expect(again.body.outcome).toBe('duplicate');
    // Same status for the same message in a new SNS message (Meta retried): recorded once.
    const copy = await send({ id: c.mid(0), status: 'delivered', atMs: Date.now() + 60_000 });
    expect(copy.body.outcome).toBe('duplicate');
    expect(await recipient(h.db, c.id, 0)).toEqual(first);
    const [n] = await h.rows<{ n: unknown }>(
      sql`select count(*) as n from message_statuses where message_id = ${c.mid(0)}`,
    );
    expect(Number(n?.n)).toBe(1);
  });

  it('settles crash-ambiguous and still-sending rows from biz_opaque_callback_data, taking the message id', async () => {
    const c = await campaign(2, { sent: false });
    await setRecipient(h.db, c.id, 0, { state: 'ambiguous' });
    await h.db.execute(
      sql`update recipients set error_message = 'timed out' where campaign_id = ${c.id} and seq = 0`,
    );
    await setRecipient(h.db, c.id, 1, { state: 'sending' });
    await send(
      { id: 'wamid.unknown-a', status: 'sent', biz: c.biz(0) },
      { id: 'wamid.unknown-b', status: 'delivered', biz: c.biz(1) },
    );
    const a = await recipient(h.db, c.id, 0);
    expect(a).toMatchObject({ state: 'sent', message_id: 'wamid.unknown-a', error_message: null });
    const b = await recipient(h.db, c.id, 1);
    expect(b).toMatchObject({ state: 'delivered', message_id: 'wamid.unknown-b' });
    expect(b.sent_at).not.toBeNull();
  });

  it('keeps pricing and conversation for cost reports', async () => {
    const c = await campaign();
    const pricing = { billable: true, pricing_model: 'CBP', category: 'marketing', type: 'regular' };
    const conversation = { id: 'conv-1', origin: { type: 'marketing' }, expiration_timestamp: '1758257794' };
    await send({ id: c.mid(0), status: 'sent', pricing, conversation });
    const [row] = await h.rows<{ pricing: unknown; conversation: unknown }>(
      sql`select pricing, conversation from message_statuses where message_id = ${c.mid(0)} and status = 'sent'`,
    );
    expect(row?.pricing).toEqual(pricing);
    expect(row?.conversation).toEqual(conversation);
  });

  it('stores statuses of messages we did not send, without touching anything', async () => {
    const reply = await send(
      { id: 'wamid.not-ours', status: 'delivered' },
      { id: 'wamid.not-ours-2', status: 'deleted' },
    );
    expect(reply.status).toBe(200);
    expect(reply.body.outcome).toBe('unmatched');
    const rows = await h.rows(sql`select 1 from message_statuses where message_id like 'wamid.not-ours%'`);
    expect(rows).toHaveLength(2);
  });

  it('records deleted, warning, played and unknown statuses, with unknown fields', async () => {
    const c = await campaign(3);
    await send(
      { id: c.mid(0), status: 'warning' },
      { id: c.mid(1), status: 'played' },
      { id: c.mid(2), status: 'teleported' },
    );
    expect((await recipient(h.db, c.id, 0)).state).toBe('sent');
    expect((await recipient(h.db, c.id, 1)).state).toBe('read');
    expect((await recipient(h.db, c.id, 2)).state).toBe('sent');
    const statuses = await h.rows<{ status: string }>(
      sql`select status from message_statuses where message_id in (${c.mid(0)}, ${c.mid(1)}, ${c.mid(2)}) order by status`,
    );
    expect(statuses.map((s) => s.status)).toEqual(['played', 'teleported', 'warning']);
  });

  it('applies multi-entry batches: several changes and statuses in one SNS message', async () => {
    const c = await campaign(3);
    const message = JSON.stringify({
      context: { MetaWabaIds: [], MetaPhoneNumberIds: [] },
      whatsAppWebhookEntry: JSON.stringify([
        {
          id: 'w1',
          changes: [
            statusChange({ id: c.mid(0), status: 'delivered' }),
            statusChange({ id: c.mid(1), status: 'read' }),
          ],
        },
        {
          id: 'w1',
          changes: [statusChange({ id: c.mid(2), status: 'delivered' }, { id: c.mid(2), status: 'read' })],
        },
      ]),
      some_future_field: { nested: true },
    });
    expect((await h.notify(message)).status).toBe(200);
    expect((await recipient(h.db, c.id, 0)).state).toBe('delivered');
    expect((await recipient(h.db, c.id, 1)).state).toBe('read');
    expect((await recipient(h.db, c.id, 2)).state).toBe('read');
  });
});

describe('failed statuses', () => {
  it('131049: the recipient waits at least 24 h, within the deadline', async () => {
    const c = await campaign(1, { deadline: new Date(Date.now() + 3 * 86_400_000) });
    const before = Date.now();
    await send({ id: c.mid(0), status: 'failed', errors: [{ code: 131049 }] });
    const row = await recipient(h.db, c.id, 0);
    expect(row.state).toBe('pending');
    expect(row.error_code).toBe(131049);
    expect(new Date(row.next_attempt_at!).getTime()).toBeGreaterThanOrEqual(before + 24 * 3600_000);
  });

  it('131049 past the deadline: expired', async () => {
    const c = await campaign(1, { deadline: new Date(Date.now() + 3600_000) });
    await send({ id: c.mid(0), status: 'failed', errors: [{ code: 131049 }] });
    expect(await recipient(h.db, c.id, 0)).toMatchObject({ state: 'expired', error_code: 131049 });
  });

  it('130429 and 131056: pending again after 4^X seconds', async () => {
    const c = await campaign(2);
    await h.db.execute(sql`update recipients set attempts = 3 where campaign_id = ${c.id} and seq = 1`);
    const before = Date.now();
    await send(
      { id: c.mid(0), status: 'failed', errors: [{ code: 130429 }] },
      { id: c.mid(1), status: 'failed', errors: [{ code: 131056 }] },
    );
    const a = await recipient(h.db, c.id, 0);
    const b = await recipient(h.db, c.id, 1);
    expect(a.state).toBe('pending');
    expect(new Date(a.next_attempt_at!).getTime() - before).toBeGreaterThanOrEqual(1000 - 50);
    expect(new Date(a.next_attempt_at!).getTime() - before).toBeLessThan(4000);
    expect(b.state).toBe('pending');
    expect(new Date(b.next_attempt_at!).getTime() - before).toBeGreaterThanOrEqual(16_000 - 50);
  });

  it('131050: the user is suppressed, with an audit record', async () => {
    const c = await campaign();
    const phone = (
      await h.rows<{ phone: string }>(sql`select phone from recipients where campaign_id = ${c.id}`)
    )[0]!.phone;
    await send({ id: c.mid(0), status: 'failed', errors: [{ code: 131050 }] });
    expect(await recipient(h.db, c.id, 0)).toMatchObject({ state: 'failed', error_code: 131050 });
    const [s] = await h.rows<{ source: string }>(sql`select source from suppressions where phone = ${phone}`);
    expect(s?.source).toBe('status-131050');
    const [audit] = await h.rows<{ action: string; source: string; detail: { effect: string } }>(
      sql`select action, source, detail from opt_out_audit where phone = ${phone}`,
    );
    expect(audit).toMatchObject({
      action: 'opt-out',
      source: 'status-131050',
      detail: { effect: 'suppressed' },
    });
  });

  it('131050 for a message we cannot place still suppresses the user', async () => {
    await send({
      id: 'wamid.stranger',
      status: 'failed',
      recipient: '447700900999',
      errors: [{ code: 131050 }],
    });
    expect(await h.rows(sql`select 1 from suppressions where phone = '+447700900999'`)).toHaveLength(1);
  });

  it('stop codes fail the recipient and signal the campaign to stop; 132015 pauses it', async () => {
    const c = await campaign(3);
    h.temporal.calls.length = 0;
    await send(
      { id: c.mid(0), status: 'failed', errors: [{ code: 131048 }] },
      { id: c.mid(1), status: 'failed', errors: [{ code: 131048 }] },
    );
    await h.service.signalsIdle();
    expect(await recipient(h.db, c.id, 0)).toMatchObject({ state: 'failed', error_code: 131048 });
    // Two failures, one signal: a burst of the same code must not flood the workflow.
    expect(h.temporal.calls).toEqual([
      {
        workflowId: `campaign:${c.id}`,
        signal: 'numberStatus',
        payload: { event: 'ERROR_131048', reason: 'spam rate limit hit (131048)', stop: true },
      },
    ]);
    await send({ id: c.mid(2), status: 'failed', errors: [{ code: 132015 }] });
    await h.service.signalsIdle();
    expect(h.temporal.calls[1]).toMatchObject({
      workflowId: `campaign:${c.id}`,
      signal: 'templateStatus',
      payload: { templateName: 'spring_sale', templateLanguage: 'en_US', event: 'PAUSED' },
    });
    expect((await recipient(h.db, c.id, 2)).state).toBe('pending');
  });

  it('other codes fail the recipient with the code; failed without a code too', async () => {
    const c = await campaign(2);
    await send({
      id: c.mid(0),
      status: 'failed',
      errors: [{ code: 131026, title: 'Message undeliverable' }],
    });
    await send({ id: c.mid(1), status: 'failed' });
    expect(await recipient(h.db, c.id, 0)).toMatchObject({ state: 'failed', error_code: 131026 });
    expect((await recipient(h.db, c.id, 0)).error_message).toContain('Message undeliverable');
    expect(await recipient(h.db, c.id, 1)).toMatchObject({ state: 'failed', error_code: null });
  });

  it('a failure reported before its sent status stays failed', async () => {
    const c = await campaign();
    await send({ id: c.mid(0), status: 'failed', errors: [{ code: 131026 }] });
    await send({ id: c.mid(0), status: 'sent' });
    expect((await recipient(h.db, c.id, 0)).state).toBe('failed');
  });

  it('decides the failures of one batch in order, as if applied one by one', async () => {
    const c = await campaign(3);
    // Recipient 0's send was never recorded (a crash): its row has no message id yet.
    await setRecipient(h.db, c.id, 0, { state: 'sending', messageId: null, attempts: 2 });
    await h.db.execute(sql`update recipients set attempts = 2 where campaign_id = ${c.id} and seq > 0`);
    const before = Date.now();
    await send(
      // The first failure settles recipient 0 and takes its message id; the second, of another
      // message, then finds a recipient that moved on.
      { id: 'wamid.try-a', status: 'failed', biz: c.biz(0), errors: [{ code: 130429 }] },
      { id: 'wamid.try-b', status: 'failed', biz: c.biz(0), errors: [{ code: 131026 }] },
      // A paused template gives the try back.
      { id: c.mid(1), status: 'failed', biz: c.biz(1), errors: [{ code: 132015 }] },
      { id: c.mid(2), status: 'failed', errors: [{ code: 131026 }] },
      { id: 'wamid.nobody', status: 'failed', errors: [{ code: 131026 }] },
    );
    const [a, b, d] = [
      await recipient(h.db, c.id, 0),
      await recipient(h.db, c.id, 1),
      await recipient(h.db, c.id, 2),
    ];
    expect(a).toMatchObject({
      state: 'pending',
      message_id: 'wamid.try-a',
      error_code: 130429,
      attempts: 2,
      failed_at: null,
    });
    // 4^1 seconds after the second try (the first retry waits 4^0).
    expect(new Date(a.next_attempt_at!).getTime() - before).toBeGreaterThanOrEqual(4_000 - 50);
    expect(new Date(a.next_attempt_at!).getTime() - before).toBeLessThan(16_000);
    expect(b).toMatchObject({ state: 'pending', error_code: 132015, attempts: 1 });
    expect(d).toMatchObject({ state: 'failed', error_code: 131026, attempts: 2 });
    expect(d.failed_at).not.toBeNull();
  });

  it('a failure of an older message leaves a recipient that moved on alone', async () => {
    const c = await campaign();
    await send({ id: c.mid(0), status: 'delivered' });
    await send({ id: 'wamid.older-attempt', status: 'failed', biz: c.biz(0), errors: [{ code: 131026 }] });
    expect((await recipient(h.db, c.id, 0)).state).toBe('delivered');
  });
});
