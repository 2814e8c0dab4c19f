/**
 * Messaging limit ("tier"): unique users reached by business-initiated conversations within a rolling
 * window, per budget scope (a number, or a business portfolio). A user counts from the moment a
 * template reaches them outside a customer-service window, for `windowMs`; while counted, further
 * messages to them cost nothing more.
 */
export class MessagingLimitLedger {
  private reachedAt = new Map<string, number>();
  private order: { user: string; at: number }[] = [];
  private orderHead = 0;

  constructor(private readonly windowMs: number) {}

  /** Whether `user` is already counted in the window ending at `now`. */
  isCounted(user: string, now: number): boolean {
    this.expire(now);
    return this.reachedAt.has(user);
  }

  /** Users counted in the window ending at `now`. */
  used(now: number): number {
    this.expire(now);
    return this.reachedAt.size;
  }

  /** Counts `user` as reached at `now`. */
  reach(user: string, now: number): void {
    this.reachedAt.set(user, now);
    this.order.push({ user, at: now });
  }

  /** When the oldest counted user leaves the window (for the state view), or undefined. */
  nextRelease(now: number): number | undefined {
    this.expire(now);
    const oldest = this.order[this.orderHead];
    return oldest ? oldest.at + this.windowMs : undefined;
  }

  private expire(now: number): void {
    const cutoff = now - this.windowMs;
    while (this.orderHead < this.order.length) {
      const oldest = this.order[this.orderHead] as { user: string; at: number };
      if (oldest.at > cutoff) break;
      if (this.reachedAt.get(oldest.user) === oldest.at) this.reachedAt.delete(oldest.user);
      this.orderHead++;
    }
    // Compact now and then instead of shifting on every expiry.
    if (this.orderHead > 1024 && this.orderHead * 2 > this.order.length) {
      this.order = this.order.slice(this.orderHead);
      this.orderHead = 0;
    }
  }
}
