import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { DATA_LOCALIZATION_REGIONS } from '../platform/regions';
import { TIERS, tierUserLimit, type Tier } from '../platform/tiers';
import { demoWabas } from './demo-world';

/** Messaging-limit tiers, as Meta names them in `phone_number_quality_update.current_limit`. */
export { TIERS, type Tier } from '../platform/tiers';

/** Users per window of each tier; TIER_UNLIMITED has no limit. */
export const TIER_LIMITS = Object.fromEntries(
  TIERS.map((t) => [t, tierUserLimit(t) ?? Number.POSITIVE_INFINITY]),
) as Record<Tier, number>;

export const TEMPLATE_STATUSES = [
  'APPROVED',
  'PENDING',
  'REJECTED',
  'PAUSED',
  'DISABLED',
  'IN_APPEAL',
  'PENDING_DELETION',
  'DELETED',
  'LIMIT_EXCEEDED',
  'FLAGGED',
  'REINSTATED',
] as const;
export type TemplateStatus = (typeof TEMPLATE_STATUSES)[number];

export const QUALITY_SCORES = ['GREEN', 'YELLOW', 'RED', 'UNKNOWN'] as const;
export type QualityScore = (typeof QUALITY_SCORES)[number];

export const TEMPLATE_CATEGORIES = ['MARKETING', 'UTILITY', 'AUTHENTICATION'] as const;
export type TemplateCategory = (typeof TEMPLATE_CATEGORIES)[number];

export { DATA_LOCALIZATION_REGIONS } from '../platform/regions';

/** AWS exception names the SDK knows as typed errors. */
export const AWS_EXCEPTIONS = [
  'ValidationException',
  'InvalidParametersException',
  'ResourceNotFoundException',
  'ThrottledRequestException',
  'DependencyException',
  'InternalServiceException',
  'AccessDeniedException',
  'AccessDeniedByMetaException',
  'LimitExceededException',
] as const;
export type AwsExceptionName = (typeof AWS_EXCEPTIONS)[number];

// Calling codes where Meta applies no per-user marketing cap: the EEA, the UK, Japan and South Korea.
const CAP_EXEMPT_CALLING_CODES = [
  '30', '31', '32', '33', '34', '36', '39', '40', '43', '44', '45', '46', '47', '48', '49', '351', '352',
  '353', '354', '356', '357', '358', '359', '370', '371', '372', '385', '386', '420', '421', '423', '81', '82',
]; // prettier-ignore

/** A fixed delay or an inclusive [min, max] range drawn from the seeded stream. */
export type DelayRange = number | [number, number];

const ms = z.number().int().nonnegative();
const positiveMs = z.number().int().positive();
const probability = z.number().min(0).max(1);
const delayRange = z.union([ms, z.tuple([ms, ms])]);
const waId = z.string().regex(/^\+?[\d\s().-]{5,30}$/, 'expected a phone number in international format');
const pin = z.string().regex(/^\d{6}$/, 'a two-step verification PIN is exactly 6 digits');
const snsTopicArn = z
  .string()
  .regex(/^arn:aws[\w-]*:sns:[a-z0-9-]+:\d{12}:[\w.-]+$/, 'expected an SNS topic ARN');

/** The rules of one number, after the global, WABA and number layers are merged: written once, here. */
const rulesSchema = z.strictObject({
  /** Messages per second (accepted sends + inbound) in any sliding 1,000 ms window. */
  throughputMps: z.number().int().positive(),
  /** Per recipient: one message per `intervalMs`, with a burst of `burst` (GCRA). */
  pairRate: z.strictObject({ intervalMs: positiveMs, burst: z.number().int().positive() }),
  /** Unique users reached by business-initiated conversations per rolling `windowMs`. */
  messagingLimit: z.strictObject({ tier: z.enum(TIERS), windowMs: positiveMs }),
  /** How long an inbound message keeps the customer-service window open. */
  serviceWindowMs: positiveMs,
  marketingCap: z.strictObject({
    /** Chance that a marketing template to a capped country fails with 131049. */
    probability,
    /** Marketing messages a user may receive per `windowMs` before 131049; unset = no count cap. */
    maxPerUser: z.number().int().positive().optional(),
    windowMs: positiveMs,
    exemptCallingCodes: z.array(z.string().regex(/^\d{1,4}$/)),
    /** Meta delivers no marketing templates to +1 numbers (since April 2025). */
    blockUsMarketing: z.boolean(),
  }),
  delivery: z.strictObject({
    sentDelayMs: delayRange,
    deliveredDelayMs: delayRange,
    readDelayMs: delayRange,
    deliveredRate: probability,
    readRate: probability,
  }),
  /** Chance that any recipient not listed as undeliverable still fails with 131026. */
  undeliverableRate: probability,
});

export type Rules = z.output<typeof rulesSchema>;

/** One layer of rules: any leaf may be set; unset leaves fall through to the layer below. */
export type RulesOverride = {
  [K in keyof Rules]?: Rules[K] extends unknown[]
    ? Rules[K]
    : Rules[K] extends object
      ? Partial<Rules[K]>
      : Rules[K];
};

export const DEFAULT_RULES: Rules = {
  throughputMps: 80,
  pairRate: { intervalMs: 6_000, burst: 45 },
  messagingLimit: { tier: 'TIER_1K', windowMs: 86_400_000 },
  serviceWindowMs: 86_400_000,
  marketingCap: {
    probability: 0,
    windowMs: 86_400_000,
    exemptCallingCodes: CAP_EXEMPT_CALLING_CODES,
    blockUsMarketing: true,
  },
  delivery: {
    sentDelayMs: [20, 200],
    deliveredDelayMs: [200, 2_000],
    readDelayMs: [1_000, 30_000],
    deliveredRate: 0.98,
    readRate: 0.6,
  },
  undeliverableRate: 0,
};

// The layer schema is the rules schema with every member optional, one level down as well.
const rulesOverride = z.strictObject(
  Object.fromEntries(
    Object.entries(rulesSchema.shape).map(([key, member]) => [
      key,
      (member instanceof z.ZodObject ? member.partial() : member).optional(),
    ]),
  ),
) as unknown as z.ZodType<RulesOverride, RulesOverride>;

const templateSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9_]{1,512}$/, 'template names are lowercase letters, digits and _'),
  language: z.string().regex(/^[a-z]{2,3}(_[A-Za-z]{2,4})?$/, 'expected a language code such as en_US'),
  category: z.enum(TEMPLATE_CATEGORIES),
  status: z.enum(TEMPLATE_STATUSES).default('APPROVED'),
  quality: z.enum(QUALITY_SCORES).default('GREEN'),
  /** Body text with `{{1}}`… (positional) or `{{name}}` (named) placeholders. */
  body: z.string().min(1).max(1024),
  header: z
    .strictObject({
      format: z.enum(['TEXT', 'IMAGE', 'VIDEO', 'DOCUMENT', 'LOCATION']),
      text: z.string().max(60).optional(),
    })
    .optional(),
  footer: z.string().max(60).optional(),
  metaTemplateId: z
    .string()
    .regex(/^\d{6,20}$/)
    .optional(),
});

const eventDestination = z.strictObject({
  eventDestinationArn: z.string().min(1),
  roleArn: z.string().optional(),
});

const phoneNumberSchema = z.strictObject({
  id: z
    .string()
    .regex(/^phone-number-id-[0-9a-f]{32}$/, 'expected phone-number-id-<32 hex digits>')
    .optional(),
  metaPhoneNumberId: z
    .string()
    .regex(/^\d{6,20}$/)
    .optional(),
  displayPhoneNumber: z.string().regex(/^\+\d[\d -]{5,24}$/, 'expected e.g. +1 555-010-0001'),
  displayName: z.string().min(1).default('Emulated Business'),
  quality: z.enum(['GREEN', 'YELLOW', 'RED']).default('GREEN'),
  registered: z.boolean().default(true),
  pin: pin.optional(),
  dataLocalizationRegion: z.enum(DATA_LOCALIZATION_REGIONS).optional(),
  rules: rulesOverride.optional(),
});

const wabaSchema = z.strictObject({
  id: z
    .string()
    .regex(/^waba-[0-9a-f]{32}$/, 'expected waba-<32 hex digits>')
    .optional(),
  wabaId: z
    .string()
    .regex(/^\d{6,20}$/)
    .optional(),
  name: z.string().min(1).default('Emulated WABA'),
  portfolioId: z.string().min(1).default('portfolio-default'),
  eventDestinations: z.array(eventDestination).max(1).default([]),
  rules: rulesOverride.optional(),
  phoneNumbers: z.array(phoneNumberSchema).default([]),
  templates: z.array(templateSchema).default([]),
});

const signupSchema = z.strictObject({
  /** The embedded-signup token that yields this account; unset matches any token not listed. */
  accessToken: z.string().min(1).optional(),
  waba: z.strictObject({
    id: wabaSchema.shape.id,
    wabaId: wabaSchema.shape.wabaId,
    name: z.string().min(1).default('Onboarded WABA'),
    portfolioId: z.string().min(1).default('portfolio-default'),
  }),
  phoneNumbers: z
    .array(
      z.strictObject({
        id: phoneNumberSchema.shape.id,
        metaPhoneNumberId: phoneNumberSchema.shape.metaPhoneNumberId,
        displayPhoneNumber: phoneNumberSchema.shape.displayPhoneNumber,
        displayName: z.string().min(1).default('Onboarded Business'),
        /** A PIN the number already has (an imported number): registering with another gives 133005. */
        existingPin: pin.optional(),
        /** false: Meta wants the number verified by SMS code first (registering gives 133006). */
        verified: z.boolean().default(true),
      }),
    )
    .min(1),
  templates: z.array(templateSchema).default([]),
});

const faultTarget = {
  /** Chance per matching call. */
  rate: probability.default(1),
  /** AWS operation name, e.g. SendWhatsAppMessage; unset = every operation. */
  operation: z.string().min(1).optional(),
  phoneNumberId: z.string().min(1).optional(),
  /** Recipient (digits) for SendWhatsAppMessage. */
  to: waId.optional(),
  /** Fire at most this many times, then the fault is spent. */
  times: z.number().int().positive().optional(),
};

export const faultSchema = z.discriminatedUnion('type', [
  z
    .strictObject({
      type: z.literal('error'),
      ...faultTarget,
      /** A Meta error code; shown as `(#code)` in sync errors and in `errors[]` of async ones. */
      code: z.number().int().positive().optional(),
      /** The AWS exception; default from the code's entry in the catalogue. */
      awsError: z.enum(AWS_EXCEPTIONS).optional(),
      /** How a Meta code reaches the caller; default from the catalogue. */
      surface: z.enum(['sync', 'async']).optional(),
      message: z.string().optional(),
    })
    .refine((f) => f.code !== undefined || f.awsError !== undefined, {
      message: 'an error fault needs a Meta `code`, an `awsError`, or both',
    }),
  z.strictObject({ type: z.literal('latency'), ...faultTarget, ms: delayRange }),
  z.strictObject({
    type: z.literal('response-lost'),
    ...faultTarget,
    /** destroy: the socket is closed after the send is recorded; hang: no response is ever written. */
    mode: z.enum(['destroy', 'hang']).default('destroy'),
  }),
]);
export type FaultConfig = z.output<typeof faultSchema>;

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export const emulatorConfigSchema = z
  .strictObject({
    seed: z.number().int().optional(),
    accountId: z
      .string()
      .regex(/^\d{12}$/)
      .default('123456789012'),
    region: z
      .string()
      .regex(/^[a-z]{2}(-[a-z]+)+-\d$/)
      .default('us-east-1'),
    /** Base URL subscribers use to reach the emulator (SubscribeURL, SigningCertURL); default its own. */
    publicUrl: z.url().optional(),
    maxBodyBytes: z
      .number()
      .int()
      .positive()
      .default(3 * 1024 * 1024),
    rules: rulesOverride.default({}),
    messagingLimitScope: z.enum(['number', 'portfolio']).default('number'),
    overLimit: z
      .strictObject({
        /** What a send past the tier gets; it is always listed in /_emulator/violations. */
        action: z.enum(['fail-async', 'reject', 'accept']).default('fail-async'),
        code: z.number().int().positive().default(131048),
      })
      .prefault({}),
    portfolios: z.array(z.strictObject({ id: z.string().min(1), tier: z.enum(TIERS) })).default([]),
    apiQuotas: z
      .strictObject({
        /** AWS account quota for SendWhatsAppMessage; 0 turns it off. */
        sendMessagePerSecond: z.number().int().nonnegative().default(1_000),
        mediaPerSecond: z.number().int().nonnegative().default(100),
      })
      .prefault({}),
    /** Per Meta code: `sync` (AWS exception) or `async` (`failed` status event). */
    errorSurfaces: z.record(z.string().regex(/^\d+$/), z.enum(['sync', 'async'])).default({}),
    registration: z
      .strictObject({
        maxAttempts: z.number().int().positive().default(10),
        windowMs: positiveMs.default(72 * HOUR),
        /** How long after signupCallback the numbers may be registered (Meta: 14 days). */
        signupTtlMs: positiveMs.default(14 * DAY),
        /** Unknown access tokens yield a fresh WABA with one number, so onboarding demos just work. */
        acceptAnyAccessToken: z.boolean().default(true),
      })
      .prefault({}),
    templatePauses: z
      .strictObject({
        firstPauseMs: positiveMs.default(3 * HOUR),
        secondPauseMs: positiveMs.default(6 * HOUR),
      })
      .prefault({}),
    wabas: z.array(wabaSchema).optional(),
    signups: z.array(signupSchema).default([]),
    users: z
      .strictObject({
        undeliverable: z.array(waId).default([]),
        marketingStopped: z.array(waId).default([]),
        names: z.record(z.string(), z.string()).default({}),
      })
      .prefault({}),
    faults: z.array(faultSchema).default([]),
    /** AWS End User Messaging SMS numbers of the account (two-way SMS receives verification codes). */
    smsNumbers: z
      .array(
        z.strictObject({
          id: z
            .string()
            .regex(/^phone-[0-9a-f]{32}$/, 'expected phone-<32 hex digits>')
            .optional(),
          phoneNumber: z.string().regex(/^\+\d{6,15}$/, 'expected E.164, e.g. +15550300001'),
          twoWayEnabled: z.boolean().default(false),
        }),
      )
      .default([]),
    sns: z
      .strictObject({
        subscribers: z
          .array(z.strictObject({ endpoint: z.url(), topicArn: snsTopicArn.optional() }))
          .default([]),
        signatureVersion: z.enum(['1', '2']).default('1'),
        /** Overrides SigningCertURL, e.g. with an amazonaws.com-shaped URL for validators that insist. */
        signingCertUrl: z.url().optional(),
        retry: z
          .strictObject({
            maxAttempts: z.number().int().positive().default(4),
            minDelayMs: ms.default(1_000),
            maxDelayMs: ms.default(20_000),
          })
          .prefault({}),
        deliveryTimeoutMs: positiveMs.default(15_000),
        concurrency: z.number().int().positive().default(32),
      })
      .prefault({}),
    media: z
      .strictObject({
        /** S3 objects are read from `<s3Root>/<bucket>/<key>`; an absolute key is read as is. */
        s3Root: z.string().optional(),
      })
      .prefault({}),
    logs: z
      .strictObject({
        maxSends: z.number().int().positive().default(1_000_000),
        maxRejections: z.number().int().positive().default(1_000_000),
        maxEvents: z.number().int().positive().default(100_000),
      })
      .prefault({}),
  })
  .superRefine((config, ctx) => {
    const wabas = config.wabas ?? [];
    const seen = new Set<string>();
    const unique = (value: string | undefined, path: (string | number)[]): void => {
      if (value === undefined) return;
      if (seen.has(value)) ctx.addIssue({ code: 'custom', path, message: `duplicate id ${value}` });
      seen.add(value);
    };
    wabas.forEach((waba, w) => {
      unique(waba.id, ['wabas', w, 'id']);
      unique(waba.wabaId, ['wabas', w, 'wabaId']);
      waba.phoneNumbers.forEach((phone, p) => {
        unique(phone.id, ['wabas', w, 'phoneNumbers', p, 'id']);
        unique(phone.metaPhoneNumberId, ['wabas', w, 'phoneNumbers', p, 'metaPhoneNumberId']);
      });
      const templates = new Set<string>();
      waba.templates.forEach((t, i) => {
        const key = `${t.name}/${t.language}`;
        if (templates.has(key)) {
          ctx.addIssue({
            code: 'custom',
            path: ['wabas', w, 'templates', i],
            message: `duplicate template ${key}`,
          });
        }
        templates.add(key);
      });
    });
  });

/** The configuration as written (optional fields may be left out). */
export type EmulatorConfig = z.input<typeof emulatorConfigSchema>;
/** The configuration with every default filled in. */
export type ResolvedConfig = Omit<z.output<typeof emulatorConfigSchema>, 'wabas'> & {
  wabas: NonNullable<z.output<typeof emulatorConfigSchema>['wabas']>;
};
export type WabaConfig = ResolvedConfig['wabas'][number];
export type PhoneNumberConfig = WabaConfig['phoneNumbers'][number];
export type TemplateConfig = WabaConfig['templates'][number];
export type SignupConfig = ResolvedConfig['signups'][number];

/** A configuration that failed validation; the message names every bad field. */
export class EmulatorConfigError extends Error {
  override name = 'EmulatorConfigError';
}

/** Formats zod issues as `path: problem` lines. */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .map((issue) => {
      const path = issue.path.map((p, i) =>
        typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${String(p)}`,
      );
      return `${path.join('') || '(root)'}: ${issue.message}`;
    })
    .join('; ');
}

/** Validates a configuration and fills in defaults; with no `wabas` the demo world is used. */
export function resolveConfig(input: unknown = {}, source = 'emulator config'): ResolvedConfig {
  const parsed = emulatorConfigSchema.safeParse(input);
  if (!parsed.success)
    throw new EmulatorConfigError(`invalid ${source}: ${formatIssues(parsed.error.issues)}`);
  const wabas = parsed.data.wabas ?? z.array(wabaSchema).parse(demoWabas());
  // Checked after the demo world is filled in, since its WABAs need a portfolio too.
  if (parsed.data.messagingLimitScope === 'portfolio') {
    const known = new Set(parsed.data.portfolios.map((p) => p.id));
    const missing = wabas.flatMap((w, i) => (known.has(w.portfolioId) ? [] : [`wabas[${i}].portfolioId`]));
    if (missing.length > 0) {
      throw new EmulatorConfigError(
        `invalid ${source}: ${missing.join(', ')}: the portfolio is not listed in portfolios (needed when messagingLimitScope is portfolio)`,
      );
    }
  }
  return { ...parsed.data, wabas };
}

/** Reads and validates a JSON configuration file. */
export async function loadConfigFile(path: string): Promise<ResolvedConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new EmulatorConfigError(`cannot read emulator config ${path}: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new EmulatorConfigError(`emulator config ${path} is not valid JSON: ${(err as Error).message}`);
  }
  return resolveConfig(json, `emulator config ${path}`);
}

/** Merges rule layers, lowest first: a layer's nested objects merge member by member, other values replace. */
export function mergeRules(...layers: (RulesOverride | undefined)[]): Rules {
  const out = structuredClone(DEFAULT_RULES) as unknown as Record<string, unknown>;
  for (const layer of layers) {
    for (const [key, value] of Object.entries(layer ?? {})) {
      if (value === undefined) continue;
      const below = out[key];
      const nested = typeof value === 'object' && !Array.isArray(value) && typeof below === 'object';
      out[key] = nested ? { ...(below as object), ...stripUndefined(value) } : value;
    }
  }
  return out as unknown as Rules;
}

function stripUndefined(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined));
}
