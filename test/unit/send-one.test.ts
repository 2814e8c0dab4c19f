import {
  AccessDeniedByMetaException,
  AccessDeniedException,
  InvalidParametersException,
} from '@aws-sdk/client-socialmessaging';
import { describe, expect, it } from 'vitest';
import { classifySendError } from '../../src/activities/send-one';
import { ErrorAction } from '../../src/shared/meta-errors';

const meta = { $metadata: {} };

describe('classifySendError', () => {
  it("decides by the Meta code whichever AWS exception carries it (the model's or the older one)", () => {
    for (const err of [
      new AccessDeniedException({ ...meta, message: '(#131031) Business account has been locked' }),
      new AccessDeniedByMetaException({ ...meta, message: '(#131031) Business account has been locked' }),
    ]) {
      expect(classifySendError(err)).toMatchObject({
        kind: 'error',
        action: ErrorAction.StopCampaign,
        code: 131031,
      });
    }
  });

  it('stops the campaign on an account-level refusal without a Meta code, under either exception name', () => {
    expect(classifySendError(new AccessDeniedException({ ...meta, message: 'denied' }))).toMatchObject({
      action: ErrorAction.StopCampaign,
    });
    expect(classifySendError(new AccessDeniedByMetaException({ ...meta, message: 'denied' }))).toMatchObject({
      action: ErrorAction.StopCampaign,
    });
    expect(classifySendError(new InvalidParametersException({ ...meta, message: 'bad' }))).toMatchObject({
      action: ErrorAction.Drop,
    });
  });
});
