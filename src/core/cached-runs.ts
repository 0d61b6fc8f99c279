/**
 * Results of slow, read-only runs (a header grade, a secret scan, a dependency audit) kept per key
 * for a while, so a dashboard that polls does not redo them: `get(key, run)` answers the entry
 * younger than `ttlMs`, or starts `run` (after the one before it, with `serial`). A run's failure
 * is kept as its error message, like a result.
 */
export interface CachedRun<T> {
  /** when the run started */
  at: number;
  run: Promise<{ value: T; error: null } | { value: null; error: string }>;
}

export class CachedRuns<T> {
  private readonly entries = new Map<string, CachedRun<T>>();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: { ttlMs: number; now: () => number; serial?: boolean; max?: number }) {}

  get(key: string, run: () => Promise<T>, opts: { refresh?: boolean; errorOf?: (e: unknown) => string } = {}): CachedRun<T> {
    const hit = this.entries.get(key);
    if (hit && !opts.refresh && this.opts.now() - hit.at < this.opts.ttlMs) return hit;
    const errorOf = opts.errorOf ?? ((e: unknown) => (e as Error).message);
    const start = () =>
      run().then(
        (value) => ({ value, error: null as null }),
        (e: unknown) => ({ value: null, error: errorOf(e) }),
      );
    const p = this.opts.serial ? this.queue.then(start) : start();
    if (this.opts.serial) this.queue = p;
    const entry: CachedRun<T> = { at: this.opts.now(), run: p };
    if (this.entries.size >= (this.opts.max ?? 200)) this.entries.clear();
    this.entries.set(key, entry);
    return entry;
  }
}
