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
