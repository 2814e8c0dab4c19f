/**
 * Tolerant readers for JSON of unknown shape. Platform payloads gain fields and values without notice,
 * so the ingest service reads what it understands and never throws on what it does not.
 */

export type JsonObject = Record<string, unknown>;

export function asObject(value: unknown): JsonObject | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as JsonObject)
    : undefined;
}

export function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** Objects of an array, skipping anything else. */
export function objects(value: unknown): JsonObject[] {
  return asArray(value).flatMap((item) => {
    const obj = asObject(item);
    return obj ? [obj] : [];
  });
}

/** A non-empty string; numbers are accepted too, because Meta sends some ids either way. */
export function asString(value: unknown): string | undefined {
  if (typeof value === 'string') return value.length > 0 ? value : undefined;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

export function asNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string' && value.trim() !== '') {
    const n = Number(value);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

/** Meta timestamps are Unix seconds, as a string or a number; ISO strings are accepted as well. */
export function asTime(value: unknown): Date | undefined {
  const seconds = asNumber(value);
  if (seconds !== undefined) return new Date(seconds * 1000);
  if (typeof value === 'string') {
    const ms = Date.parse(value);
    if (!Number.isNaN(ms)) return new Date(ms);
  }
  return undefined;
}

/** Parses a JSON string, or passes an already parsed value through; undefined when it is not JSON. */
export function parseMaybeJson(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return undefined;
  }
}
