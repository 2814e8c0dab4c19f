/**
 * Notes the ingest service writes into the archive (`events_raw.error`) that readers of the archive rely
 * on, kept in one place so both sides agree on the text.
 */

/**
 * In the note of a WhatsApp event that came on a topic accepted for inbound SMS only: archived, never
 * applied, and no evidence for an onboarding either (anyone publishing to that topic could have sent it).
 * Earlier releases wrote it after the topic (`topic … is accepted for inbound SMS only (…)`), so readers
 * look for it anywhere in the note.
 */
export const SMS_ONLY_TOPIC_NOTE = 'accepted for inbound SMS only (WA_INGEST_SMS_TOPIC_ARNS)';
