/**
 * "At most `limit` events in any window of `windowMs`": the definition of WhatsApp throughput the
 * emulator enforces. It keeps the times of the last `limit` events in a ring; a new event fits exactly
 * when the oldest of them is at least `windowMs` old. A sender that spaces messages 1000/MPS ms apart,
 * or keeps its own sliding window, never exceeds it; a token bucket with burst = MPS can (it allows up
 * to 2·MPS within one second), which is why the emulator does not use one.
 */
export class SlidingWindowLimiter {
  private ring: Float64Array;
  private head = 0; // index of the oldest stored event once the ring is full
  private size = 0;

  constructor(
    private limit: number,
    private readonly windowMs: number,
  ) {
    this.ring = new Float64Array(Math.max(1, limit));
  }

  /** Whether one more event at `now` would exceed the limit. */
  wouldExceed(now: number): boolean {
    if (this.size < this.limit) return false;
    return (this.ring[this.head] as number) > now - this.windowMs;
  }

  /** Records an event (whether or not it fits: inbound messages cannot be refused). */
  record(now: number): void {
    if (this.size < this.limit) {
      this.ring[(this.head + this.size) % this.limit] = now;
      this.size++;
    } else {
      this.ring[this.head] = now;
      this.head = (this.head + 1) % this.limit;
    }
  }

  /** Events within the window ending at `now`, for the state view. */
  countAt(now: number): number {
    let n = 0;
    for (let i = 0; i < this.size; i++) {
      if ((this.ring[(this.head + i) % this.limit] as number) > now - this.windowMs) n++;
    }
    return n;
  }

  /** Current limit. */
  get capacity(): number {
    return this.limit;
  }

  /** Changes the limit (a throughput upgrade), keeping the most recent events. */
  resize(limit: number): void {
    const kept: number[] = [];
    for (let i = 0; i < this.size; i++) kept.push(this.ring[(this.head + i) % this.limit] as number);
    this.limit = limit;
    this.ring = new Float64Array(Math.max(1, limit));
    this.head = 0;
    this.size = 0;
    for (const t of kept.slice(-limit)) this.record(t);
  }
}
