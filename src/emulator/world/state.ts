import {
  mergeRules,
  TIER_LIMITS,
  type PhoneNumberConfig,
  type QualityScore,
  type ResolvedConfig,
  type Rules,
  type RulesOverride,
  type TemplateCategory,
  type TemplateConfig,
  type TemplateStatus,
  type Tier,
} from '../config';
import {
  phoneNumberArn,
  phoneNumberIdFromHex,
  toWaId,
  wabaArn,
  wabaIdFromHex,
  type AccountRef,
} from '../ids';
import type { Rng } from '../random';
import { MessagingLimitLedger } from '../rules/messaging-limit';
import { PairRateLimiter } from '../rules/pair-rate';
import { ServiceWindows } from '../rules/service-window';
import { SlidingWindowLimiter } from '../rules/sliding-window';
import type { CancelTask } from '../scheduler';

export interface TemplateState {
  metaTemplateId: string;
  name: string;
  language: string;
  category: TemplateCategory;
  status: TemplateStatus;
  quality: QualityScore;
  body: string;
  header?:
    { format: 'TEXT' | 'IMAGE' | 'VIDEO' | 'DOCUMENT' | 'LOCATION'; text?: string | undefined } | undefined;
  footer?: string | undefined;
  /** Distinct `{{…}}` placeholders in the body: the parameters a send must supply. */
  bodyParams: number;
  /** Placeholders in a TEXT header. */
  headerParams: number;
  /** Quality pauses so far (the third disables the template). */
  pauseCount: number;
  pausedUntilMs?: number | undefined;
  cancelUnpause?: CancelTask | undefined;
}

export interface PhoneNumberState {
  id: string;
  arn: string;
  metaPhoneNumberId: string;
  /** E.164 form, e.g. +15550100001. */
  phoneNumber: string;
  displayPhoneNumber: string;
  displayName: string;
  quality: 'GREEN' | 'YELLOW' | 'RED';
  registered: boolean;
  pin?: string | undefined;
  /** The PIN Meta already holds for an imported number that is not registered with us yet. */
  existingPin?: string | undefined;
  /** False while Meta wants the number verified by a code (request_code / verify_code) first: 133006. */
  verified: boolean;
  /** The last code sent by request_code. */
  verificationCode?: string | undefined;
  dataLocalizationRegion?: string | undefined;
  waba: WabaState;
  rulesOverride?: RulesOverride | undefined;
  rules: Rules;
  /** Current messaging-limit tier (starts from the rules, moved by quality events). */
  tier: Tier;
  flagged: boolean;
  throughput: SlidingWindowLimiter;
  pairRate: PairRateLimiter;
  /** While set and in the future, the number is in a throughput upgrade (131057). */
  upgradeUntilMs?: number | undefined;
}

export interface WabaState {
  id: string;
  arn: string;
  wabaId: string;
  name: string;
  portfolioId: string;
  linkDateMs: number;
  eventDestinations: { eventDestinationArn: string; roleArn?: string | undefined }[];
  rulesOverride?: RulesOverride | undefined;
  phoneNumbers: PhoneNumberState[];
  templates: TemplateState[];
}

export interface MediaState {
  mediaId: string;
  phoneNumberId: string;
  mimeType: string;
  size: number;
  source: string;
}

/** A signup in progress: the token AWS hands back, the WABA it created, and until when it is valid. */
export interface PendingSignup {
  token: string;
  wabaId: string;
  expiresAtMs: number;
}

/** Numbers awaiting registration that were introduced by a signup. */
export interface SignupPhoneInput {
  id?: string | undefined;
  metaPhoneNumberId?: string | undefined;
  displayPhoneNumber: string;
  displayName: string;
  existingPin?: string | undefined;
  verified?: boolean | undefined;
}

const PLACEHOLDER = /\{\{\s*([^{}]+?)\s*\}\}/g;

/** Distinct placeholders in a template text. */
export function countPlaceholders(text: string | undefined): number {
  if (!text) return 0;
  return new Set(Array.from(text.matchAll(PLACEHOLDER), (m) => m[1])).size;
}

/**
 * Everything the platform knows: accounts, numbers, templates, users' windows and preferences, media,
 * and the counters the rules keep. Built from the configuration; the API handlers and the control
 * surface read and change it.
 */
export class World {
  readonly wabas = new Map<string, WabaState>();
  readonly numbers = new Map<string, PhoneNumberState>();
  readonly serviceWindows = new ServiceWindows();
  /** `<waba id>|<wa_id>` of users who stopped marketing messages from that business. */
  readonly marketingStopped = new Set<string>();
  readonly undeliverable: Set<string>;
  /** Times each user received a marketing message (for `marketingCap.maxPerUser`). */
  readonly marketingReceived = new Map<string, number[]>();
  readonly media = new Map<string, MediaState>();
  readonly signups = new Map<string, PendingSignup>();
  /** Which WABA an embedded-signup access token already produced. */
  readonly wabaByAccessToken = new Map<string, string>();
  /** Indexes of configured signups already turned into WABAs. */
  readonly usedSignups = new Set<number>();
  readonly registrationAttempts = new Map<string, number[]>();
  readonly portfolioTiers = new Map<string, Tier>();
  private ledgers = new Map<string, MessagingLimitLedger>();
  private seq = 0;

  constructor(
    readonly config: ResolvedConfig,
    readonly account: AccountRef,
    private readonly rng: Rng,
    now: number,
  ) {
    this.undeliverable = new Set(config.users.undeliverable.map(toWaId));
    for (const p of config.portfolios) this.portfolioTiers.set(p.id, p.tier);
    for (const waba of config.wabas) {
      const state = this.addWaba(waba, now);
      for (const phone of waba.phoneNumbers) this.addPhoneNumber(state, phone);
    }
    for (const user of config.users.marketingStopped) {
      for (const waba of this.wabas.values()) this.marketingStopped.add(`${waba.id}|${toWaId(user)}`);
    }
  }

  /** A fresh per-run sequence number (message ids, media ids). */
  nextSeq(): number {
    return ++this.seq;
  }

  /** Adds a WABA (configured, or created by a signup). */
  addWaba(
    cfg: {
      id?: string | undefined;
      wabaId?: string | undefined;
      name: string;
      portfolioId: string;
      eventDestinations?: { eventDestinationArn: string; roleArn?: string | undefined }[];
      rules?: RulesOverride | undefined;
      templates?: TemplateConfig[];
    },
    now: number,
  ): WabaState {
    const id = cfg.id ?? wabaIdFromHex(this.rng.hex(32));
    const waba: WabaState = {
      id,
      arn: wabaArn(this.account, id),
      wabaId: cfg.wabaId ?? this.rng.digits(15),
      name: cfg.name,
      portfolioId: cfg.portfolioId,
      linkDateMs: now,
      eventDestinations: cfg.eventDestinations ?? [],
      rulesOverride: cfg.rules,
      phoneNumbers: [],
      templates: (cfg.templates ?? []).map((t) => this.templateFromConfig(t)),
    };
    this.wabas.set(id, waba);
    return waba;
  }

  /** Adds a number to a WABA; configured numbers are registered unless the config says otherwise. */
  addPhoneNumber(
    waba: WabaState,
    cfg: PhoneNumberConfig | (SignupPhoneInput & { registered: false }),
  ): PhoneNumberState {
    const id = cfg.id ?? phoneNumberIdFromHex(this.rng.hex(32));
    const override = 'rules' in cfg ? cfg.rules : undefined;
    const rules = mergeRules(this.config.rules, waba.rulesOverride, override);
    const phone: PhoneNumberState = {
      id,
      arn: phoneNumberArn(this.account, id),
      metaPhoneNumberId: cfg.metaPhoneNumberId ?? this.rng.digits(15),
      phoneNumber: `+${toWaId(cfg.displayPhoneNumber)}`,
      displayPhoneNumber: cfg.displayPhoneNumber,
      displayName: cfg.displayName,
      quality: 'quality' in cfg ? cfg.quality : 'GREEN',
      registered: cfg.registered,
      pin: 'pin' in cfg ? cfg.pin : undefined,
      existingPin: 'existingPin' in cfg ? cfg.existingPin : undefined,
      verified: 'verified' in cfg ? (cfg.verified ?? true) : true,
      dataLocalizationRegion: 'dataLocalizationRegion' in cfg ? cfg.dataLocalizationRegion : undefined,
      waba,
      rulesOverride: override,
      rules,
      tier: rules.messagingLimit.tier,
      flagged: false,
      throughput: new SlidingWindowLimiter(rules.throughputMps, 1_000),
      pairRate: new PairRateLimiter(),
    };
    waba.phoneNumbers.push(phone);
    this.numbers.set(id, phone);
    return phone;
  }

  /** COMPLETE once every number of the WABA is registered. */
  registrationStatus(waba: WabaState): 'COMPLETE' | 'INCOMPLETE' {
    return waba.phoneNumbers.length > 0 && waba.phoneNumbers.every((p) => p.registered)
      ? 'COMPLETE'
      : 'INCOMPLETE';
  }

  /** A template by name and exact language code. */
  findTemplate(waba: WabaState, name: string, language: string): TemplateState | undefined {
    return waba.templates.find((t) => t.name === name && t.language === language);
  }

  /** A template by name and language, in one WABA (AWS or Meta id) or the first that has it. */
  findTemplateAnywhere(
    name: string,
    language: string,
    wabaId?: string,
  ): { waba: WabaState; template: TemplateState } | undefined {
    for (const waba of this.wabas.values()) {
      if (wabaId && waba.id !== wabaId && waba.wabaId !== wabaId) continue;
      const template = this.findTemplate(waba, name, language);
      if (template) return { waba, template };
    }
    return undefined;
  }

  /** The tier budget a number draws from: its own, or its business portfolio's. */
  budgetFor(phone: PhoneNumberState): {
    scopeKey: string;
    ledger: MessagingLimitLedger;
    tier: Tier;
    limit: number;
  } {
    const byPortfolio = this.config.messagingLimitScope === 'portfolio';
    const scopeKey = byPortfolio ? `portfolio:${phone.waba.portfolioId}` : `number:${phone.id}`;
    const tier = byPortfolio ? (this.portfolioTiers.get(phone.waba.portfolioId) ?? 'TIER_250') : phone.tier;
    let ledger = this.ledgers.get(scopeKey);
    if (!ledger) {
      const windowMs = byPortfolio
        ? mergeRules(this.config.rules).messagingLimit.windowMs
        : phone.rules.messagingLimit.windowMs;
      ledger = new MessagingLimitLedger(windowMs);
      this.ledgers.set(scopeKey, ledger);
    }
    return { scopeKey, ledger, tier, limit: TIER_LIMITS[tier] };
  }

  private templateFromConfig(t: TemplateConfig): TemplateState {
    return {
      metaTemplateId: t.metaTemplateId ?? this.rng.digits(16),
      name: t.name,
      language: t.language,
      category: t.category,
      status: t.status,
      quality: t.quality,
      body: t.body,
      header: t.header,
      footer: t.footer,
      bodyParams: countPlaceholders(t.body),
      headerParams: t.header?.format === 'TEXT' ? countPlaceholders(t.header.text) : 0,
      pauseCount: 0,
    };
  }
}
