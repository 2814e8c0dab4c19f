import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { sql } from 'drizzle-orm';
import type { Database, DatabaseHandle } from '../../../src/db/client';
import { queryRows } from '../../../src/db/query';
import {
  startIngestService,
  type IngestService,
  type IngestServiceOptions,
} from '../../../src/ingest/service';
import { openTestDatabase } from '../../helpers/databases';
import { quietLogger } from '../../helpers/logger';
import { TOPIC_ARN } from './events';
import { CertServer, makeSigner, signSns, type TestSigner } from './sns-signing';

/** One call a workflow would have received. */
export interface SignalCall {
  workflowId: string;
  signal: string;
  payload: unknown;
  /** Set for signal-with-start. */
  start?: { workflowType: string; args: unknown[]; taskQueue: string };
}

/**
 * Stands in for @temporalio/client: records signals, and can be told to fail (Temporal down) or to
 * report a workflow as not found (a finished campaign).
 */
export class FakeTemporal {
  readonly calls: SignalCall[] = [];
  down = false;
  readonly missing = new Set<string>();

  private check(workflowId: string): void {
    if (this.down) throw new Error('14 UNAVAILABLE: connection refused');
    if (this.missing.has(workflowId))
      throw new WorkflowNotFoundError('workflow not found', workflowId, undefined);
  }

  readonly workflow = {
    getHandle: (workflowId: string) => ({
      signal: async (signal: string | { name: string }, payload: unknown) => {
        await Promise.resolve();
        this.check(workflowId);
        this.calls.push({ workflowId, signal: typeof signal === 'string' ? signal : signal.name, payload });
      },
    }),
    signalWithStart: async (
      workflowType: string,
      o: { workflowId: string; taskQueue: string; args: unknown[]; signal: string; signalArgs: unknown[] },
    ) => {
      await Promise.resolve();
      if (this.down) throw new Error('14 UNAVAILABLE: connection refused');
      this.calls.push({
        workflowId: o.workflowId,
        signal: o.signal,
        payload: o.signalArgs[0],
        start: { workflowType, args: o.args, taskQueue: o.taskQueue },
      });
      return { workflowId: o.workflowId };
    },
  };
}

export interface NotifyOptions {
  messageId?: string;
  topicArn?: string;
  version?: '1' | '2';
  timestamp?: string;
  /** Which served certificate the message names (default `main`). */
  certName?: string;
  /** Overrides SigningCertURL entirely. */
  certUrl?: string;
  /** Signs with this key instead of the one behind the certificate. */
  signer?: TestSigner;
  /** Changes the body after signing. */
  tamper?: (body: Record<string, string>) => void;
  type?: 'Notification' | 'SubscriptionConfirmation' | 'UnsubscribeConfirmation';
  subscribeUrl?: string;
}

export interface Reply {
  status: number;
  body: { outcome?: string; kind?: string; eventId?: number; detail?: string };
}

export interface Harness {
  handle: DatabaseHandle;
  db: Database;
  service: IngestService;
  certs: CertServer;
  signer: TestSigner;
  temporal: FakeTemporal;
  url: string;
  /** Builds, signs and POSTs an SNS message carrying `message`. */
  notify(message: string, opts?: NotifyOptions): Promise<Reply>;
  /** POSTs a prepared SNS body (a redelivery). */
  post(body: unknown): Promise<Reply>;
  /** Builds and signs without sending. */
  build(message: string, opts?: NotifyOptions): Record<string, string>;
  rows<T>(query: ReturnType<typeof sql>): Promise<T[]>;
  close(): Promise<void>;
}

export interface HarnessOptions extends Partial<Omit<IngestServiceOptions, 'db' | 'temporal'>> {
  /** Without Temporal, no signals are queued. */
  withTemporal?: boolean;
  /** Wraps the database the service sees (fault injection). */
  wrapDb?: (db: Database) => Database;
}

/**
 * An empty database for one harness: in-memory PGlite, or, when INGEST_TEST_DATABASE_URL names a
 * PostgreSQL server, a fresh database created on it (and dropped on close), so the same tests also run
 * against the driver used in production.
 */
export function openIngestTestDatabase(): Promise<DatabaseHandle> {
  const adminUrl = process.env.INGEST_TEST_DATABASE_URL;
  return adminUrl
    ? openTestDatabase('postgres', { adminUrl, label: 'ingest_test' })
    : openTestDatabase('pglite');
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const { withTemporal = true, wrapDb, ...serviceOptions } = options;
  const handle = await openIngestTestDatabase();
  const certs = await new CertServer().start();
  const signer = makeSigner();
  certs.certs.set('main', signer.certPem);
  const temporal = new FakeTemporal();
  const service = await startIngestService({
    db: wrapDb ? wrapDb(handle.db) : handle.db,
    // The fake covers only the two calls the dispatcher makes.
    ...(withTemporal ? { temporal: temporal as unknown as Client } : {}),
    taskQueue: 'test-queue',
    host: '127.0.0.1',
    port: 0,
    allowedTopicArns: [TOPIC_ARN],
    trustedCertUrls: [`${certs.baseUrl}/certs/*`],
    logger: quietLogger,
    signalSweepMs: 60_000,
    shutdownGraceMs: 2_000,
    ...serviceOptions,
  });
  const url = `http://127.0.0.1:${service.port}/sns`;

  const build = (message: string, o: NotifyOptions = {}): Record<string, string> => {
    const type = o.type ?? 'Notification';
    const topic = o.topicArn ?? TOPIC_ARN;
    const fields: Record<string, string> = {
      Type: type,
      MessageId: o.messageId ?? randomUUID(),
      TopicArn: topic,
      Message: message,
      Timestamp: o.timestamp ?? new Date().toISOString(),
      SignatureVersion: o.version ?? '1',
      SigningCertURL: o.certUrl ?? certs.certUrl(o.certName ?? 'main'),
    };
    if (type !== 'Notification') {
      fields.Token = randomUUID().replace(/-/g, '');
      fields.SubscribeURL =
        o.subscribeUrl ??
        `${certs.baseUrl}/confirm?TopicArn=${encodeURIComponent(topic)}&Token=${fields.Token}`;
    } else {
      fields.UnsubscribeURL = `${certs.baseUrl}/unsubscribe`;
    }
    fields.Signature = signSns(fields, o.signer ?? signer, o.version ?? '1');
    o.tamper?.(fields);
    return fields;
  };

  const post = async (body: unknown): Promise<Reply> => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'text/plain; charset=UTF-8' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Reply['body'] };
  };

  return {
    handle,
    db: handle.db,
    service,
    certs,
    signer,
    temporal,
    url,
    build,
    post,
    notify: (message, o) => post(build(message, o)),
    rows: (query) => queryRows(handle.db, query),
    close: async () => {
      await service.close();
      await certs.close();
      await handle.close();
    },
  };
}

/** Inserts a campaign and its recipients (seq 0…n-1) the way the client would have imported them. */
export async function seedCampaign(
  db: Database,
  c: {
    id: string;
    phones: string[];
    template?: string;
    language?: string;
    phoneNumberId?: string;
    state?: string;
    deadline?: Date;
    category?: string;
  },
): Promise<void> {
  await db.execute(
    sql`insert into campaigns (id, template_name, template_language, category, phone_number_id, state, total, deadline)
        values (${c.id}, ${c.template ?? 'spring_sale'}, ${c.language ?? 'en_US'}, ${c.category ?? 'MARKETING'},
                ${c.phoneNumberId ?? 'phone-number-id-0000'}, ${c.state ?? 'running'}, ${c.phones.length},
                ${c.deadline?.toISOString() ?? null}::timestamptz)`,
  );
  for (const [seq, phone] of c.phones.entries()) {
    await db.execute(
      sql`insert into recipients (campaign_id, seq, phone) values (${c.id}, ${seq}, ${phone})`,
    );
  }
}

/** Puts a recipient into a state, as the send activity would have left it. */
export async function setRecipient(
  db: Database,
  campaignId: string,
  seq: number,
  patch: { state: string; messageId?: string | null; attempts?: number },
): Promise<void> {
  await db.execute(
    sql`update recipients set state = ${patch.state}, message_id = ${patch.messageId ?? null},
          attempts = ${patch.attempts ?? 1}, sending_since = ${patch.state === 'sending' ? new Date().toISOString() : null}::timestamptz
        where campaign_id = ${campaignId} and seq = ${seq}`,
  );
}

export interface RecipientView {
  state: string;
  message_id: string | null;
  error_code: number | null;
  error_message: string | null;
  attempts: number;
  next_attempt_at: Date | null;
  sent_at: Date | null;
  delivered_at: Date | null;
  read_at: Date | null;
  failed_at: Date | null;
}

export async function recipient(db: Database, campaignId: string, seq: number): Promise<RecipientView> {
  const [row] = await queryRows<RecipientView>(
    db,
    sql`select state, message_id, error_code, error_message, attempts, next_attempt_at, sent_at, delivered_at,
               read_at, failed_at
        from recipients where campaign_id = ${campaignId} and seq = ${seq}`,
  );
  if (!row) throw new Error(`no recipient ${campaignId}/${seq}`);
  return row;
}
