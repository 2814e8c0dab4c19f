import { describe, expect, it } from 'vitest';
import { TemplateWatch } from '../../src/activities/template-watch';
import type { Brake } from '../../src/activities/batch-outcome';
import type { ActivityDeps } from '../../src/activities/deps';
import type { CampaignRow } from '../../src/db/send-queue';
import { ErrorAction } from '../../src/shared/meta-errors';
import { logger } from '../../src/shared/logger';
import { FakePlatform } from '../helpers/fake-platform';

const campaign = {
  id: 'c-watch',
  phoneNumberId: 'phone-number-id-watch',
  templateName: 'promo',
  templateLanguage: 'en_US',
} as CampaignRow;

function setup(quality: string, templateWatchMs = 1_000) {
  let t = 0;
  const platform = new FakePlatform(() => t);
  platform.setTemplate('promo', 'en_US', { status: 'APPROVED', quality });
  let lookUps = 0;
  const client = platform.client();
  const counting = {
    send: (command: { constructor: { name: string } }) => {
      if (command.constructor.name === 'GetWhatsAppMessageTemplateCommand') lookUps++;
      return client.send(command as never);
    },
  };
  // The number's WABA is given, so the watch needs no database.
  const deps = { socialMessaging: counting, logger, templateWatchMs } as unknown as ActivityDeps;
  const brake: Brake = {};
  const watch = new TemplateWatch(
    deps,
    campaign,
    () => platform.wabaId,
    () => t,
    brake,
  );
  return {
    watch,
    brake,
    advance: (ms: number) => (t += ms),
    lookUps: () => lookUps,
  };
}

describe('TemplateWatch', () => {
  it('looks the template up at most once a period and brakes when it is RED', async () => {
    const s = setup('RED');
    expect(s.watch.poll()).toBeUndefined();
    s.advance(999);
    expect(s.watch.poll()).toBeUndefined();
    s.advance(1);
    await s.watch.poll();
    expect(s.lookUps()).toBe(1);
    expect(s.brake).toEqual({
      action: ErrorAction.PauseTemplate,
      qualityRed: true,
      reason: 'template promo (en_US) quality dropped to RED',
    });
  });

  it('leaves a healthy template alone and looks again only a period later', async () => {
    const s = setup('GREEN');
    s.advance(1_000);
    await s.watch.poll();
    expect(s.watch.poll()).toBeUndefined();
    s.advance(1_000);
    await s.watch.poll();
    expect(s.lookUps()).toBe(2);
    expect(s.brake).toEqual({});
  });

  it('keeps a brake already set by a refused send', async () => {
    const s = setup('RED');
    s.brake.action = ErrorAction.StopCampaign;
    s.brake.reason = 'account locked';
    s.advance(1_000);
    await s.watch.poll();
    expect(s.brake).toEqual({ action: ErrorAction.StopCampaign, reason: 'account locked' });
  });

  it('never looks when switched off', () => {
    const s = setup('RED', 0);
    s.advance(10_000);
    expect(s.watch.poll()).toBeUndefined();
    expect(s.lookUps()).toBe(0);
  });
});
