/**
 * Group commit: callers submit one item each and wait for its result, while items are written in
 * batches, one transaction per batch. A batch starts as soon as a lane is free, with whatever has
 * queued up meanwhile, so a lone event is written at once and a flood is written in large batches:
 * the cost of a commit (its round trips and its flush to disk) is shared by everything in it.
 */
export class GroupCommitter<I, R> {
  private queue: { item: I; resolve: (r: R) => void; reject: (e: unknown) => void }[] = [];
  private active = 0;

  constructor(
    /** Writes a batch; returns one result per item, in order, or throws for all of them. */
    private readonly flush: (items: I[]) => Promise<R[]>,
    private readonly options: { maxBatch: number; lanes: number },
  ) {}

  submit(item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.active < this.options.lanes && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.options.maxBatch);
      this.active++;
      void this.flush(batch.map((b) => b.item))
        .then(
          (results) => batch.forEach((b, i) => b.resolve(results[i] as R)),
          (err: unknown) => batch.forEach((b) => b.reject(err)),
        )
        .finally(() => {
          this.active--;
          this.pump();
        });
    }
  }
}
