import type { QualityScore, TemplateStatus } from '../config';
import type { EmulatorContext } from '../context';
import { templateQualityChange, templateStatusChange } from '../meta/webhook-entries';
import type { TemplateState, WabaState } from '../world/state';

const SENDABLE: ReadonlySet<TemplateStatus> = new Set(['APPROVED', 'FLAGGED', 'REINSTATED']);

function hours(ms: number): string {
  const h = ms / 3_600_000;
  return h >= 1 ? `${Number(h.toFixed(2))} hour(s)` : `${Math.round(ms / 1000)} second(s)`;
}

/**
 * A quality drop to RED pauses an active template: the first time for `firstPauseMs` (Meta: 3 h), the
 * second for `secondPauseMs` (6 h), and the third disables it. After a pause the template comes back
 * by itself with an APPROVED/UNPAUSE status event.
 */
function pause(ctx: EmulatorContext, waba: WabaState, template: TemplateState): void {
  template.pauseCount++;
  template.cancelUnpause?.();
  template.cancelUnpause = undefined;
  if (template.pauseCount >= 3) {
    template.status = 'DISABLED';
    template.pausedUntilMs = undefined;
    ctx.events.publish(
      waba,
      undefined,
      templateStatusChange(template, 'DISABLED', 'NONE', {
        title: 'DISABLED',
        description: 'The template was disabled after repeated pauses for low quality.',
      }),
    );
    return;
  }
  const first = template.pauseCount === 1;
  const length = first ? ctx.config.templatePauses.firstPauseMs : ctx.config.templatePauses.secondPauseMs;
  template.status = 'PAUSED';
  template.pausedUntilMs = ctx.clock.now() + length;
  ctx.events.publish(
    waba,
    undefined,
    templateStatusChange(template, 'PAUSED', 'NONE', {
      title: first ? 'FIRST_PAUSE' : 'SECOND_PAUSE',
      description: `The template is paused for ${hours(length)} because of low quality.`,
    }),
  );
  template.cancelUnpause = ctx.scheduler.after(length, () => {
    template.cancelUnpause = undefined;
    if (template.status !== 'PAUSED') return;
    template.status = 'APPROVED';
    template.pausedUntilMs = undefined;
    ctx.events.publish(
      waba,
      undefined,
      templateStatusChange(template, 'APPROVED', 'NONE', {
        title: 'UNPAUSE',
        description: 'The pause is over; the template can be sent again.',
      }),
    );
  });
}

/** Applies a quality and/or status change to a template and publishes the matching events. */
export function changeTemplate(
  ctx: EmulatorContext,
  waba: WabaState,
  template: TemplateState,
  change: {
    quality?: QualityScore | undefined;
    status?: TemplateStatus | undefined;
    reason?: string | undefined;
  },
): void {
  if (change.quality !== undefined) {
    const previous = template.quality;
    template.quality = change.quality;
    ctx.events.publish(waba, undefined, templateQualityChange(template, previous, change.quality));
    if (change.quality === 'RED' && change.status === undefined && SENDABLE.has(template.status)) {
      pause(ctx, waba, template);
    }
  }
  if (change.status !== undefined) {
    if (change.status !== 'PAUSED') {
      template.cancelUnpause?.();
      template.cancelUnpause = undefined;
      template.pausedUntilMs = undefined;
    }
    template.status = change.status;
    ctx.events.publish(
      waba,
      undefined,
      templateStatusChange(template, change.status, change.reason ?? 'NONE'),
    );
  }
}
