/**
 * Async work run one at a time, in order: a service whose timer and API calls must not interleave
 * (two firings of one alert must not open two incidents). A failure rejects its own caller and
 * does not stop what comes after.
 */
export class Serial {
  private chain: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => undefined);
    return next;
  }

  /** Wait for the work queued so far. */
  async idle(): Promise<void> {
    await this.chain;
  }
}

/**
 * Handle items in lots: what arrives while a run is queued joins it, so a burst (a push of 100
 * alerts, published together) is handled once, in arrival order. `schedule` queues a run (on a
 * Serial, a promise chain…); the returned function adds one item.
 */
export function lots<T>(schedule: (run: () => Promise<void>) => void, handle: (lot: T[]) => Promise<void>): (item: T) => void {
  let held: T[] = [];
  return (item) => {
    held.push(item);
    if (held.length > 1) return; // a run is queued for this lot already
    schedule(async () => {
      const lot = held;
      held = [];
      await handle(lot);
    });
  };
}

