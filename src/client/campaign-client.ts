import { randomBytes } from 'node:crypto';
import type { Writable } from 'node:stream';
import { ResourceNotFoundException, type SocialMessagingClient } from '@aws-sdk/client-socialmessaging';
import { WithStartWorkflowOperation, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { stringify } from 'csv-stringify';
import { desc, eq, sql } from 'drizzle-orm';
import { campaignCounts, type CampaignCounts } from '../db/campaigns';
import type { Database } from '../db/client';
import { ensureNumber, tierScopeKey, updateNumber, type NumberRow } from '../db/numbers';
import { queryRows } from '../db/query';
import { campaigns } from '../db/schema';
import { tierUsage, type TierUsage } from '../db/tier';
import { findTemplate, templateBlocker, wabaIdForNumber, type TemplateInfo } from '../platform/templates';
import { DEFAULT_TASK_QUEUE, campaignWorkflowId, numberWorkflowId } from '../shared/ids';
import { parseSendWindow, type SendWindow } from '../shared/send-window';
import type { campaignWorkflow } from '../workflows/campaign';
import type { numberWorkflow } from '../workflows/number';
import {
  CampaignState,
  DEFAULT_PACE_SAFETY,
  FINAL_CAMPAIGN_STATES,
  cancelCampaignUpdate,
  campaignProgressQuery,
  pauseCampaignUpdate,
  resumeCampaignUpdate,
  setRateUpdate,
  type CampaignProgress,
  type CampaignTuning,
  type NumberStatus,
} from '../workflows/definitions';
import {
  DUPLICATE,
  OPTED_OUT,
  importRecipients,
  listRejections,
  rowProblem,
  suppressedAmong,
  type Rejection,
} from './import';
import { estimateDuration, openWindowsAmong } from './plan';
import { openRecipientFile, type RecipientFile } from './recipients';

export type Category = 'MARKETING' | 'UTILITY' | 'AUTHENTICATION';

export interface StartCampaignInput {
  templateName: string;
  templateLanguage: string;
  phoneNumberId: string;
  recipientsFile: string;
  category?: Category;
  /** ISO time. */
  startAt?: string;
  /** Local send window, e.g. "09:00-20:00". */
  sendWindow?: string;
  /** ISO time. */
  deadline?: string;
  name?: string;
  /** Country for numbers written without +prefix. */
  defaultCountry?: string;
  /**
   * What happens to a recipient whose send got no answer and no status event: `at-most-once` (default)
   * records it as unknown, `at-least-once` sends it again.
   */
  ambiguityPolicy?: 'at-most-once' | 'at-least-once';
  /** Chosen by the caller to make a retried start idempotent; generated otherwise. */
  campaignId?: string;
  tuning?: Partial<CampaignTuning>;
  onImportProgress?: (p: { read: number; accepted: number; rejected: number }) => void;
}

export interface StartCampaignResult {
  campaignId: string;
  accepted: number;
  rejected: number;
  /** The first rejected rows with their reasons (all are kept in the database). */
  rejections: Rejection[];
}

export interface CampaignStatus {
  campaignId: string;
  state: string;
  reason?: string;
  counts: CampaignCounts;
  tier: { used: number; limit: number | null; resetsAt?: string };
  /** Estimated finish, ISO, while the campaign is not finished. */
  eta?: string;
  nextCheckAt?: string;
  template: { name: string; language: string };
  phoneNumberId: string;
}

export interface CampaignPlan {
  template: TemplateInfo;
  number: Pick<NumberRow, 'phoneNumberId' | 'mps' | 'tierLimit' | 'tierWindowSeconds'>;
  rows: number;
  valid: number;
  rejected: Rejection[];
  rejectedCount: number;
  /** Valid recipients with an open customer-service window: they cost no tier budget. */
  openServiceWindows: number;
  tier: TierUsage;
  etaSeconds: number;
  eta: string;
  assumptions: string[];
}

export interface CampaignListItem {
  campaignId: string;
  state: string;
  template: string;
  phoneNumberId: string;
  total: number;
  createdAt: string;
}

/** The input is wrong in a way the user can fix; nothing was started. */
export class CampaignInputError extends Error {
  override name = 'CampaignInputError';
}

export interface CampaignClientDeps {
  db: Database;
  temporal: Client;
  socialMessaging: SocialMessagingClient;
  taskQueue?: string;
  paceSafety?: number;
}

const SHOWN_REJECTIONS = 20;

/** The typed API that scripts and the CLI use to run campaigns. */
export class CampaignClient {
  private readonly taskQueue: string;

  constructor(private readonly deps: CampaignClientDeps) {
    this.taskQueue = deps.taskQueue ?? DEFAULT_TASK_QUEUE;
  }

  /** Checks the template and number on the platform; throws CampaignInputError when they cannot be used. */
  async preflight(
    input: Pick<StartCampaignInput, 'phoneNumberId' | 'templateName' | 'templateLanguage' | 'category'>,
  ) {
    let wabaId: string;
    try {
      wabaId = await wabaIdForNumber(this.deps.socialMessaging, input.phoneNumberId);
    } catch (err) {
      if (err instanceof ResourceNotFoundException) {
        throw new CampaignInputError(
          `--from ${input.phoneNumberId}: no such sending number in this AWS account`,
        );
      }
      throw err;
    }
    const template = await findTemplate(
      this.deps.socialMessaging,
      wabaId,
      input.templateName,
      input.templateLanguage,
    );
    if (!template) {
      throw new CampaignInputError(
        `--template ${input.templateName} --language ${input.templateLanguage}: no such template in WABA ${wabaId}`,
      );
    }
    const blocker = templateBlocker(template);
    if (blocker)
      throw new CampaignInputError(`${blocker}; only an approved template of good quality can be sent`);
    if (input.category && template.category && template.category !== input.category) {
      throw new CampaignInputError(
        `--category ${input.category.toLowerCase()}: template ${template.name} is a ${template.category.toLowerCase()} template`,
      );
    }
    const number = await ensureNumber(this.deps.db, input.phoneNumberId);
    if (!number.wabaId) await updateNumber(this.deps.db, input.phoneNumberId, { wabaId });
    return { template, number };
  }

  /** Checks everything, imports the recipients and starts the campaign's workflow. */
  async start(input: StartCampaignInput): Promise<StartCampaignResult> {
    const schedule = checkSchedule(input);
    const { template } = await this.preflight(input);
    const category = input.category ?? (template.category as Category | undefined) ?? 'MARKETING';
    const file = await openRecipientFile(input.recipientsFile, { defaultCountry: input.defaultCountry });
    checkParameterColumns(input.recipientsFile, file, template);
    const campaignId = input.campaignId ?? newCampaignId();
    await this.deps.db.insert(campaigns).values({
      id: campaignId,
      name: input.name ?? null,
      templateName: input.templateName,
      templateLanguage: input.templateLanguage,
      category,
      phoneNumberId: input.phoneNumberId,
      state: 'importing',
      startAt: schedule.startAt ?? null,
      deadline: schedule.deadline ?? null,
      windowStartMin: schedule.window?.startMin ?? null,
      windowEndMin: schedule.window?.endMin ?? null,
      ambiguityPolicy: input.ambiguityPolicy ?? 'at-most-once',
    });
    const imported = await importRecipients(this.deps.db, file, {
      campaignId,
      expectedParams: template.bodyParameters,
      dropSuppressed: category === 'MARKETING',
      onProgress: input.onImportProgress,
    });
    const rejections = await listRejections(this.deps.db, campaignId, SHOWN_REJECTIONS);
    if (imported.accepted === 0) {
      await this.deps.db
        .update(campaigns)
        .set({ state: CampaignState.Failed, reason: 'no valid recipients', rejected: imported.rejected })
        .where(eq(campaigns.id, campaignId));
      const first = rejections[0];
      throw new CampaignInputError(
        `${input.recipientsFile}: no valid recipients (${imported.rejected} rows rejected` +
          `${first ? `; line ${first.line}: ${first.reason}` : ''})`,
      );
    }
    await this.deps.db
      .update(campaigns)
      .set({ state: CampaignState.Running, total: imported.accepted, rejected: imported.rejected })
      .where(eq(campaigns.id, campaignId));
    await this.deps.temporal.workflow.start<typeof campaignWorkflow>('campaignWorkflow', {
      workflowId: campaignWorkflowId(campaignId),
      taskQueue: this.taskQueue,
      args: [
        {
          campaignId,
          phoneNumberId: input.phoneNumberId,
          templateName: input.templateName,
          templateLanguage: input.templateLanguage,
          startAt: schedule.startAt?.toISOString(),
          deadline: schedule.deadline?.toISOString(),
          tuning: input.tuning,
        },
      ],
    });
    return { campaignId, accepted: imported.accepted, rejected: imported.rejected, rejections };
  }

  /**
   * Everything `start` checks, plus an estimate of how long sending takes (tier, throughput, open service
   * windows, send windows), without importing or sending anything.
   */
  async plan(input: StartCampaignInput): Promise<CampaignPlan> {
    const schedule = checkSchedule(input);
    const { template, number } = await this.preflight(input);
    const category = input.category ?? (template.category as Category | undefined) ?? 'MARKETING';
    const file = await openRecipientFile(input.recipientsFile, { defaultCountry: input.defaultCountry });
    checkParameterColumns(input.recipientsFile, file, template);
    const now = Date.now();
    const seen = new Set<string>();
    const rejected: Rejection[] = [];
    let rejectedCount = 0;
    let rows = 0;
    let valid = 0;
    let openWindows = 0;
    let batch: { line: number; raw: string; phone: string }[] = [];
    const reject = (r: Rejection) => {
      rejectedCount++;
      if (rejected.length < SHOWN_REJECTIONS) rejected.push(r);
    };
    const flush = async () => {
      if (batch.length === 0) return;
      const phones = batch.map((b) => b.phone);
      const stopped =
        category === 'MARKETING' ? await suppressedAmong(this.deps.db, phones) : new Set<string>();
      const open = await openWindowsAmong(this.deps.db, number.phoneNumberId, phones, now);
      for (const b of batch) {
        if (stopped.has(b.phone)) reject({ line: b.line, input: b.raw, reason: OPTED_OUT });
        else {
          valid++;
          if (open.has(b.phone)) openWindows++;
        }
      }
      batch = [];
    };
    for await (const row of file.rows) {
      rows++;
      const problem = rowProblem(row, template.bodyParameters);
      if (problem) reject({ line: row.line, input: row.raw, reason: problem });
      else if (seen.has(row.phone!)) reject({ line: row.line, input: row.raw, reason: DUPLICATE });
      else {
        seen.add(row.phone!);
        batch.push({ line: row.line, raw: row.raw, phone: row.phone! });
        if (batch.length >= 2_000) await flush();
      }
    }
    await flush();

    const windowMs = number.tierWindowSeconds * 1000;
    const tier = await tierUsage(this.deps.db, tierScopeKey(number), number.tierLimit, windowMs, now);
    const estimate = estimateDuration({
      recipients: valid,
      free: openWindows,
      rate: number.mps * (this.deps.paceSafety ?? DEFAULT_PACE_SAFETY),
      tierLimit: number.tierLimit,
      tierUsed: tier.used,
      windowMs,
      sendWindow: schedule.window,
    });
    const startMs = Math.max(now, schedule.startAt?.getTime() ?? now);
    return {
      template,
      number: {
        phoneNumberId: number.phoneNumberId,
        mps: number.mps,
        tierLimit: number.tierLimit,
        tierWindowSeconds: number.tierWindowSeconds,
      },
      rows,
      valid,
      rejected,
      rejectedCount,
      openServiceWindows: openWindows,
      tier,
      etaSeconds: Math.round(estimate.ms / 1000),
      eta: iso(startMs + estimate.ms),
      assumptions: estimate.assumptions,
    };
  }

  /** Where a campaign stands: its state from the workflow, its counts and tier from the database. */
  async status(campaignId: string): Promise<CampaignStatus> {
    const row = await this.campaignRow(campaignId);
    const counts = await campaignCounts(this.deps.db, campaignId);
    let progress: CampaignProgress | undefined;
    if (!FINAL_CAMPAIGN_STATES.includes(row.state as CampaignState)) {
      try {
        progress = await this.handle(campaignId).query(campaignProgressQuery);
      } catch (err) {
        if (!(err instanceof WorkflowNotFoundError)) throw err;
      }
    }
    const number = await ensureNumber(this.deps.db, row.phoneNumberId);
    const now = Date.now();
    const tier = await tierUsage(
      this.deps.db,
      tierScopeKey(number),
      number.tierLimit,
      number.tierWindowSeconds * 1000,
      now,
    );
    const state = progress?.state ?? row.state;
    const final = FINAL_CAMPAIGN_STATES.includes(state as CampaignState);
    const rate = number.mps * (this.deps.paceSafety ?? DEFAULT_PACE_SAFETY);
    return {
      campaignId,
      state,
      ...((progress?.reason ?? row.reason) ? { reason: progress?.reason ?? row.reason ?? undefined } : {}),
      counts,
      tier: {
        used: tier.used,
        limit: tier.limit,
        ...(tier.resetsAt ? { resetsAt: iso(tier.resetsAt) } : {}),
      },
      ...(!final && counts.pending > 0 ? { eta: iso(now + (counts.pending / rate) * 1000) } : {}),
      ...(progress?.nextCheckAt ? { nextCheckAt: iso(progress.nextCheckAt) } : {}),
      template: { name: row.templateName, language: row.templateLanguage },
      phoneNumberId: row.phoneNumberId,
    };
  }

  async pause(campaignId: string, reason?: string): Promise<string> {
    return this.control(campaignId, 'pause', (h) =>
      h.executeUpdate(pauseCampaignUpdate, { args: [{ reason }] }),
    );
  }

  async resume(campaignId: string): Promise<string> {
    return this.control(campaignId, 'resume', (h) => h.executeUpdate(resumeCampaignUpdate, { args: [] }));
  }

  /** Cancels and waits until the workflow has given every unsent recipient a final state. */
  async cancel(campaignId: string, reason?: string): Promise<CampaignStatus> {
    await this.control(campaignId, 'cancel', async (h) => {
      await h.executeUpdate(cancelCampaignUpdate, { args: [{ reason }] });
      await h.result();
    });
    return this.status(campaignId);
  }

  /**
   * Runs a control update on a campaign that can still take it. A finished campaign (already so, or
   * finishing while the update was on its way) is answered with its state, not Temporal's words.
   */
  private async control<T>(
    campaignId: string,
    action: string,
    run: (handle: ReturnType<CampaignClient['handle']>) => Promise<T>,
  ): Promise<T> {
    const finished = async (): Promise<CampaignInputError | undefined> => {
      const row = await this.campaignRow(campaignId);
      if (!FINAL_CAMPAIGN_STATES.includes(row.state as CampaignState)) return undefined;
      const why = row.reason ? ` (${row.reason})` : '';
      return new CampaignInputError(
        `campaign ${campaignId} has already ${row.state}${why}: there is nothing to ${action}`,
      );
    };
    const before = await finished();
    if (before) throw before;
    try {
      return await run(this.handle(campaignId));
    } catch (err) {
      throw (await finished()) ?? err;
    }
  }

  /** Waits for the campaign's workflow to finish and returns the final status. */
  async waitForEnd(campaignId: string): Promise<CampaignStatus> {
    await this.handle(campaignId).result();
    return this.status(campaignId);
  }

  async list(limit = 50): Promise<CampaignListItem[]> {
    const rows = await this.deps.db.select().from(campaigns).orderBy(desc(campaigns.createdAt)).limit(limit);
    return rows.map((r) => ({
      campaignId: r.id,
      state: r.state,
      template: `${r.templateName}/${r.templateLanguage}`,
      phoneNumberId: r.phoneNumberId,
      total: r.total,
      createdAt: r.createdAt.toISOString(),
    }));
  }

  async rejections(campaignId: string, limit?: number): Promise<Rejection[]> {
    await this.campaignRow(campaignId);
    return listRejections(this.deps.db, campaignId, limit);
  }

  /** Writes one CSV line per recipient (state, message id, error, timestamps), paging through the table. */
  async report(campaignId: string, out: Writable): Promise<number> {
    await this.campaignRow(campaignId);
    const csv = stringify({
      header: true,
      columns: [
        'line',
        'phone',
        'state',
        'message_id',
        'error_code',
        'error_message',
        'attempts',
        'sent_at',
        'delivered_at',
        'read_at',
        'failed_at',
      ],
    });
    csv.pipe(out);
    let after = -1;
    let written = 0;
    for (;;) {
      const page = await queryRows<Record<string, unknown>>(
        this.deps.db,
        sql`select seq as line, phone, state, message_id, error_code, error_message, attempts,
                   sent_at, delivered_at, read_at, failed_at
            from recipients where campaign_id = ${campaignId} and seq > ${after} order by seq limit 5000`,
      );
      if (page.length === 0) break;
      for (const row of page) {
        const line = Number(row.line);
        after = line;
        const ok = csv.write(
          Object.fromEntries(
            Object.entries(row).map(([k, v]) => [k, v instanceof Date ? v.toISOString() : v]),
          ),
        );
        if (!ok) await new Promise((resolve) => csv.once('drain', resolve));
        written++;
      }
    }
    await new Promise<void>((resolve, reject) => {
      out.once('error', reject);
      csv.end(() => resolve());
    });
    return written;
  }

  /** Changes a number's sending rate at run time, through its workflow (started if needed). */
  async setRate(phoneNumberId: string, mps: number): Promise<NumberStatus> {
    return this.deps.temporal.workflow.executeUpdateWithStart(setRateUpdate, {
      args: [{ mps }],
      startWorkflowOperation: this.numberStart(phoneNumberId),
    });
  }

  private numberStart(phoneNumberId: string) {
    return new WithStartWorkflowOperation<typeof numberWorkflow>('numberWorkflow', {
      workflowId: numberWorkflowId(phoneNumberId),
      taskQueue: this.taskQueue,
      args: [{ phoneNumberId }],
      workflowIdConflictPolicy: 'USE_EXISTING',
    });
  }

  private handle(campaignId: string) {
    return this.deps.temporal.workflow.getHandle<typeof campaignWorkflow>(campaignWorkflowId(campaignId));
  }

  private async campaignRow(campaignId: string) {
    const [row] = await this.deps.db.select().from(campaigns).where(eq(campaigns.id, campaignId));
    if (!row) throw new CampaignInputError(`no campaign with id ${campaignId}`);
    return row;
  }
}

function checkSchedule(input: StartCampaignInput): { startAt?: Date; deadline?: Date; window?: SendWindow } {
  const startAt = input.startAt ? parseIso('--start-at', input.startAt) : undefined;
  const deadline = input.deadline ? parseIso('--deadline', input.deadline) : undefined;
  if (deadline && deadline.getTime() <= Date.now()) {
    throw new CampaignInputError(`--deadline ${input.deadline}: the deadline has already passed`);
  }
  if (deadline && startAt && deadline <= startAt) {
    throw new CampaignInputError(`--deadline ${input.deadline}: must be after --start-at ${input.startAt}`);
  }
  let window: SendWindow | undefined;
  if (input.sendWindow) {
    try {
      window = parseSendWindow(input.sendWindow);
    } catch (err) {
      throw new CampaignInputError(`--send-window: ${(err as Error).message}`);
    }
  }
  return { startAt, deadline, window };
}

/**
 * A CSV header must name as many parameter columns as the template takes; `start` and `plan` both refuse
 * the file with this one message.
 */
function checkParameterColumns(path: string, file: RecipientFile, template: TemplateInfo): void {
  if (file.format === 'csv' && file.parameterColumns.length !== template.bodyParameters) {
    throw new CampaignInputError(
      `${path}: template ${template.name} takes ${template.bodyParameters} body parameters, ` +
        `the file has ${file.parameterColumns.length} parameter columns (${file.parameterColumns.join(', ') || 'none'})`,
    );
  }
}

function parseIso(flag: string, value: string): Date {
  const ms = Date.parse(value);
  if (Number.isNaN(ms))
    throw new CampaignInputError(`${flag} ${value}: not a date; use ISO 8601, e.g. 2026-12-01T09:00:00Z`);
  return new Date(ms);
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** Sortable, unguessable campaign ids: cmp_<time><random>. */
export function newCampaignId(): string {
  return `cmp_${Date.now().toString(36)}${randomBytes(5).toString('hex')}`;
}
