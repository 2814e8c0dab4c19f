import { describe, expect, it } from 'vitest';
import { bizOpaqueCallbackData, parseBizOpaqueCallbackData } from '../../src/shared/ids';
import {
  ErrorAction,
  actionForAwsError,
  actionForCode,
  backoffSeconds,
  metaCodeFromMessage,
} from '../../src/shared/meta-errors';
import { msUntilOpen, parseSendWindow } from '../../src/shared/send-window';
import { countPlaceholders, parseTemplateJson } from '../../src/platform/templates';
import { normalisePhone } from '../../src/client/recipients';

describe('meta error codes', () => {
  it('reads the code AWS puts in the message', () => {
    expect(metaCodeFromMessage('Message failed (#131056) pair rate limit')).toBe(131056);
    expect(metaCodeFromMessage('no code here')).toBeUndefined();
  });

  it('maps codes to what the engine does', () => {
    expect(actionForCode(131056)).toBe(ErrorAction.RetryBackoff);
    expect(actionForCode(130429)).toBe(ErrorAction.RetryBackoff);
    expect(actionForCode(131049)).toBe(ErrorAction.RetryNextDay);
    expect(actionForCode(131050)).toBe(ErrorAction.Suppress);
    expect(actionForCode(131026)).toBe(ErrorAction.Drop);
    expect(actionForCode(131048)).toBe(ErrorAction.StopCampaign);
    expect(actionForCode(368)).toBe(ErrorAction.StopCampaign);
    expect(actionForCode(132015)).toBe(ErrorAction.PauseTemplate);
    expect(actionForCode(132016)).toBe(ErrorAction.StopTemplate);
    expect(actionForCode(131057)).toBe(ErrorAction.WaitUpgrade);
    expect(actionForCode(131000)).toBe(ErrorAction.Ambiguous);
    expect(actionForCode(999999)).toBe(ErrorAction.Drop);
  });

  it("fails only one message for codes about that message's parameters or text", () => {
    for (const code of [132000, 132005, 132012, 132018]) expect(actionForCode(code)).toBe(ErrorAction.Drop);
  });

  it('brakes the campaign for codes about the template itself', () => {
    expect(actionForCode(132001)).toBe(ErrorAction.StopTemplate);
    expect(actionForCode(132007)).toBe(ErrorAction.StopTemplate);
    expect(actionForCode(132015)).toBe(ErrorAction.PauseTemplate);
    expect(actionForCode(132016)).toBe(ErrorAction.StopTemplate);
  });

  it('maps AWS exceptions without a Meta code', () => {
    expect(actionForAwsError('ThrottledRequestException')).toBe(ErrorAction.RetryTransient);
    expect(actionForAwsError('DependencyException')).toBe(ErrorAction.RetryTransient);
    expect(actionForAwsError('AccessDeniedException')).toBe(ErrorAction.StopCampaign);
    expect(actionForAwsError('ResourceNotFoundException')).toBe(ErrorAction.StopCampaign);
    expect(actionForAwsError('ValidationException')).toBe(ErrorAction.Drop);
  });

  it('backs off 4^X seconds, capped', () => {
    expect([0, 1, 2, 3, 4].map((x) => backoffSeconds(x))).toEqual([1, 4, 16, 64, 256]);
    expect(backoffSeconds(9)).toBe(1024);
  });
});

describe('callback data', () => {
  it('round-trips campaign and recipient, and ignores foreign data', () => {
    const data = bizOpaqueCallbackData('cmp_abc:def', 42);
    expect(parseBizOpaqueCallbackData(data)).toEqual({ campaignId: 'cmp_abc:def', seq: 42 });
    expect(parseBizOpaqueCallbackData('someone-else')).toBeUndefined();
    expect(parseBizOpaqueCallbackData(undefined)).toBeUndefined();
  });
});

describe('send windows', () => {
  const window = parseSendWindow('09:00-20:00');

  it('is open inside the local window and says how long until it opens outside', () => {
    // 12:00 UTC is 13:00 in Berlin (winter): open.
    const noonUtc = Date.parse('2026-01-15T12:00:00Z');
    expect(msUntilOpen(noonUtc, 'Europe/Berlin', window)).toBe(0);
    // 22:30 UTC is 23:30 in Berlin: opens at 09:00 local, 9.5 h later.
    expect(msUntilOpen(Date.parse('2026-01-15T22:30:00Z'), 'Europe/Berlin', window)).toBe(9.5 * 3600_000);
    // 12:00 UTC is 04:00 in Los Angeles: 5 h to go.
    expect(msUntilOpen(noonUtc, 'America/Los_Angeles', window)).toBe(5 * 3600_000);
  });

  it('handles windows across midnight', () => {
    const night = parseSendWindow('22:00-02:00');
    expect(msUntilOpen(Date.parse('2026-01-15T23:00:00Z'), 'UTC', night)).toBe(0);
    expect(msUntilOpen(Date.parse('2026-01-15T01:00:00Z'), 'UTC', night)).toBe(0);
    expect(msUntilOpen(Date.parse('2026-01-15T03:00:00Z'), 'UTC', night)).toBe(19 * 3600_000);
  });

  it('refuses malformed windows with a hint', () => {
    expect(() => parseSendWindow('9-5')).toThrow(/09:00-20:00/);
    expect(() => parseSendWindow('10:00-10:00')).toThrow(/empty/);
  });
});

describe('templates', () => {
  it('counts distinct body placeholders', () => {
    expect(countPlaceholders('Hi {{1}}, your order {{2}} ships {{1}}')).toBe(2);
    expect(countPlaceholders('Hello')).toBe(0);
  });

  it("reads Meta's template object", () => {
    const parsed = parseTemplateJson(
      JSON.stringify({
        status: 'APPROVED',
        category: 'MARKETING',
        components: [{ type: 'BODY', text: 'Hi {{1}}' }],
      }),
    );
    expect(parsed).toMatchObject({ status: 'APPROVED', category: 'MARKETING', bodyParameters: 1 });
  });
});

describe('phone numbers', () => {
  it('normalises valid numbers to E.164 and explains invalid ones', () => {
    expect(normalisePhone('+49 30 901820')).toEqual({ e164: '+4930901820' });
    expect(normalisePhone('0044 20 7946 0958')).toEqual({ e164: '+442079460958' });
    expect(normalisePhone('030 901820', 'DE')).toEqual({ e164: '+4930901820' });
    expect(normalisePhone('4155550123')).toMatchObject({
      error: expect.stringMatching(/international prefix/),
    });
    expect(normalisePhone('+1 555')).toMatchObject({ error: expect.stringMatching(/not a valid number/) });
  });
});
