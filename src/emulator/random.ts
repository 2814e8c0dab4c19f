/**
 * Seeded randomness. Each purpose (ids, faults, delivery, marketing cap, SNS) draws from its own stream,
 * so turning a fault on does not change the message ids of an otherwise identical run.
 */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number, stream: string) {
    // Mix the seed and the stream name into the four words of the sfc32 state.
    let h = 1779033703 ^ stream.length;
    const text = `${seed}:${stream}`;
    for (let i = 0; i < text.length; i++) {
      h = Math.imul(h ^ text.charCodeAt(i), 3432918353);
      h = (h << 13) | (h >>> 19);
    }
    const next = (): number => {
      h = Math.imul(h ^ (h >>> 16), 2246822507);
      h = Math.imul(h ^ (h >>> 13), 3266489909);
      return (h ^= h >>> 16) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    for (let i = 0; i < 12; i++) this.next();
  }

  /** A float in [0, 1) (sfc32). */
  next(): number {
    this.a >>>= 0;
    this.b >>>= 0;
    this.c >>>= 0;
    this.d >>>= 0;
    let t = (this.a + this.b) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.d = (this.d + 1) | 0;
    t = (t + this.d) | 0;
    this.c = (this.c + t) | 0;
    return (t >>> 0) / 4294967296;
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    if (p <= 0) return false;
    if (p >= 1) return true;
    return this.next() < p;
  }

  /** An integer in [min, max]. */
  intBetween(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** `n` lowercase hex digits. */
  hex(n: number): string {
    let out = '';
    while (out.length < n)
      out += Math.floor(this.next() * 0x10000)
        .toString(16)
        .padStart(4, '0');
    return out.slice(0, n);
  }

  /** `n` decimal digits, never starting with 0 (Meta ids are numbers). */
  digits(n: number): string {
    let out = String(this.intBetween(1, 9));
    while (out.length < n) out += String(this.intBetween(0, 9));
    return out;
  }

  /** A version-4-shaped UUID, as SNS uses for message ids. */
  uuid(): string {
    const h = this.hex(32);
    const variant = ((parseInt(h[16] ?? '0', 16) & 0x3) | 0x8).toString(16);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
  }
}

/** The independent streams of one emulator run. */
export interface RngStreams {
  ids: Rng;
  faults: Rng;
  delivery: Rng;
  recipients: Rng;
  /** AWS's own ids of published events (the envelope's `messageId`). */
  events: Rng;
}

/** Creates every stream from one seed. */
export function createRngStreams(seed: number): RngStreams {
  return {
    ids: new Rng(seed, 'ids'),
    faults: new Rng(seed, 'faults'),
    delivery: new Rng(seed, 'delivery'),
    recipients: new Rng(seed, 'recipients'),
    events: new Rng(seed, 'events'),
  };
}
