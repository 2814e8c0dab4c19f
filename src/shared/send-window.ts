/** Local daytime sending windows such as 09:00-20:00, checked in each recipient's own time zone. */

export interface SendWindow {
  /** Minutes after local midnight when sending may start. */
  startMin: number;
  /** Minutes after local midnight when sending must stop (exclusive); may be less than start (overnight). */
  endMin: number;
}

/** Parses "HH:MM-HH:MM"; throws a message that says what is expected. */
export function parseSendWindow(text: string): SendWindow {
  const match = /^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$/.exec(text.trim());
  if (!match) throw new Error(`send window "${text}" must look like 09:00-20:00`);
  const [h1, m1, h2, m2] = match.slice(1).map(Number) as [number, number, number, number];
  if (h1 > 24 || h2 > 24 || m1 > 59 || m2 > 59)
    throw new Error(`send window "${text}" has an impossible time`);
  const startMin = h1 * 60 + m1;
  const endMin = h2 * 60 + m2;
  if (startMin === endMin) throw new Error(`send window "${text}" is empty`);
  return { startMin, endMin };
}

export function formatSendWindow(w: SendWindow): string {
  const f = (m: number) =>
    `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
  return `${f(w.startMin)}-${f(w.endMin)}`;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function localClock(nowMs: number, timeZone: string): { minute: number; second: number } {
  let fmt = formatters.get(timeZone);
  if (!fmt) {
    fmt = new Intl.DateTimeFormat('en-GB', {
      timeZone,
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
    });
    formatters.set(timeZone, fmt);
  }
  const parts = fmt.formatToParts(new Date(nowMs));
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  return { minute: get('hour') * 60 + get('minute'), second: get('second') };
}

/** True when the zone name is one the runtime knows. */
export function isValidTimeZone(timeZone: string): boolean {
  // Asked once per imported row: building a formatter costs tens of microseconds, a look-up nothing.
  const known = timeZoneValidity.get(timeZone);
  if (known !== undefined) return known;
  let valid: boolean;
  try {
    new Intl.DateTimeFormat('en-GB', { timeZone });
    valid = true;
  } catch {
    valid = false;
  }
  if (timeZoneValidity.size >= 2_000) timeZoneValidity.clear();
  timeZoneValidity.set(timeZone, valid);
  return valid;
}

const timeZoneValidity = new Map<string, boolean>();

/**
 * Milliseconds until the window next opens in `timeZone`, or 0 when it is open now. Computed from the
 * local wall clock, so across a daylight-saving change it may be an hour off; the caller simply checks
 * again when it wakes.
 */
export function msUntilOpen(nowMs: number, timeZone: string, window: SendWindow): number {
  const { minute, second } = localClock(nowMs, timeZone);
  const { startMin, endMin } = window;
  const open =
    startMin < endMin ? minute >= startMin && minute < endMin : minute >= startMin || minute < endMin;
  if (open) return 0;
  const minutesAhead = (startMin - minute + 1440) % 1440;
  return (minutesAhead * 60 - second) * 1000;
}
