import type { EmulatorClock } from './clock';

interface Task {
  due: number;
  seq: number;
  run: () => void;
  cancelled: boolean;
}

/** Cancels a scheduled task. */
export type CancelTask = () => void;

// A real timer never sleeps longer than this, so an injected clock that jumps is noticed soon.
const MAX_REAL_WAIT_MS = 1_000;

/**
 * Runs callbacks at emulator-clock times (status events, template unpauses). Tasks live in a binary
 * heap; one real timer is armed for the earliest. Because the clock can jump (control surface or an
 * injected clock), `runDue()` may also be called directly after time moves.
 */
export class Scheduler {
  private heap: Task[] = [];
  private seq = 0;
  private timer: NodeJS.Timeout | undefined;
  private armedDue = Infinity;
  private stopped = false;

  constructor(
    private readonly clock: EmulatorClock,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Runs `run` once the emulator clock reaches `dueMs`. */
  at(dueMs: number, run: () => void): CancelTask {
    const task: Task = { due: dueMs, seq: this.seq++, run, cancelled: false };
    this.push(task);
    if (dueMs < this.armedDue) this.arm();
    return () => {
      task.cancelled = true;
    };
  }

  /** Runs `run` after `delayMs` of emulator time. */
  after(delayMs: number, run: () => void): CancelTask {
    return this.at(this.clock.now() + Math.max(0, delayMs), run);
  }

  /** Number of tasks still waiting (cancelled ones included until they surface). */
  get size(): number {
    return this.heap.length;
  }

  /** Runs every task that is due now, in due order. */
  runDue(): void {
    const now = this.clock.now();
    for (let top = this.heap[0]; top !== undefined && top.due <= now; top = this.heap[0]) {
      this.pop();
      if (top.cancelled) continue;
      try {
        top.run();
      } catch (err) {
        this.onError(err);
      }
    }
    this.arm();
  }

  /**
   * Moves the clock forward by `ms`, running each task that falls due on the way at its own due time,
   * so events carry the timestamps they would have had in real time.
   */
  advanceBy(ms: number): void {
    const target = this.clock.now() + ms;
    for (let top = this.heap[0]; top !== undefined && top.due <= target; top = this.heap[0]) {
      const now = this.clock.now();
      if (top.due > now) this.clock.advance(top.due - now);
      this.pop();
      if (top.cancelled) continue;
      try {
        top.run();
      } catch (err) {
        this.onError(err);
      }
    }
    const now = this.clock.now();
    if (target > now) this.clock.advance(target - now);
    this.arm();
  }

  /** Forgets every task (reset). */
  clear(): void {
    this.heap = [];
    this.disarm();
  }

  /** Stops for good (close). */
  stop(): void {
    this.stopped = true;
    this.clear();
  }

  private arm(): void {
    this.disarm();
    const top = this.heap[0];
    if (top === undefined || this.stopped) return;
    const wait = Math.min(MAX_REAL_WAIT_MS, Math.max(0, top.due - this.clock.now()));
    this.armedDue = top.due;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.armedDue = Infinity;
      this.runDue();
    }, wait);
    // The HTTP server keeps the process alive; pending events alone should not.
    this.timer.unref();
  }

  private disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedDue = Infinity;
  }

  private less(a: Task, b: Task): boolean {
    return a.due < b.due || (a.due === b.due && a.seq < b.seq);
  }

  private push(task: Task): void {
    const h = this.heap;
    h.push(task);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = h[parent] as Task;
      if (!this.less(task, p)) break;
      h[i] = p;
      i = parent;
    }
    h[i] = task;
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop();
    if (last === undefined || h.length === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let smallest = last;
      let at = -1;
      const lt = h[l];
      const rt = h[r];
      if (lt !== undefined && this.less(lt, smallest)) {
        smallest = lt;
        at = l;
      }
      if (rt !== undefined && this.less(rt, smallest)) {
        smallest = rt;
        at = r;
      }
      if (at < 0) break;
      h[i] = smallest;
      i = at;
    }
    h[i] = last;
  }
}
