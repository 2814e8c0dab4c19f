import {
  AssociateWhatsAppBusinessAccountCommand,
  GetLinkedWhatsAppBusinessAccountCommand,
} from '@aws-sdk/client-socialmessaging';
import { linkedWabaId, signupAccountIds } from '../../platform/resource-ids';
import type { ActivityDeps } from '../deps';
import { permanent, rethrowAws } from './aws-failures';

export interface ExchangeSignupTokenInput {
  onboardingId: string;
  /** Secret; arrives and leaves only inside encrypted payloads, never logged. */
  accessToken: string;
}

export interface SignupNumber {
  phoneNumberId: string;
  displayPhoneNumber: string;
  metaPhoneNumberId?: string;
  /** E.164. */
  phoneNumber?: string;
}

export interface ExchangeSignupTokenResult {
  associateInProgressToken: string;
  /** AWS id (`waba-…`). */
  wabaId: string;
  wabaArn: string;
  metaWabaId?: string;
  wabaName?: string;
  numbers: SignupNumber[];
}

/**
 * Phase one of AssociateWhatsAppBusinessAccount: the embedded signup's access token becomes an
 * in-progress token plus the account and numbers whose setup is incomplete. The WABA's ARN is read too:
 * it tells which AWS account and region the event destination must live in.
 */
export async function exchangeSignupToken(
  deps: ActivityDeps,
  input: ExchangeSignupTokenInput,
): Promise<ExchangeSignupTokenResult> {
  let result;
  try {
    result = await deps.socialMessaging.send(
      new AssociateWhatsAppBusinessAccountCommand({ signupCallback: { accessToken: input.accessToken } }),
    );
  } catch (err) {
    rethrowAws(err, 'signup callback refused');
  }
  const callback = result.signupCallbackResult;
  const token = callback?.associateInProgressToken;
  if (!token) throw permanent('SignupCallbackEmpty', 'signup callback returned no associateInProgressToken');
  const accounts = Object.entries(callback?.linkedAccountsWithIncompleteSetup ?? {});
  const [entry] = accounts;
  if (!entry) {
    throw permanent(
      'NothingToSetUp',
      'the signup has no account with incomplete setup: its numbers are already registered',
    );
  }
  if (accounts.length > 1) {
    deps.logger.warn(
      { onboardingId: input.onboardingId, accounts: accounts.map(([key]) => key) },
      'signup named several accounts; onboarding the first',
    );
  }
  const [key, meta] = entry;
  const ids = signupAccountIds(key, meta.wabaId);
  if (!ids) {
    throw permanent(
      'SignupAccountWithoutAwsId',
      `the signup's account ${key} carries no AWS WABA id (waba-… or its ARN) to link it by`,
    );
  }
  const awsRef = ids.awsRef;
  const numbers: SignupNumber[] = (meta.unregisteredWhatsAppPhoneNumbers ?? []).flatMap((p) =>
    p.phoneNumberId
      ? [
          {
            phoneNumberId: p.phoneNumberId,
            displayPhoneNumber: p.displayPhoneNumber ?? p.phoneNumber ?? p.phoneNumberId,
            ...(p.metaPhoneNumberId ? { metaPhoneNumberId: p.metaPhoneNumberId } : {}),
            ...(p.phoneNumber ? { phoneNumber: p.phoneNumber } : {}),
          },
        ]
      : [],
  );
  if (numbers.length === 0)
    throw permanent('NothingToSetUp', `account ${awsRef} has no unregistered numbers`);

  let account;
  try {
    account = (await deps.socialMessaging.send(new GetLinkedWhatsAppBusinessAccountCommand({ id: awsRef })))
      .account;
  } catch (err) {
    rethrowAws(err, `reading account ${awsRef}`);
  }
  if (!account?.arn) throw permanent('AccountWithoutArn', `account ${awsRef} has no ARN`);
  // The account's own answer is the authority on its ids; the signup entry may have named it by ARN.
  const wabaId = linkedWabaId(account.id) ?? linkedWabaId(awsRef);
  if (!wabaId) throw permanent('AccountWithoutId', `account ${awsRef} has no AWS id`);
  const metaWabaId = account.wabaId ?? ids.metaWabaId;
  deps.logger.info(
    { onboardingId: input.onboardingId, wabaId, numbers: numbers.length },
    'signup callback done',
  );
  return {
    associateInProgressToken: token,
    wabaId,
    wabaArn: account.arn,
    ...(metaWabaId ? { metaWabaId } : {}),
    ...(meta.accountName ? { wabaName: meta.accountName } : {}),
    numbers,
  };
}
