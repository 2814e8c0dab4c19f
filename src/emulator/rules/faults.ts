import type { AwsExceptionName, DelayRange, FaultConfig } from '../config';
import type { Surface } from '../meta/error-catalog';
import type { Rng } from '../random';

/** What the configured faults decided for one call. */
export interface FaultDecision {
  latencyMs: number;
  error?: {
    code?: number | undefined;
    awsError?: AwsExceptionName | undefined;
    surface?: Surface | undefined;
    message?: string | undefined;
  };
  lost?: 'destroy' | 'hang';
}

/** The call a fault may apply to. */
export interface FaultTarget {
  operation: string;
  phoneNumberId?: string | undefined;
  to?: string | undefined;
}

interface ActiveFault {
  config: FaultConfig;
  remaining: number;
}

/** Draws a delay from a fixed value or an inclusive range. */
export function drawDelay(rng: Rng, range: DelayRange): number {
  return typeof range === 'number' ? range : rng.intBetween(range[0], range[1]);
}

/**
 * Fault injection: errors by code at a rate, added latency, and "accepted but the response is lost".
 * Faults come from the configuration and can be replaced at run time; all draws use the seeded
 * `faults` stream, so a run with the same seed and the same calls fails the same way.
 */
export class FaultInjector {
  private active: ActiveFault[] = [];

  constructor(
    faults: FaultConfig[],
    private readonly rng: Rng,
  ) {
    this.replace(faults);
  }

  /** Replaces the active faults. */
  replace(faults: FaultConfig[]): void {
    this.active = faults.map((config) => ({ config, remaining: config.times ?? Number.POSITIVE_INFINITY }));
  }

  /** Adds faults to the active ones. */
  add(faults: FaultConfig[]): void {
    for (const config of faults)
      this.active.push({ config, remaining: config.times ?? Number.POSITIVE_INFINITY });
  }

  /** The active faults with how many firings remain. */
  list(): (FaultConfig & { remaining: number | null })[] {
    return this.active.map((a) => ({
      ...a.config,
      remaining: Number.isFinite(a.remaining) ? a.remaining : null,
    }));
  }

  /** Decides the faults for one call. */
  decide(target: FaultTarget): FaultDecision {
    const decision: FaultDecision = { latencyMs: 0 };
    if (this.active.length === 0) return decision;
    for (const fault of this.active) {
      const f = fault.config;
      if (f.operation && f.operation !== target.operation) continue;
      if (f.phoneNumberId && f.phoneNumberId !== target.phoneNumberId) continue;
      if (f.to && f.to.replace(/\D/g, '') !== target.to) continue;
      if (f.type === 'error' && decision.error) continue;
      if (f.type === 'response-lost' && decision.lost) continue;
      if (!this.rng.chance(f.rate)) continue;
      fault.remaining--;
      if (f.type === 'latency') decision.latencyMs += drawDelay(this.rng, f.ms);
      else if (f.type === 'error') {
        decision.error = { code: f.code, awsError: f.awsError, surface: f.surface, message: f.message };
      } else decision.lost = f.mode;
    }
    this.active = this.active.filter((a) => a.remaining > 0);
    return decision;
  }
}
