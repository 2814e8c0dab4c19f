import { describe, expect, it } from 'vitest';
import { isClearedNumberEvent } from '../../src/shared/number-events';

describe('number events', () => {
  it('counts the UN… events and CONNECTED as cleared, in any case', () => {
    for (const event of ['UNFLAGGED', 'UNRESTRICTED', 'unflagged', 'CONNECTED', 'Connected']) {
      expect(isClearedNumberEvent({ event }), event).toBe(true);
    }
  });

  it('counts every other event as a restriction', () => {
    for (const event of [
      'FLAGGED',
      'RESTRICTED',
      'ACCOUNT_RESTRICTION',
      'DISABLED_UPDATE',
      'DISCONNECTED',
      '',
    ]) {
      expect(isClearedNumberEvent({ event }), event).toBe(false);
    }
  });

  it('never counts an event that stops the campaigns as cleared', () => {
    expect(isClearedNumberEvent({ event: 'UNFLAGGED', stop: true })).toBe(false);
    expect(isClearedNumberEvent({ event: 'CONNECTED', stop: false })).toBe(true);
  });
});
