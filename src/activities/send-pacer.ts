import { setTimeout as sleep } from 'node:timers/promises';
import type { SendOutcome } from './send-one';

/** Chunks cover about this much of the number's timeline: short enough to brake fast and interleave fairly. */
const CHUNK_SECONDS = 0.25;
/**
 * A message may leave at most its chunk's grace after its slot; later, it goes back for a new one. The
 * grace is at least this, and grows with the lateness actually seen (a starved event loop, an embedded
 * database blocking it), so a slow process sends at a lower rate instead of sending back nearly everything.
 */
const MIN_LATE_GRACE_MS = 10;
const MAX_LATE_GRACE_MS = 250;
/**
 * The platform accepts a message somewhere between our dispatch and its answer, so the pacer allows for
 * the longest recent request latency (plus clock mapping error): at least this much,
 */
const MIN_ACCEPT_JITTER_MS = 4;
/** and this much before the first answers show what the endpoint's latency is (cold connections). */
const INITIAL_ACCEPT_JITTER_MS = 50;
/** Each chunk, the remembered worst latency and grace decay by this factor towards what is observed now. */
const DECAY = 0.7;

/**
 * Fraction of the number's MPS the pacer uses. Slots of all claimers on a number are at least one
 * interval I = 1/rate apart, and a message reaches the platform within [slot, slot + grace + jitter],
 * where jitter is the longest request latency seen lately (the platform accepts somewhere between our
 * dispatch and its answer). So any one-second window holds messages whose slots lie in an interval of
 * 1 s + grace + jitter: at most floor(rate × (1 s + grace + jitter)) + 1 of them, which stays within the
 * MPS while rate × (1 s + grace + jitter) < MPS.
 */
function effectiveSafety(mps: number, configured: number, jitterMs: number, graceMs: number): number {
  const bound = 1 / (1 + (graceMs + jitterMs) / 1000);
  return Math.min(configured, bound * (1 - 0.5 / Math.max(mps, 1)));
}

/** When each message of a chunk may leave: its slot (local clock) and the chunk's grace after it. */
export interface ChunkTiming {
  sendAtMs: readonly number[];
  graceMs: number;
}

/** What went out of a chunk: each message's outcome and, for those sent, when the answer came (local clock). */
export interface Dispatched {
  outcomes: SendOutcome[];
  answeredAt: number[];
}

export interface PacerOptions {
  /** The configured fraction of the number's MPS to use at most. */
  paceSafety: number;
  clock: () => number;
  /** The activity's cancellation: once aborted, nothing more is dispatched. */
  signal?: AbortSignal;
}

/**
 * The adaptive part of sending at a number's rate: it sets the interval between slots from the MPS and
 * what recent messages saw (request latency, lateness after their slots), sizes chunks to what this
 * process manages, and dispatches a chunk's messages on their slots. The slots themselves are claimed
 * on the database (src/db/pacer.ts), shared by every sender on the number.
 */
export class Pacer {
  private interval = 0;
  private size = 1;
  // Lateness allowed to the next chunk's messages, and the lateness of messages since it was last set.
  // It follows what most messages see (the 80th percentile), not a single pause: a pause sends a few
  // messages back, a starved process would send back nearly all of them.
  private grace = MIN_LATE_GRACE_MS;
  private lateness: number[] = [];
  // Worst request latency lately (ms): how late after dispatch the platform may count a message.
  private jitter = INITIAL_ACCEPT_JITTER_MS;
  private worstLatencySinceTune = 0;
  // Slots claimed but not used in time are lost capacity: when this process cannot keep up with the
  // number's rate (CPU, a slow endpoint), claim only about what it managed last time, growing back as it can.
  private capacity = Number.POSITIVE_INFINITY;

  constructor(
    private readonly options: PacerOptions,
    mps: number,
  ) {
    this.retune(mps);
  }

  /** Milliseconds between this sender's slots. */
  get intervalMs(): number {
    return this.interval;
  }

  /** How late after its slot a message of the next chunk may still leave. */
  get graceMs(): number {
    return this.grace;
  }

  /** The request latency the rate currently allows for. */
  get jitterMs(): number {
    return this.jitter;
  }

  /** Recipients to prepare for the next chunk: a chunk's worth, or about what this process managed lately. */
  get wanted(): number {
    return Math.max(1, Math.min(this.size, Math.ceil(this.capacity)));
  }

  /** Sets the rate for a number of `mps`, first folding in what the messages since the last call saw. */
  retune(mps: number): void {
    if (this.worstLatencySinceTune > 0) {
      this.jitter = Math.max(MIN_ACCEPT_JITTER_MS, this.worstLatencySinceTune, this.jitter * DECAY);
      this.worstLatencySinceTune = 0;
    }
    if (this.lateness.length > 0) {
      this.lateness.sort((a, b) => a - b);
      const typical = this.lateness[Math.floor(this.lateness.length * 0.8)] ?? 0;
      this.grace = Math.min(
        MAX_LATE_GRACE_MS,
        Math.max(MIN_LATE_GRACE_MS, typical * 1.25, this.grace * DECAY),
      );
      this.lateness = [];
    }
    const rate = Math.max(0.1, mps * effectiveSafety(mps, this.options.paceSafety, this.jitter, this.grace));
    this.interval = 1000 / rate;
    this.size = Math.max(1, Math.min(500, Math.round(rate * CHUNK_SECONDS)));
  }

  /** Learns from a chunk whose outcomes are in: `putBack` of its messages did not go out. */
  chunkDone(dispatched: number, putBack: number, braked: boolean): void {
    this.capacity = putBack > 0 && !braked ? Math.max(1, dispatched * 1.1) : this.capacity * 1.5;
  }

  /**
   * Sends message `i` of a chunk by calling `send(i, notAfterMs)` at or after its slot and at most the
   * chunk's grace after it; one that would be later (a stalled event loop, a slow preparation) goes back
   * for a fresh slot instead of crowding the next claimer's. The safety factor above is derived from
   * exactly this bound. `stopped` is asked before each message (a brake); `answered` sees each answer as
   * it comes, so a brake can stop the rest of the chunk at once.
   */
  async dispatch(
    chunk: ChunkTiming,
    send: (i: number, notAfterMs: number) => Promise<SendOutcome>,
    stopped: () => boolean,
    answered: (outcome: SendOutcome) => void,
  ): Promise<Dispatched> {
    const { clock, signal } = this.options;
    const inFlight: Promise<SendOutcome>[] = [];
    const answeredAt: number[] = [];
    for (let i = 0; i < chunk.sendAtMs.length; i++) {
      const slot = chunk.sendAtMs[i] ?? 0;
      for (let wait = slot - clock(); wait > 0; wait = slot - clock()) await sleep(Math.ceil(wait));
      const late = clock() - slot;
      this.lateness.push(late);
      if (late > chunk.graceMs || stopped() || signal?.aborted) {
        inFlight.push(Promise.resolve({ kind: 'not-sent' }));
        continue;
      }
      const dispatchedAt = clock();
      inFlight.push(
        send(i, slot + chunk.graceMs).then((outcome) => {
          const at = clock();
          answeredAt[i] = at;
          this.worstLatencySinceTune = Math.max(this.worstLatencySinceTune, at - dispatchedAt);
          answered(outcome);
          return outcome;
        }),
      );
    }
    return { outcomes: await Promise.all(inFlight), answeredAt };
  }
}
