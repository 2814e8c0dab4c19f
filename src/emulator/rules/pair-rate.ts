/**
 * Pair rate (business number → one user): one message per `intervalMs`, with a burst of `burst` that
 * borrows the time it would have taken. That is the generic cell rate algorithm: each user has a
 * theoretical arrival time (TAT); a message at `now` fits when TAT − now ≤ (burst − 1)·interval, and
 * pushes TAT one interval further. After a burst of 45 the next message fits 6 s later, and so on.
 */
export class PairRateLimiter {
  private tat = new Map<string, number>();

  /** Whether a message to `user` at `now` would exceed the pair rate. */
  wouldExceed(user: string, now: number, intervalMs: number, burst: number): boolean {
    const tat = this.tat.get(user);
    if (tat === undefined) return false;
    return Math.max(tat, now) - now > (burst - 1) * intervalMs;
  }

  /** Records a message to `user`. */
  record(user: string, now: number, intervalMs: number): void {
    const tat = this.tat.get(user) ?? now;
    this.tat.set(user, Math.max(tat, now) + intervalMs);
    // Users whose TAT has passed are back to a full burst; forget them so the map stays small.
    if (this.tat.size > 100_000) this.prune(now);
  }

  private prune(now: number): void {
    for (const [user, tat] of this.tat) if (tat <= now) this.tat.delete(user);
  }
}
