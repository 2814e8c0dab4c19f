import { describe, expect, it } from 'vitest';
import {
  isLinkedWabaRef,
  isPhoneNumberRef,
  linkedWabaId,
  phoneNumberId,
  signupAccountIds,
} from '../../src/platform/resource-ids';

const WABA = 'waba-0d3a9c2e5f7b41a68e2c9d0f1b3a5c7e';
const WABA_ARN = 'arn:aws:social-messaging:us-east-1:123456789012:waba/0d3a9c2e5f7b41a68e2c9d0f1b3a5c7e';
const META_WABA = '102290129340398';

describe('AWS resource ids', () => {
  it('turns ids and ARNs into the ids the AWS API uses, and nothing else', () => {
    expect(linkedWabaId(WABA_ARN)).toBe(WABA);
    expect(linkedWabaId(WABA)).toBe(WABA);
    expect(linkedWabaId(META_WABA)).toBeUndefined();
    expect(linkedWabaId('arn:aws:sns:us-east-1:123456789012:topic')).toBeUndefined();
    expect(phoneNumberId('arn:aws:social-messaging:us-east-1:1:phone-number-id/abc123')).toBe(
      'phone-number-id-abc123',
    );
    expect(phoneNumberId('arn:aws:sns:us-east-1:1:topic')).toBeUndefined();
    expect(phoneNumberId(undefined)).toBeUndefined();
  });

  it("follows the model's patterns: a Meta id is neither a WABA nor a phone number reference", () => {
    expect(isLinkedWabaRef(WABA)).toBe(true);
    expect(isLinkedWabaRef(WABA_ARN)).toBe(true);
    expect(isLinkedWabaRef(META_WABA)).toBe(false);
    expect(isPhoneNumberRef('phone-number-id-6f1c')).toBe(true);
    expect(isPhoneNumberRef('106540352242922')).toBe(false);
  });

  it("tells a signup entry's two ids apart by pattern, whichever way round they come", () => {
    // As the model has it: keyed by Meta's id, the AWS id in `wabaId`.
    expect(signupAccountIds(META_WABA, WABA)).toEqual({ awsRef: WABA, metaWabaId: META_WABA });
    expect(signupAccountIds(META_WABA, WABA_ARN)).toEqual({ awsRef: WABA_ARN, metaWabaId: META_WABA });
    // Swapped, as an older emulator answered.
    expect(signupAccountIds(WABA, META_WABA)).toEqual({ awsRef: WABA, metaWabaId: META_WABA });
    expect(signupAccountIds(WABA, undefined)).toEqual({ awsRef: WABA });
    // No AWS id anywhere: nothing to call the API with.
    expect(signupAccountIds(META_WABA, '999')).toBeUndefined();
    expect(signupAccountIds(META_WABA, undefined)).toBeUndefined();
  });
});
