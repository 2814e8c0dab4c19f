import { eq, sql } from 'drizzle-orm';
import type { Database } from './client';
import { numbers } from './schema';

export type NumberRow = typeof numbers.$inferSelect;

/** Limits assumed for a number nobody has described yet: the platform's defaults, tier at its lowest. */
export const DEFAULT_NUMBER_SETTINGS = { mps: 80, tierLimit: 250, tierWindowSeconds: 86_400 } as const;

/** The stored settings of a sending number, created with conservative defaults on first use. */
export async function ensureNumber(db: Database, phoneNumberId: string): Promise<NumberRow> {
  await db
    .insert(numbers)
    .values({ phoneNumberId, ...DEFAULT_NUMBER_SETTINGS })
    .onConflictDoNothing({ target: numbers.phoneNumberId });
  const [row] = await db.select().from(numbers).where(eq(numbers.phoneNumberId, phoneNumberId));
  if (!row) throw new Error(`number ${phoneNumberId} could not be stored`);
  return row;
}

export interface NumberSettingsPatch {
  mps?: number;
  /** null = unlimited. */
  tierLimit?: number | null;
  tierWindowSeconds?: number;
  tierScope?: 'number' | 'portfolio';
  portfolioId?: string | null;
  wabaId?: string;
  defaultTimezone?: string;
  qualityRating?: string;
  status?: string;
  displayPhoneNumber?: string;
}

/** Changes a number's stored settings (creating it if needed) and returns the new row. */
export async function updateNumber(
  db: Database,
  phoneNumberId: string,
  patch: NumberSettingsPatch,
): Promise<NumberRow> {
  await ensureNumber(db, phoneNumberId);
  await db
    .update(numbers)
    .set({ ...patch, updatedAt: sql`now()` })
    .where(eq(numbers.phoneNumberId, phoneNumberId));
  return ensureNumber(db, phoneNumberId);
}

/** The budget scope a number draws its tier from. */
export function tierScopeKey(row: Pick<NumberRow, 'tierScope' | 'portfolioId' | 'phoneNumberId'>): string {
  return row.tierScope === 'portfolio' && row.portfolioId
    ? `portfolio:${row.portfolioId}`
    : `number:${row.phoneNumberId}`;
}
