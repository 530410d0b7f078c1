/**
 * Bookkeeping for the gate's decisions, free of sockets: counts per key. (The per-IP failure
 * budget is the fleet state's, state/budget.ts, which the server reaches through its
 * FleetState.)
 * @module
 */

/** A count per key that forgets keys at zero, so its size follows what is open now. */
export class Tally {
  private readonly counts = new Map<string, number>();

  /** The count of `key`. */
  get(key: string): number {
    return this.counts.get(key) ?? 0;
  }

  /** Add one to `key`. */
  up(key: string): void {
    this.counts.set(key, this.get(key) + 1);
  }

  /** Take one from `key`. */
  down(key: string): void {
    const n = this.get(key) - 1;
    if (n <= 0) this.counts.delete(key);
    else this.counts.set(key, n);
  }

  /** The counts, for the adaptive controller's weighted load. */
  values(): IterableIterator<number> {
    return this.counts.values();
  }
}
