/**
 * Reads the emulator's send log and checks it against the platform's limits. Used by the demo, the
 * end-to-end tests and the benchmarks: the emulator saw every accepted send, so this is the
 * platform's-eye view of what the engine did.
 */

export interface LoggedSend {
  messageId: string;
  originationPhoneNumberId: string;
  to: string;
  acceptedAtMs: number;
  bizOpaqueCallbackData?: string;
}

/** Every accepted send, in order, paging through `GET /_emulator/sends`. */
export async function fetchSendLog(emulatorUrl: string, phoneNumberId?: string): Promise<LoggedSend[]> {
  const out: LoggedSend[] = [];
  let since = 0;
  for (;;) {
    const res = await fetch(`${emulatorUrl}/_emulator/sends?since=${since}&limit=50000`);
    if (!res.ok) throw new Error(`emulator send log: HTTP ${res.status}`);
    const page = (await res.json()) as { items: LoggedSend[]; next: number; total: number };
    out.push(...page.items);
    if (page.items.length === 0 || page.next >= page.total) break;
    since = page.next;
  }
  return phoneNumberId ? out.filter((s) => s.originationPhoneNumberId === phoneNumberId) : out;
}

export interface AuditLimits {
  mps: number;
  /** Unique users per rolling window; omit for unlimited. */
  tier?: number;
  tierWindowMs?: number;
}

export interface AuditResult {
  ok: boolean;
  problems: string[];
  sends: number;
  /** Most sends in any 1-second sliding window. */
  maxPerSecond: number;
  /** Most distinct users in any rolling tier window. */
  maxPerTierWindow: number;
  /** Callback data (campaign + recipient) seen more than once. */
  duplicates: number;
}

/** Checks one number's sends: rate per sliding second, users per rolling tier window, no recipient twice. */
export function auditSendLog(sends: readonly LoggedSend[], limits: AuditLimits): AuditResult {
  const times = sends.map((s) => s.acceptedAtMs).sort((a, b) => a - b);
  const maxPerSecond = maxInWindow(times, 1000);
  let maxPerTierWindow = 0;
  if (limits.tierWindowMs) maxPerTierWindow = maxDistinctUsersInWindow(sends, limits.tierWindowMs);
  const seen = new Map<string, number>();
  for (const s of sends) {
    const key = s.bizOpaqueCallbackData ?? `${s.originationPhoneNumberId}|${s.to}|${s.messageId}`;
    seen.set(key, (seen.get(key) ?? 0) + 1);
  }
  const duplicates = [...seen.values()].filter((n) => n > 1).length;
  const problems: string[] = [];
  if (maxPerSecond > limits.mps) problems.push(`${maxPerSecond} sends in one second (limit ${limits.mps})`);
  if (limits.tier !== undefined && maxPerTierWindow > limits.tier) {
    problems.push(`${maxPerTierWindow} users in one tier window (limit ${limits.tier})`);
  }
  if (duplicates > 0) problems.push(`${duplicates} recipients messaged more than once`);
  return {
    ok: problems.length === 0,
    problems,
    sends: sends.length,
    maxPerSecond,
    maxPerTierWindow,
    duplicates,
  };
}

function maxInWindow(sorted: number[], windowMs: number): number {
  let best = 0;
  let start = 0;
  for (let end = 0; end < sorted.length; end++) {
    while (sorted[end]! - sorted[start]! >= windowMs) start++;
    best = Math.max(best, end - start + 1);
  }
  return best;
}

function maxDistinctUsersInWindow(sends: readonly LoggedSend[], windowMs: number): number {
  const sorted = [...sends].sort((a, b) => a.acceptedAtMs - b.acceptedAtMs);
  const inWindow = new Map<string, number>();
  let best = 0;
  let start = 0;
  for (const s of sorted) {
    inWindow.set(s.to, (inWindow.get(s.to) ?? 0) + 1);
    while (s.acceptedAtMs - sorted[start]!.acceptedAtMs >= windowMs) {
      const old = sorted[start]!.to;
      const n = (inWindow.get(old) ?? 1) - 1;
      if (n === 0) inWindow.delete(old);
      else inWindow.set(old, n);
      start++;
    }
    best = Math.max(best, inWindow.size);
  }
  return best;
}
