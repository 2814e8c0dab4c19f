import { z } from 'zod';
import { DATA_LOCALIZATION_REGIONS, type SignupConfig } from '../config';
import type { EmulatorContext } from '../context';
import { AwsError, metaAwsError } from '../http/aws-errors';
import { jsonBody, parseInput } from '../http/aws-input';
import type { EmulatorRequest, HandlerResult } from '../http/router';
import { phoneQualityChange } from '../meta/webhook-entries';
import { checkRegistrationAttempt } from '../rules/registration';
import type { PhoneNumberState, WabaState } from '../world/state';
import { phoneNumberDetail, validateEventDestinations } from './views';

const inputSchema = z
  .object({
    signupCallback: z
      .object({ accessToken: z.string().min(1), callbackUrl: z.string().optional() })
      .optional(),
    setupFinalization: z
      .object({
        associateInProgressToken: z.string().min(1),
        phoneNumbers: z
          .array(
            z.object({
              id: z.string().min(1),
              twoFactorPin: z.string().min(1),
              dataLocalizationRegion: z.enum(DATA_LOCALIZATION_REGIONS).optional(),
              tags: z.array(z.object({ key: z.string(), value: z.string().optional() })).optional(),
            }),
          )
          .min(1),
        phoneNumberParent: z.string().optional(),
        waba: z
          .object({
            id: z.string().optional(),
            eventDestinations: z
              .array(z.object({ eventDestinationArn: z.string().min(1), roleArn: z.string().optional() }))
              .max(1)
              .optional(),
            tags: z.array(z.object({ key: z.string(), value: z.string().optional() })).optional(),
          })
          .optional(),
      })
      .optional(),
  })
  .refine((v) => (v.signupCallback === undefined) !== (v.setupFinalization === undefined), {
    message: 'Exactly one of signupCallback or setupFinalization must be provided',
    path: ['signupCallback'],
  });

/**
 * AssociateWhatsAppBusinessAccount, the two phases of linking an account after Meta's embedded signup:
 * `signupCallback` turns the signup's access token into an in-progress token and the accounts whose
 * setup is incomplete; `setupFinalization` registers the chosen numbers with their two-step PINs and
 * sets the WABA's event destination.
 */
export function associateWhatsAppBusinessAccount(ctx: EmulatorContext, req: EmulatorRequest): HandlerResult {
  const input = parseInput(inputSchema, jsonBody(req));
  if (input.signupCallback) return signupCallback(ctx, input.signupCallback.accessToken);
  const fin = input.setupFinalization;
  if (!fin) throw new AwsError('ValidationException', 'setupFinalization is required');
  return setupFinalization(ctx, fin);
}

function signupCallback(ctx: EmulatorContext, accessToken: string): HandlerResult {
  const { world, config, clock } = ctx;
  const now = clock.now();
  let wabaId = world.wabaByAccessToken.get(accessToken);
  if (!wabaId) {
    // A signup listed for this token, else the next unused one listed without a token.
    let index = config.signups.findIndex((s) => s.accessToken === accessToken);
    if (index < 0)
      index = config.signups.findIndex((s, i) => s.accessToken === undefined && !world.usedSignups.has(i));
    const signup =
      config.signups[index] ?? (config.registration.acceptAnyAccessToken ? generatedSignup(ctx) : undefined);
    // The operation models no AccessDeniedByMetaException: Meta's refusal of the token is a bad parameter.
    if (!signup)
      throw metaAwsError(190, 'the embedded-signup access token is not valid', 'InvalidParametersException');
    if (index >= 0) world.usedSignups.add(index);
    const waba = world.addWaba({ ...signup.waba, templates: signup.templates }, now);
    for (const phone of signup.phoneNumbers) world.addPhoneNumber(waba, { ...phone, registered: false });
    world.wabaByAccessToken.set(accessToken, waba.id);
    wabaId = waba.id;
  }
  const waba = world.wabas.get(wabaId) as WabaState;
  const token = `aipt-${ctx.rng.ids.hex(40)}`;
  world.signups.set(token, { token, wabaId, expiresAtMs: now + config.registration.signupTtlMs });
  const incomplete = world.registrationStatus(waba) === 'INCOMPLETE';
  return {
    json: {
      statusCode: 200,
      signupCallbackResult: {
        associateInProgressToken: token,
        // Keyed by Meta's WABA id (the model's WhatsAppBusinessAccountId); the AWS id is each value's `wabaId`.
        linkedAccountsWithIncompleteSetup: incomplete
          ? {
              [waba.wabaId]: {
                accountName: waba.name,
                registrationStatus: 'INCOMPLETE',
                unregisteredWhatsAppPhoneNumbers: waba.phoneNumbers
                  .filter((p) => !p.registered)
                  .map(phoneNumberDetail),
                wabaId: waba.id,
              },
            }
          : {},
      },
    },
  };
}

function generatedSignup(ctx: EmulatorContext): SignupConfig {
  const n = ctx.world.wabas.size + 1;
  const line = String(1000 + n).slice(-4);
  return {
    waba: { name: `Onboarded WABA ${n}`, portfolioId: 'portfolio-default' },
    phoneNumbers: [
      { displayPhoneNumber: `+1 555-020-${line}`, displayName: `Onboarded Business ${n}`, verified: true },
    ],
    templates: [],
  };
}

function setupFinalization(
  ctx: EmulatorContext,
  fin: NonNullable<z.output<typeof inputSchema>['setupFinalization']>,
): HandlerResult {
  const { world, clock, config } = ctx;
  const now = clock.now();
  const signup = world.signups.get(fin.associateInProgressToken);
  if (!signup) throw new AwsError('InvalidParametersException', 'associateInProgressToken is not valid');
  if (now > signup.expiresAtMs) {
    throw new AwsError(
      'InvalidParametersException',
      'The signup has expired: numbers must be registered within 14 days of embedded signup; sign up again',
    );
  }
  const waba = world.wabas.get(signup.wabaId) as WabaState;
  if (fin.waba?.id !== undefined && fin.waba.id !== waba.id) {
    throw new AwsError('InvalidParametersException', `waba.id ${fin.waba.id} does not belong to this signup`);
  }
  if (fin.phoneNumberParent !== undefined && !world.wabas.has(fin.phoneNumberParent)) {
    throw new AwsError(
      'InvalidParametersException',
      `phoneNumberParent ${fin.phoneNumberParent} is not a linked WABA`,
    );
  }
  const destinations = fin.waba?.eventDestinations;
  if (destinations) validateEventDestinations(destinations);

  // Check every number before changing any, so a refused call leaves the account as it was.
  const chosen: { phone: PhoneNumberState; pin: string; region?: string | undefined }[] = [];
  for (const p of fin.phoneNumbers) {
    const phone = waba.phoneNumbers.find((n) => n.id === p.id);
    if (!phone)
      throw new AwsError('InvalidParametersException', `Phone number ${p.id} is not part of this signup`);
    const failure = checkRegistrationAttempt(world, phone, p.twoFactorPin, now, config.registration);
    if (failure) throw metaAwsError(failure.code, failure.details);
    chosen.push({ phone, pin: p.twoFactorPin, region: p.dataLocalizationRegion });
  }
  for (const { phone, pin, region } of chosen) {
    phone.registered = true;
    phone.pin = pin;
    phone.existingPin = undefined;
    if (region !== undefined) phone.dataLocalizationRegion = region;
  }
  if (destinations) waba.eventDestinations = destinations;
  waba.linkDateMs = now;
  ctx.logger.info({ wabaId: waba.id, numbers: chosen.map((c) => c.phone.id) }, 'numbers registered');
  // Meta announces a newly registered number with its starting messaging limit.
  for (const { phone } of chosen) ctx.events.publish(waba, phone, phoneQualityChange(phone, 'ONBOARDING'));
  return { json: { statusCode: 200, linkedWhatsAppBusinessAccountId: waba.id } };
}
