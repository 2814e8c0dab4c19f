import type { CampaignRow } from '../db/send-queue';
import { ErrorAction } from '../shared/meta-errors';
import type { Brake } from './batch-outcome';
import type { ActivityDeps } from './deps';
import { checkTemplate } from './templates';

/**
 * Looks a sending campaign's template up at most once per `templateWatchMs`, in the background, and
 * brakes the batch if its quality is RED. The platform's template event does the same through the
 * ingest service and a signal, but behind a backlog of status events it can come seconds late at high
 * rates. A failed look-up changes nothing: the event path and the workflow's own checks still stand.
 */
export class TemplateWatch {
  private readonly every: number;
  private nextAt: number;
  private busy = false;

  constructor(
    private readonly deps: ActivityDeps,
    private readonly campaign: CampaignRow,
    private readonly wabaIdOf: () => string | undefined,
    private readonly clock: () => number,
    private readonly brake: Brake,
  ) {
    this.every = deps.templateWatchMs ?? 1_000;
    this.nextAt = clock() + this.every;
  }

  /**
   * Called as chunks go out: starts a look-up when one is due and none is running, and returns it (for
   * tests); the sender does not wait for it.
   */
  poll(): Promise<void> | undefined {
    if (this.every <= 0 || this.busy || this.clock() < this.nextAt) return undefined;
    this.busy = true;
    this.nextAt = this.clock() + this.every;
    const c = this.campaign;
    return checkTemplate(this.deps, {
      phoneNumberId: c.phoneNumberId,
      templateName: c.templateName,
      templateLanguage: c.templateLanguage,
      wabaId: this.wabaIdOf(),
    })
      .then((t) => {
        if (t.quality !== 'RED' || this.brake.action) return;
        this.brake.action = ErrorAction.PauseTemplate;
        this.brake.qualityRed = true;
        this.brake.reason = `template ${c.templateName} (${c.templateLanguage}) quality dropped to RED`;
      })
      .catch(() => undefined)
      .finally(() => {
        this.busy = false;
      });
  }
}
