import {
  ActivityCancellationType,
  ApplicationFailure,
  CancellationScope,
  allHandlersFinished,
  condition,
  continueAsNew,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { isClearedNumberEvent } from '../shared/number-events';
import {
  BatchOutcome,
  CampaignState,
  DEFAULT_CAMPAIGN_TUNING,
  FINAL_CAMPAIGN_STATES,
  PauseSource,
  type BatchSummary,
  type CancelInput,
  type PauseInput,
  type CampaignWorkflowInput,
  type CarriedCampaignState,
  type TemplateStatusSignal,
} from '../shared/workflow-contracts';
import {
  cancelCampaignUpdate,
  campaignProgressQuery,
  numberStatusSignal,
  pauseCampaignUpdate,
  resumeCampaignUpdate,
  templateStatusSignal,
} from './definitions';

// Sending: one activity runs for up to a time slice and heartbeats every chunk. A dead worker is noticed
// by the heartbeat timeout (tuning.sendHeartbeatTimeoutMs, 30 s by default; read from the input, so
// replay sees the same value); cancellation (pause, cancel) reaches the activity through its heartbeat,
// and the workflow waits for it to finish so every recipient is in a known state before the pause is
// reported. Attempts are bounded: a worker that dies mid-batch or a database restart costs an attempt or
// two, and twenty attempts up to a minute apart ride out about a quarter of an hour of trouble, while a
// fault that fails every attempt (a bug, a broken deployment) fails the workflow where an operator sees it
// instead of retrying unseen for ever. What no retry can fix (a campaign missing from the database) the
// activity marks non-retryable.
function sendingActivities(heartbeatTimeoutMs: number) {
  return proxyActivities<Activities>({
    startToCloseTimeout: '10 minutes',
    heartbeatTimeout: heartbeatTimeoutMs,
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: {
      initialInterval: '1 second',
      maximumInterval: '1 minute',
      backoffCoefficient: 2,
      maximumAttempts: 20,
    },
  });
}

// Bookkeeping and platform look-ups: short, idempotent, retried until the database or AWS answers.
const bookkeeping = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', backoffCoefficient: 2 },
});

// A template look-up that keeps failing must not stop a campaign: a few tries, then carry on.
const lookups = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumAttempts: 3 },
});

export interface CampaignResult {
  campaignId: string;
  state: CampaignState;
  reason?: string;
}

/** An operator's request the campaign's state does not allow, refused by the update's validator. */
const refused = (message: string) =>
  ApplicationFailure.create({ type: 'CampaignControlRefused', message, nonRetryable: true });

const TEMPLATE_RESUME_EVENTS = new Set(['APPROVED', 'REINSTATED', 'UNPAUSE', 'GREEN', 'YELLOW']);

/** One campaign: waits for its start, sends in paced batches, reacts to trouble and controls, reports. */
export async function campaignWorkflow(input: CampaignWorkflowInput): Promise<CampaignResult> {
  const tuning = { ...DEFAULT_CAMPAIGN_TUNING, ...input.tuning };
  const sending = sendingActivities(tuning.sendHeartbeatTimeoutMs);
  const s: CarriedCampaignState = input.carried ?? {
    state: CampaignState.Running,
    templatePauses: 0,
    batches: 0,
  };
  const deadlineMs = input.deadline ? Date.parse(input.deadline) : undefined;
  let lastBatch: BatchSummary | undefined;
  let nextCheckAt: number | undefined;
  let stop: { state: CampaignState; reason: string; closeAs: 'cancelled' | 'expired' } | undefined;
  let sendScope: CancellationScope | undefined;
  // Bumped by every signal and update, so a sleep can wake for anything new.
  let changes = 0;
  let recorded: { state: CampaignState; reason?: string } | undefined;

  const isFinal = () => FINAL_CAMPAIGN_STATES.includes(s.state);
  // A function, not an inline test: handlers change the state while this code awaits.
  const isPaused = () => s.state === CampaignState.Paused;
  const brakeSending = () => sendScope?.cancel();

  const pause = (source: PauseSource, reason: string, recheckAt?: number) => {
    // An operator's pause is only lifted by an operator.
    if (
      s.state === CampaignState.Paused &&
      s.pauseSource === PauseSource.Operator &&
      source !== PauseSource.Operator
    )
      return;
    s.state = CampaignState.Paused;
    s.pauseSource = source;
    s.reason = reason;
    s.recheckAt = recheckAt;
    changes++;
    brakeSending();
  };
  const resume = (source?: PauseSource) => {
    if (s.state !== CampaignState.Paused) return;
    if (source !== undefined && s.pauseSource !== source) return;
    s.state = CampaignState.Running;
    s.pauseSource = undefined;
    s.reason = undefined;
    s.recheckAt = undefined;
    changes++;
  };
  const requestStop = (state: CampaignState, reason: string) => {
    stop ??= { state, reason, closeAs: 'cancelled' };
    changes++;
    brakeSending();
  };

  const onTemplateEvent = (e: TemplateStatusSignal) => {
    if (
      e.templateName !== input.templateName ||
      e.templateLanguage.toLowerCase() !== input.templateLanguage.toLowerCase()
    ) {
      return;
    }
    const event = e.event.toUpperCase();
    const detail = e.detail?.toUpperCase();
    if (event === 'DISABLED' || detail === 'DISABLED') {
      requestStop(
        CampaignState.Failed,
        `template ${input.templateName} was disabled${e.reason ? `: ${e.reason}` : ''}`,
      );
    } else if (event === 'PAUSED') {
      const second = detail === 'SECOND_PAUSE' || (detail !== 'FIRST_PAUSE' && s.templatePauses >= 1);
      s.templatePauses++;
      const length = second ? tuning.secondPauseMs : tuning.firstPauseMs;
      pause(
        PauseSource.Template,
        `template paused by Meta (${second ? 'second' : 'first'} pause)`,
        Date.now() + length,
      );
    } else if (event === 'RED') {
      pause(PauseSource.Template, 'template quality dropped to RED', Date.now() + tuning.pausePollMs);
    } else if (TEMPLATE_RESUME_EVENTS.has(event) || detail === 'UNPAUSE') {
      resume(PauseSource.Template);
    }
  };

  setHandler(campaignProgressQuery, () => ({
    campaignId: input.campaignId,
    state: s.state,
    reason: s.reason,
    nextCheckAt: s.state === CampaignState.Paused ? s.recheckAt : nextCheckAt,
    batches: s.batches,
    lastBatch,
  }));
  setHandler(templateStatusSignal, onTemplateEvent);
  setHandler(numberStatusSignal, (e) => {
    if (e.stop) requestStop(CampaignState.Failed, e.reason ?? `account problem: ${e.event}`);
    else if (isClearedNumberEvent(e)) resume(PauseSource.Number);
    else pause(PauseSource.Number, e.reason ?? `number status ${e.event}`);
  });
  setHandler(
    pauseCampaignUpdate,
    ({ reason }) => {
      pause(PauseSource.Operator, reason ?? 'paused by operator');
      return s.state;
    },
    { validator: (_input: PauseInput) => assertNotFinal('paused') },
  );
  setHandler(
    resumeCampaignUpdate,
    () => {
      resume();
      return s.state;
    },
    {
      validator: () => {
        assertNotFinal('resumed');
        if (s.state !== CampaignState.Paused) throw refused(`campaign is ${s.state}, not paused`);
      },
    },
  );
  setHandler(
    cancelCampaignUpdate,
    ({ reason }) => {
      requestStop(CampaignState.Cancelled, reason ?? 'cancelled by operator');
      return CampaignState.Cancelled;
    },
    { validator: (_input: CancelInput) => assertNotFinal('cancelled') },
  );

  function assertNotFinal(verb: string): void {
    if (isFinal() || stop)
      throw refused(`campaign is already ${stop?.state ?? s.state} and cannot be ${verb}`);
  }

  /** Mirrors the state into the database when it changes. */
  async function publish(): Promise<void> {
    if (recorded?.state === s.state && recorded.reason === s.reason) return;
    recorded = { state: s.state, reason: s.reason };
    await bookkeeping.recordCampaignState({ campaignId: input.campaignId, state: s.state, reason: s.reason });
  }

  /**
   * Sleeps until `untilMs` (or a while, if nothing is known), the deadline, or any signal or update. With
   * `skipIfPast`, a time already reached costs no timer (a server timer fires a second late at best).
   */
  async function sleepUntil(untilMs: number | undefined, skipIfPast = false): Promise<void> {
    const seen = changes;
    const capped = Math.min(untilMs ?? Date.now() + tuning.maxIdleMs, deadlineMs ?? Number.POSITIVE_INFINITY);
    if (skipIfPast && capped <= Date.now() && patched('skip-elapsed-budget-wait')) return;
    nextCheckAt = capped;
    await condition(() => changes !== seen, Math.max(1, capped - Date.now()));
    nextCheckAt = undefined;
  }

  async function finish(
    state: CampaignState,
    reason: string | undefined,
    closeAs: 'cancelled' | 'expired',
  ): Promise<CampaignResult> {
    const closed = await bookkeeping.closeRecipients({
      campaignId: input.campaignId,
      as: closeAs,
      reason: reason ?? state,
    });
    s.state = state;
    s.reason = closed > 0 && reason ? `${reason}; ${closed} recipients not sent (${closeAs})` : reason;
    await bookkeeping.recordCampaignState({
      campaignId: input.campaignId,
      state,
      reason: s.reason,
      final: true,
    });
    await condition(allHandlersFinished);
    log.info('campaign finished', { campaignId: input.campaignId, state, reason: s.reason });
    return { campaignId: input.campaignId, state, reason: s.reason };
  }

  /** Asks the platform about the template; pauses or stops the campaign if it may not be sent. */
  async function checkTemplateNow(): Promise<void> {
    s.lastTemplateCheckAt = Date.now();
    let result;
    try {
      result = await lookups.checkTemplate({
        phoneNumberId: input.phoneNumberId,
        templateName: input.templateName,
        templateLanguage: input.templateLanguage,
      });
    } catch (err) {
      log.warn('template check failed; carrying on', { error: String(err) });
      return;
    }
    if (!result.blocker) {
      resume(PauseSource.Template);
      return;
    }
    const status = result.status ?? '';
    if (!result.found || status === 'DISABLED' || status === 'REJECTED' || status === 'DELETED') {
      requestStop(CampaignState.Failed, result.blocker);
    } else if (s.state === CampaignState.Paused && s.pauseSource === PauseSource.Template) {
      s.recheckAt = Date.now() + tuning.pausePollMs;
    } else {
      pause(PauseSource.Template, result.blocker, Date.now() + tuning.pausePollMs);
    }
  }

  // Scheduled start.
  const startAtMs = input.startAt ? Date.parse(input.startAt) : undefined;
  if (!input.carried && startAtMs !== undefined && startAtMs > Date.now()) {
    s.state = CampaignState.Waiting;
    s.reason = `scheduled to start at ${new Date(startAtMs).toISOString()}`;
    await publish();
    while (!stop && Date.now() < startAtMs) await sleepUntil(startAtMs);
    if (s.state === CampaignState.Waiting) {
      s.state = CampaignState.Running;
      s.reason = undefined;
    }
  }

  for (;;) {
    if (stop) return finish(stop.state, stop.reason, stop.closeAs);
    if (deadlineMs !== undefined && Date.now() >= deadlineMs) {
      return finish(CampaignState.Completed, 'deadline reached', 'expired');
    }
    if (s.state === CampaignState.Paused) {
      await publish();
      const recheckAt = s.recheckAt;
      if (recheckAt !== undefined && Date.now() >= recheckAt) {
        await checkTemplateNow();
        continue;
      }
      await sleepUntil(recheckAt);
      continue;
    }
    if (
      s.lastTemplateCheckAt === undefined ||
      Date.now() - s.lastTemplateCheckAt >= tuning.templateCheckEveryMs
    ) {
      await checkTemplateNow();
      if (stop || isPaused()) continue;
    }

    if (s.state !== CampaignState.Running) {
      s.state = CampaignState.Running;
      s.reason = undefined;
    }
    await publish();
    let batch: BatchSummary | undefined;
    try {
      sendScope = new CancellationScope();
      batch = await sendScope.run(() =>
        sending.sendBatch({
          campaignId: input.campaignId,
          maxDurationMs: tuning.batchMaxMs,
          ambiguityWaitMs: tuning.ambiguityWaitMs,
        }),
      );
    } catch (err) {
      if (!isCancellation(err)) throw err;
    } finally {
      sendScope = undefined;
    }
    if (!batch) continue;
    s.batches++;
    lastBatch = batch;

    switch (batch.outcome) {
      case BatchOutcome.Drained:
        return finish(CampaignState.Completed, undefined, 'cancelled');
      case BatchOutcome.Stop:
        requestStop(CampaignState.Failed, batch.reason ?? 'stopped by the platform');
        continue;
      case BatchOutcome.TemplateQuality:
        // As for the platform's RED event: pause, and look again after a while.
        pause(PauseSource.Template, 'template quality dropped to RED', Date.now() + tuning.pausePollMs);
        continue;
      case BatchOutcome.TemplatePaused:
        s.templatePauses++;
        pause(
          PauseSource.Template,
          'template paused by Meta (132015)',
          Date.now() + (s.templatePauses > 1 ? tuning.secondPauseMs : tuning.firstPauseMs),
        );
        continue;
      case BatchOutcome.Budget: {
        const until = batch.budgetResetsAt;
        if (s.state === CampaignState.Running) {
          s.state = CampaignState.Waiting;
          s.reason = until
            ? `tier budget spent; frees up at ${new Date(until).toISOString()}`
            : 'tier budget spent';
        }
        await publish();
        await sleepUntil(until, true);
        break;
      }
      case BatchOutcome.NothingDue: {
        const until = batch.nextDueAt;
        if (s.state === CampaignState.Running) {
          s.state = CampaignState.Waiting;
          s.reason = until ? `next recipient due at ${new Date(until).toISOString()}` : 'nothing due yet';
        }
        await publish();
        await sleepUntil(until);
        break;
      }
      case BatchOutcome.TimeSlice:
        break;
    }

    if (workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof campaignWorkflow>({ ...input, carried: s });
    }
  }
}
