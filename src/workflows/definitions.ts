/**
 * Signals, queries and updates, defined once: workflows, the client, the ingest service and tests all
 * import these same objects.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';

export enum CampaignState {
  Running = 'running',
  Waiting = 'waiting',
  Paused = 'paused',
  Completed = 'completed',
  Cancelled = 'cancelled',
  Failed = 'failed',
}

export const FINAL_CAMPAIGN_STATES: readonly CampaignState[] = [
  CampaignState.Completed,
  CampaignState.Cancelled,
  CampaignState.Failed,
];

export interface CampaignWorkflowInput {
  campaignId: string;
  phoneNumberId: string;
  templateName: string;
  templateLanguage: string;
  /** ISO time; sending starts no earlier. */
  startAt?: string;
  /** ISO time; what is not sent by then is reported as expired. */
  deadline?: string;
  /** Tuning; defaults suit production. */
  tuning?: Partial<CampaignTuning>;
  /** Control state carried across continue-as-new. */
  carried?: CarriedCampaignState;
}

export interface CampaignTuning {
  /** Longest one send activity runs before reporting back (ms). */
  batchMaxMs: number;
  /** How often the template's status is polled while sending, in case an event is lost (ms). */
  templateCheckEveryMs: number;
  /** First and second template pause lengths (ms): Meta's FIRST_PAUSE and SECOND_PAUSE. */
  firstPauseMs: number;
  secondPauseMs: number;
  /** How often a paused campaign re-checks when no pause length is known (ms). */
  pausePollMs: number;
  /** Longest a campaign sleeps before looking again, even with nothing due (ms). */
  maxIdleMs: number;
}

export const DEFAULT_CAMPAIGN_TUNING: CampaignTuning = {
  batchMaxMs: 60_000,
  templateCheckEveryMs: 5 * 60_000,
  firstPauseMs: 3 * 3600_000,
  secondPauseMs: 6 * 3600_000,
  pausePollMs: 15 * 60_000,
  maxIdleMs: 3600_000,
};

export interface CarriedCampaignState {
  state: CampaignState;
  reason?: string;
  pauseSource?: PauseSource;
  recheckAt?: number;
  templatePauses: number;
  lastTemplateCheckAt?: number;
  batches: number;
}

/** Who paused a campaign: a person (only a person resumes it) or the platform (resumes by itself). */
export enum PauseSource {
  Operator = 'operator',
  Template = 'template',
  Number = 'number',
}

export interface CampaignProgress {
  campaignId: string;
  state: CampaignState;
  reason?: string;
  /** When a waiting or paused campaign looks again (epoch ms). */
  nextCheckAt?: number;
  batches: number;
  lastBatch?: BatchSummary;
}

/** What one send activity reports back. */
export interface BatchSummary {
  sent: number;
  failed: number;
  retryScheduled: number;
  skipped: number;
  ambiguous: number;
  /** Recipients not yet final. */
  remaining: number;
  /** Why the activity returned. */
  outcome: BatchOutcome;
  /** The earliest moment something becomes due (retry, send window, budget), epoch ms. */
  nextDueAt?: number;
  /** When the tier budget next frees up (epoch ms), set with outcome `budget`. */
  budgetResetsAt?: number;
  /** Set with outcome `stop` / `template-paused`. */
  code?: number;
  reason?: string;
}

export enum BatchOutcome {
  /** Nothing left to send. */
  Drained = 'drained',
  /** Recipients remain but none is due yet. */
  NothingDue = 'nothing-due',
  /** The tier budget is spent until `budgetResetsAt`. */
  Budget = 'budget',
  /** Ran for its time slice; more is due. */
  TimeSlice = 'time-slice',
  /** The platform paused the template. */
  TemplatePaused = 'template-paused',
  /** Account- or template-level trouble: the campaign must stop. */
  Stop = 'stop',
}

export interface TemplateStatusSignal {
  templateName: string;
  templateLanguage: string;
  /** APPROVED, PAUSED, DISABLED, REINSTATED, FLAGGED …, or a quality score GREEN/YELLOW/RED. */
  event: string;
  /** other_info.title: FIRST_PAUSE, SECOND_PAUSE, UNPAUSE, DISABLED … */
  detail?: string;
  reason?: string;
}

export interface NumberStatusSignal {
  /** FLAGGED, UNFLAGGED, RESTRICTED, ACCOUNT_RESTRICTION, DISABLED_UPDATE … */
  event: string;
  reason?: string;
  /** True when the campaign must stop rather than pause. */
  stop?: boolean;
}

export interface PauseInput {
  reason?: string;
}
export interface CancelInput {
  reason?: string;
}

export const templateStatusSignal = defineSignal<[TemplateStatusSignal]>('templateStatus');
export const numberStatusSignal = defineSignal<[NumberStatusSignal]>('numberStatus');
export const campaignProgressQuery = defineQuery<CampaignProgress>('campaignProgress');
export const pauseCampaignUpdate = defineUpdate<CampaignState, [PauseInput]>('pauseCampaign');
export const resumeCampaignUpdate = defineUpdate<CampaignState, []>('resumeCampaign');
export const cancelCampaignUpdate = defineUpdate<CampaignState, [CancelInput]>('cancelCampaign');

export interface NumberWorkflowInput {
  phoneNumberId: string;
  carried?: NumberCarriedState;
}

export interface NumberCarriedState {
  restricted?: { event: string; reason?: string };
}

export interface SetRateInput {
  mps: number;
}

export interface NumberStatus {
  phoneNumberId: string;
  mps?: number;
  restricted?: { event: string; reason?: string };
}

export const setRateUpdate = defineUpdate<NumberStatus, [SetRateInput]>('setRate');
export const numberStatusQuery = defineQuery<NumberStatus>('numberStatus');
