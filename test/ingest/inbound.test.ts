import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DISPLAY_NUMBER,
  PHONE_NUMBER_ID,
  inboundChange,
  platformMessage,
  userPreferenceChange,
} from './helpers/events';
import { startHarness, type Harness } from './helpers/harness';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ stopWords: ['STOP', 'ARRÊT', 'BAJA', 'HALT'], resumeWords: ['START', 'ALTA'] });
});
afterAll(async () => {
  await h.close();
});

let n = 0;
const nextUser = () => `4477008${String(++n).padStart(5, '0')}`;
const inbound = (from: string, text: string, atMs = Date.now(), id = `wamid.in.${from}.${atMs}.${text}`) =>
  h.notify(platformMessage([inboundChange({ from, id, text, atMs })]));

interface AuditRow {
  action: string;
  source: string;
  detail: { effect: string; keyword?: string };
  at: Date;
}
const audit = (phone: string) =>
  h.rows<AuditRow>(
    sql`select action, source, detail, at from opt_out_audit where phone = ${phone} order by id`,
  );
const suppressed = async (phone: string) =>
  (await h.rows(sql`select 1 from suppressions where phone = ${phone}`)).length > 0;

describe('inbound messages', () => {
  it('open and extend the customer-service window of the number they were sent to', async () => {
    const user = nextUser();
    const t = Date.now() - 3600_000;
    await inbound(user, 'hello', t);
    await inbound(user, 'are you there?', t + 600_000);
    // An older message arriving late does not shorten the window.
    await inbound(user, 'earlier', t - 600_000);
    const [w] = await h.rows<{ phone_number_id: string; last_inbound_at: Date }>(
      sql`select phone_number_id, last_inbound_at from service_windows where phone = ${`+${user}`}`,
    );
    expect(w?.phone_number_id).toBe(PHONE_NUMBER_ID);
    expect(new Date(w!.last_inbound_at).getTime()).toBe(Math.floor((t + 600_000) / 1000) * 1000);
  });

  it('falls back to the display number when the envelope names no phone number', async () => {
    await h.db.execute(
      sql`insert into numbers (phone_number_id, display_phone_number) values ('phone-number-id-fallback', ${`+${DISPLAY_NUMBER}`})`,
    );
    const user = nextUser();
    await h.notify(
      platformMessage([inboundChange({ from: user, id: `wamid.fb.${user}`, text: 'hi' })], { phone: false }),
    );
    const [w] = await h.rows<{ phone_number_id: string }>(
      sql`select phone_number_id from service_windows where phone = ${`+${user}`}`,
    );
    expect(w?.phone_number_id).toBe('phone-number-id-fallback');
    await h.db.execute(sql`delete from numbers where phone_number_id = 'phone-number-id-fallback'`);
  });

  it('a repeated inbound message changes nothing', async () => {
    const user = nextUser();
    const t = Date.now() - 1000;
    expect((await inbound(user, 'STOP', t, 'wamid.repeat')).body.outcome).toBe('applied');
    expect((await inbound(user, 'STOP', t, 'wamid.repeat')).body.outcome).toBe('duplicate');
    expect(await audit(`+${user}`)).toHaveLength(1);
  });

  it('keeps other message types (image, reaction, system) and unknown fields', async () => {
    const user = nextUser();
    const reply = await h.notify(
      platformMessage([
        inboundChange(
          {
            from: user,
            id: `wamid.img.${user}`,
            type: 'image',
            extra: { image: { id: 'media-1', mime_type: 'image/jpeg', sha256: 'abc' } },
          },
          {
            from: user,
            id: `wamid.sys.${user}`,
            type: 'system',
            extra: { system: { body: 'changed number' }, brand_new: 1 },
          },
        ),
      ]),
    );
    expect(reply.status).toBe(200);
    const seen = await h.rows<{ type: string }>(
      sql`select type from inbound_messages where phone = ${`+${user}`} order by type`,
    );
    expect(seen.map((r) => r.type)).toEqual(['image', 'system']);
  });
});

describe('opt-out and opt-in', () => {
  it.each(['STOP', 'stop!', 'Arrêt', 'baja', 'halt'])(
    '"%s" suppresses the user for marketing, audited',
    async (word) => {
      const user = nextUser();
      await inbound(user, word);
      expect(await suppressed(`+${user}`)).toBe(true);
      const [row] = await audit(`+${user}`);
      expect(row).toMatchObject({
        action: 'opt-out',
        source: 'inbound-keyword',
        detail: { effect: 'suppressed' },
      });
    },
  );

  it('ordinary messages and words not configured change nothing', async () => {
    const user = nextUser();
    await inbound(user, 'please do not stop');
    await inbound(user, 'UNSUBSCRIBE'); // on the built-in list, but not on this service's custom list
    expect(await suppressed(`+${user}`)).toBe(false);
    expect(await audit(`+${user}`)).toEqual([]);
  });

  it('a resume word lifts the suppression; both changes are audited with time and source', async () => {
    const user = nextUser();
    const t = Date.now() - 10_000;
    await inbound(user, 'STOP', t);
    await inbound(user, 'START', t + 5000);
    expect(await suppressed(`+${user}`)).toBe(false);
    const rows = await audit(`+${user}`);
    expect(rows.map((r) => [r.action, r.detail.effect])).toEqual([
      ['opt-out', 'suppressed'],
      ['opt-in', 'unsuppressed'],
    ]);
    expect(new Date(rows[1]!.at).getTime()).toBe(Math.floor((t + 5000) / 1000) * 1000);
  });

  it('out of order: an older STOP arriving after a newer START does not win', async () => {
    const user = nextUser();
    const t = Date.now() - 10_000;
    await inbound(user, 'START', t + 5000);
    await inbound(user, 'STOP', t);
    expect(await suppressed(`+${user}`)).toBe(false);
    expect((await audit(`+${user}`)).map((r) => r.detail.effect)).toEqual(['not-suppressed', 'superseded']);
  });

  it('user_preferences stop and resume', async () => {
    const user = nextUser();
    const t = Date.now() - 10_000;
    await h.notify(platformMessage([userPreferenceChange(user, 'stop', t)]));
    expect(await suppressed(`+${user}`)).toBe(true);
    // Redelivered by Meta through a new SNS message: skipped.
    await h.notify(platformMessage([userPreferenceChange(user, 'stop', t)]));
    await h.notify(platformMessage([userPreferenceChange(user, 'resume', t + 2000)]));
    expect(await suppressed(`+${user}`)).toBe(false);
    const rows = await audit(`+${user}`);
    expect(rows.map((r) => [r.action, r.source, r.detail.effect])).toEqual([
      ['opt-out', 'user-preferences', 'suppressed'],
      ['opt-in', 'user-preferences', 'unsuppressed'],
    ]);
  });

  it('user_preferences of another category or value are kept, not acted on', async () => {
    const user = nextUser();
    const reply = await h.notify(
      platformMessage([
        userPreferenceChange(user, 'stop', Date.now(), 'utility_messages'),
        userPreferenceChange(user, 'maybe'),
      ]),
    );
    expect(reply.status).toBe(200);
    expect(reply.body.outcome).toBe('ignored');
    expect(await suppressed(`+${user}`)).toBe(false);
  });

  it('the Stop-promotions button and interactive replies count as words', async () => {
    const user = nextUser();
    const button = inboundChange({
      from: user,
      id: `wamid.btn.${user}`,
      type: 'button',
      extra: { button: { text: 'STOP', payload: 'stop-promo' } },
    });
    await h.notify(platformMessage([button]));
    expect(await suppressed(`+${user}`)).toBe(true);
  });
});
