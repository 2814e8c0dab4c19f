import type { CampaignStatus } from '../client/campaign-client';

/** A campaign status as a few readable lines. */
export function formatStatus(s: CampaignStatus): string {
  const c = s.counts;
  const lines = [
    `campaign ${s.campaignId}: ${s.state}${s.reason ? ` (${s.reason})` : ''}`,
    `  template ${s.template.name}/${s.template.language} from ${s.phoneNumberId}`,
    `  total ${c.total}: sent ${c.sent}, delivered ${c.delivered}, read ${c.read}, failed ${c.failed}, ` +
      `skipped ${c.skipped}, pending ${c.pending}` +
      (c.cancelled ? `, cancelled ${c.cancelled}` : '') +
      (c.expired ? `, expired ${c.expired}` : '') +
      (c.ambiguous ? `, ambiguous ${c.ambiguous}` : '') +
      (c.unknown ? `, unknown ${c.unknown}` : ''),
    `  tier ${s.tier.used}/${s.tier.limit ?? 'unlimited'}${s.tier.resetsAt ? `, frees up from ${s.tier.resetsAt}` : ''}`,
  ];
  if (s.eta) lines.push(`  eta ${s.eta}`);
  if (s.nextCheckAt) lines.push(`  next check ${s.nextCheckAt}`);
  return lines.join('\n');
}
