import { readFileSync } from 'node:fs';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PHONE_NUMBER_ID, TOPIC_ARN, inboundChange, platformMessage } from './helpers/events';
import { startHarness, type Harness } from './helpers/harness';
import { makeSigner, signSns } from './helpers/sns-signing';
import { boundedForArchive, MAX_REJECTED_ARCHIVE_CHARS } from '../../src/ingest/receiver';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});

const hello = (id: string) => platformMessage([inboundChange({ from: '447700900777', id, text: 'hi' })]);

async function rawRow(eventId: number | undefined) {
  const [row] = await h.rows<{
    sns_message_id: string | null;
    outcome: string;
    kind: string;
    error: string | null;
  }>(sql`select sns_message_id, outcome, kind, error from events_raw where id = ${eventId ?? -1}`);
  return row;
}

async function rejectedCount(): Promise<number> {
  const [row] = await h.rows<{ n: unknown }>(
    sql`select count(*) as n from events_raw where outcome = 'rejected'`,
  );
  return Number(row?.n);
}

describe('SNS signatures and trust', () => {
  it('accepts the captured inbound text, signed with SignatureVersion 1', async () => {
    const fixture = JSON.parse(
      readFileSync(path.join(__dirname, 'fixtures/inbound-text.sns.json'), 'utf8'),
    ) as Record<string, string>;
    delete fixture._comment;
    fixture.Timestamp = new Date().toISOString();
    fixture.SigningCertURL = h.certs.certUrl('main');
    fixture.Signature = signSns(fixture, h.signer, '1');
    const reply = await h.post(fixture);
    expect(reply.status).toBe(200);
    expect(reply.body.outcome).toBe('applied');
    const [window] = await h.rows<{ phone_number_id: string; last_inbound_at: Date }>(
      sql`select phone_number_id, last_inbound_at from service_windows where phone = '+447700900456'`,
    );
    expect(window?.phone_number_id).toBe(PHONE_NUMBER_ID);
    expect(new Date(window!.last_inbound_at).getTime()).toBe(1758171394 * 1000);
    // Delivered again by SNS: stored once, nothing changes.
    const again = await h.post(fixture);
    expect(again.status).toBe(200);
    expect(again.body.outcome).toBe('duplicate');
  });

  it('accepts SignatureVersion 2 (SHA256)', async () => {
    const reply = await h.notify(hello('wamid.v2'), { version: '2' });
    expect(reply.status).toBe(200);
    expect((await rawRow(reply.body.eventId))?.kind).toBe('messages');
  });

  it('refuses a forged message, records it without its MessageId, and still takes the genuine one', async () => {
    const before = await rejectedCount();
    const genuine = h.build(hello('wamid.genuine'), { messageId: 'same-id-1' });
    const forged = { ...genuine, Message: hello('wamid.forged') };
    const reply = await h.post(forged);
    expect(reply.status).toBe(403);
    expect(reply.body.outcome).toBe('rejected');
    expect(await rejectedCount()).toBe(before + 1);
    const [row] = await h.rows<{ sns_message_id: string | null; error: string }>(
      sql`select sns_message_id, error from events_raw where outcome = 'rejected' order by id desc limit 1`,
    );
    expect(row?.sns_message_id).toBeNull();
    expect(row?.error).toMatch(/bad-signature/);
    const [forgedInbound] = await h.rows(
      sql`select 1 from inbound_messages where message_id = 'wamid.forged'`,
    );
    expect(forgedInbound).toBeUndefined();

    const ok = await h.post(genuine);
    expect(ok.status).toBe(200);
    expect(ok.body.outcome).toBe('applied');
  });

  it('archives only the beginning of a large refused delivery: refusals need no credentials', async () => {
    const genuine = h.build(hello('wamid.big'));
    const forged = { ...genuine, Message: hello('x'.repeat(900_000)) };
    const reply = await h.post(forged);
    expect(reply.status).toBe(403);
    const [row] = await h.rows<{ size: number; body: { raw?: string; truncatedFrom?: number } }>(
      sql`select octet_length(body::text) as size, body from events_raw where outcome = 'rejected' order by id desc limit 1`,
    );
    expect(row?.body.truncatedFrom).toBeGreaterThan(900_000);
    expect(row?.body.raw).toHaveLength(MAX_REJECTED_ARCHIVE_CHARS);
    expect(row?.size).toBeLessThan(MAX_REJECTED_ARCHIVE_CHARS + 1_000);
    // The cut never splits a character: PostgreSQL refuses half a surrogate pair in jsonb.
    const straddling = { m: `${'a'.repeat(MAX_REJECTED_ARCHIVE_CHARS - 7)}\u{1F600}${'b'.repeat(1_000)}` };
    expect(JSON.stringify(straddling).charCodeAt(MAX_REJECTED_ARCHIVE_CHARS - 1)).toBe(0xd83d);
    const bounded = boundedForArchive(straddling) as { raw: string };
    expect(bounded.raw).toHaveLength(MAX_REJECTED_ARCHIVE_CHARS - 1);
    const [stored] = await h.rows<{ n: number }>(
      sql`select length(${JSON.stringify(bounded)}::jsonb->>'raw') as n`,
    );
    expect(Number(stored?.n)).toBe(MAX_REJECTED_ARCHIVE_CHARS - 1);
  });

  it('refuses a message signed with another key', async () => {
    const reply = await h.notify(hello('wamid.otherkey'), { signer: makeSigner() });
    expect(reply.status).toBe(403);
  });

  it('refuses a message from a topic that is not ours, even if SNS signed it', async () => {
    const reply = await h.notify(hello('wamid.topic'), {
      topicArn: 'arn:aws:sns:eu-west-1:999999999999:someone-else',
    });
    expect(reply.status).toBe(403);
    expect(reply.body.detail).toMatch(/wrong-topic/);
  });

  it('refuses certificates from hosts that are neither SNS nor trusted', async () => {
    const reply = await h.notify(hello('wamid.host'), { certUrl: 'http://127.0.0.1:1/evil.pem' });
    expect(reply.status).toBe(403);
    expect(reply.body.detail).toMatch(/not an SNS certificate URL/);
    const awsLookalike = await h.notify(hello('wamid.host2'), {
      certUrl:
        'https://sns.eu-west-1.amazonaws.com.evil.example/SimpleNotificationService-0123456789abcdef0123456789abcdef.pem',
    });
    expect(awsLookalike.status).toBe(403);
    // The right shape, but not SNS: the middle label must be a region.
    const notSns = await h.notify(hello('wamid.host3'), {
      certUrl:
        'https://sns.s3-external-1.amazonaws.com/SimpleNotificationService-0123456789abcdef0123456789abcdef.pem',
    });
    expect(notSns.status).toBe(403);
    expect(notSns.body.detail).toMatch(/not an SNS certificate URL/);
  });

  it('refuses old messages (replays) and expired certificates', async () => {
    const old = await h.notify(hello('wamid.old'), {
      timestamp: new Date(Date.now() - 3 * 3600_000).toISOString(),
    });
    expect(old.status).toBe(403);
    expect(old.body.detail).toMatch(/expired/);

    const expired = makeSigner({
      notBefore: new Date(Date.now() - 10 * 86_400_000),
      notAfter: new Date(Date.now() - 86_400_000),
    });
    h.certs.certs.set('expired', expired.certPem);
    const reply = await h.notify(hello('wamid.expiredcert'), { certName: 'expired', signer: expired });
    expect(reply.status).toBe(403);
    expect(reply.body.detail).toMatch(/not valid now/);
  });

  it('answers 503 when the certificate cannot be fetched, so SNS tries again', async () => {
    const reply = await h.notify(hello('wamid.nocert'), { certName: 'missing' });
    expect(reply.status).toBe(503);
    expect(reply.body.outcome).toBe('deferred');
  });

  it('follows a certificate change (the emulator makes a new key when it restarts)', async () => {
    const first = makeSigner();
    h.certs.certs.set('rotating', first.certPem);
    expect((await h.notify(hello('wamid.rot1'), { certName: 'rotating', signer: first })).status).toBe(200);
    const second = makeSigner();
    h.certs.certs.set('rotating', second.certPem);
    expect((await h.notify(hello('wamid.rot2'), { certName: 'rotating', signer: second })).status).toBe(200);
  });

  it('answers 400 to bodies that are not SNS messages, and records them', async () => {
    const before = await rejectedCount();
    expect((await h.post('not json at all')).status).toBe(400);
    expect((await h.post({ Type: 'Notification' })).status).toBe(400);
    expect(await rejectedCount()).toBe(before + 2);
  });

  it('answers 413 to oversized bodies', async () => {
    const res = await fetch(h.url, { method: 'POST', body: 'x'.repeat(1024 * 1024 + 10) });
    expect(res.status).toBe(413);
  });
});

describe('subscription handshake', () => {
  it('confirms a subscription to an allowed topic by visiting SubscribeURL', async () => {
    const visits = h.certs.confirmations.length;
    const reply = await h.notify('You have chosen to subscribe', { type: 'SubscriptionConfirmation' });
    expect(reply.status).toBe(200);
    expect(reply.body.outcome).toBe('confirmed');
    expect(h.certs.confirmations.length).toBe(visits + 1);
    expect(h.certs.confirmations.at(-1)).toContain(encodeURIComponent(TOPIC_ARN));
  });

  it('does not confirm other topics, nor SubscribeURLs elsewhere', async () => {
    const visits = h.certs.confirmations.length;
    const other = await h.notify('subscribe?', {
      type: 'SubscriptionConfirmation',
      topicArn: 'arn:aws:sns:eu-west-1:999999999999:not-ours',
    });
    expect(other.status).toBe(403);
    const elsewhere = await h.notify('subscribe?', {
      type: 'SubscriptionConfirmation',
      subscribeUrl: 'http://127.0.0.1:9/confirm?Token=x',
    });
    expect(elsewhere.status).toBe(403);
    expect(h.certs.confirmations.length).toBe(visits);
  });

  it('answers 502 when the confirmation visit fails, so SNS sends it again', async () => {
    h.certs.confirmStatus = 500;
    try {
      const body = h.build('subscribe', { type: 'SubscriptionConfirmation' });
      expect((await h.post(body)).status).toBe(502);
      h.certs.confirmStatus = 200;
      expect((await h.post(body)).status).toBe(200);
    } finally {
      h.certs.confirmStatus = 200;
    }
  });

  it('records an UnsubscribeConfirmation', async () => {
    const reply = await h.notify('unsubscribed', { type: 'UnsubscribeConfirmation' });
    expect(reply.status).toBe(200);
    expect(reply.body.outcome).toBe('unsubscribed');
    expect((await rawRow(reply.body.eventId))?.kind).toBe('unsubscribe-confirmation');
  });
});

describe('real SNS certificate URLs', () => {
  const awsCertUrl =
    'https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-9c6465fa7f48f5cacd23014631ec1136.pem';
  let aws: Harness;
  const fetched: string[] = [];
  const awsSigner = makeSigner();
  beforeAll(async () => {
    const signer = awsSigner;
    aws = await startHarness({
      trustedCertUrls: [],
      // Stands in for the download from SNS, which the tests cannot reach.
      fetchCertificate: (url) => {
        fetched.push(url);
        if (url === awsCertUrl) return Promise.resolve(signer.certPem);
        return Promise.reject(new Error('HTTP 404'));
      },
    });
    aws.certs.certs.set('aws-signer', signer.certPem);
  });
  afterAll(async () => {
    await aws.close();
  });

  it('verifies against a certificate from an SNS URL, downloading it once', async () => {
    for (const id of ['wamid.aws1', 'wamid.aws2']) {
      const reply = await aws.notify(hello(id), { certUrl: awsCertUrl, signer: awsSigner, version: '2' });
      expect(reply.status).toBe(200);
    }
    expect(fetched).toEqual([awsCertUrl]);
  });

  it('refuses a forgery without downloading the certificate again', async () => {
    const reply = await aws.notify(hello('wamid.aws-forged'), { certUrl: awsCertUrl, signer: makeSigner() });
    expect(reply.status).toBe(403);
    expect(fetched).toEqual([awsCertUrl]);
  });

  it('does not trust the test certificate server unless told to', async () => {
    const reply = await aws.notify(hello('wamid.aws-local'), { certName: 'aws-signer', signer: awsSigner });
    expect(reply.status).toBe(403);
  });
});
