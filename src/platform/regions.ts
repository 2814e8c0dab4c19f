/**
 * Regions where Meta may keep a number's messages at rest (setupFinalization `dataLocalizationRegion`),
 * as AWS End User Messaging Social lists them. Pure, for the engine and the emulator alike.
 */
export const DATA_LOCALIZATION_REGIONS = [
  'AU', 'ID', 'IN', 'JP', 'SG', 'KR', 'DE', 'CH', 'GB', 'BR', 'BH', 'ZA', 'AE', 'CA',
] as const; // prettier-ignore

export type DataLocalizationRegion = (typeof DATA_LOCALIZATION_REGIONS)[number];
