/**
 * Which SNS topics the service listens to. Anyone can subscribe their own endpoint to their own topic
 * and replay the validly signed messages they receive, so a good signature alone proves nothing about
 * the sender: the topic must be one of ours. An empty list accepts no topic at all.
 */
export class TopicAllowList {
  private readonly exact = new Set<string>();
  private readonly patterns: RegExp[] = [];

  /** Entries are topic ARNs; `*` matches any run of characters, e.g. `arn:aws:sns:*:123456789012:wa-*`. */
  constructor(entries: readonly string[]) {
    for (const entry of entries.map((e) => e.trim()).filter(Boolean)) {
      if (entry.includes('*')) {
        const escaped = entry.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'));
        this.patterns.push(new RegExp(`^${escaped.join('.*')}$`));
      } else this.exact.add(entry);
    }
  }

  get empty(): boolean {
    return this.exact.size === 0 && this.patterns.length === 0;
  }

  allows(topicArn: string): boolean {
    return this.exact.has(topicArn) || this.patterns.some((p) => p.test(topicArn));
  }
}
