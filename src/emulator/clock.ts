/**
 * The emulator's time: an injectable base clock plus an offset the control surface can move forward,
 * so tests and demos can jump over a 24 h window or a 3 h template pause without waiting.
 */
export class EmulatorClock {
  private offsetMs = 0;

  constructor(private readonly base: () => number = Date.now) {}

  /** Current emulator time in epoch milliseconds. */
  now(): number {
    return this.base() + this.offsetMs;
  }

  /** Moves time forward; time never goes back, because rolling windows assume it does not. */
  advance(ms: number): void {
    if (ms < 0) throw new RangeError('the emulator clock only moves forward');
    this.offsetMs += ms;
  }

  /** Drops the offset, used by a reset of the world. */
  resetOffset(): void {
    this.offsetMs = 0;
  }
}
