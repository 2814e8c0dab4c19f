/** One page of a log: items from `since`, the index to ask for next, and how many were ever appended. */
export interface LogPage<T> {
  items: T[];
  next: number;
  total: number;
  /** Oldest index still held (older entries were dropped to bound memory). */
  first: number;
}

/**
 * An append-only record (sends, rejections, violations, events) read incrementally by absolute index,
 * so a test or a report can follow a large run with `?since=<next>` without re-reading it. Past
 * `maxItems` the oldest entries are dropped; indexes stay absolute.
 */
export class AppendLog<T> {
  private items: T[] = [];
  private dropped = 0;

  constructor(private readonly maxItems: number) {}

  /** Appends and returns the entry's absolute index. */
  push(item: T): number {
    this.items.push(item);
    if (this.items.length > this.maxItems * 1.25) {
      const excess = this.items.length - this.maxItems;
      this.items = this.items.slice(excess);
      this.dropped += excess;
    }
    return this.dropped + this.items.length - 1;
  }

  /** Entries with index ≥ `since`, at most `limit`. */
  page(since: number, limit: number): LogPage<T> {
    const start = Math.max(0, since - this.dropped);
    const items = this.items.slice(start, start + limit);
    return {
      items,
      next: this.dropped + start + items.length,
      total: this.dropped + this.items.length,
      first: this.dropped,
    };
  }

  get total(): number {
    return this.dropped + this.items.length;
  }
}
