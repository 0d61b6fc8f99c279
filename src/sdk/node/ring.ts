/**
 * A bounded double-ended queue: pushing onto a full queue drops the oldest item (and says so), so
 * an app whose Shipshape is away holds at most `capacity` items, never more.
 */
export class Ring<T> {
  private readonly items: (T | undefined)[];
  private head = 0;
  private size = 0;

  constructor(readonly capacity: number) {
    this.items = new Array<T | undefined>(capacity);
  }

  get length(): number {
    return this.size;
  }

  /** Add the newest item; returns how many items were dropped to make room (0 or 1). */
  push(item: T): number {
    if (this.capacity === 0) return 1;
    if (this.size === this.capacity) {
      this.items[this.head] = item;
      this.head = (this.head + 1) % this.capacity;
      return 1;
    }
    this.items[(this.head + this.size) % this.capacity] = item;
    this.size++;
    return 0;
  }

  /** Take up to `n` of the oldest items. */
  shift(n: number): T[] {
    const k = Math.min(n, this.size);
    const out = new Array<T>(k);
    for (let i = 0; i < k; i++) {
      const idx = (this.head + i) % this.capacity;
      out[i] = this.items[idx] as T;
      this.items[idx] = undefined;
    }
    this.head = (this.head + k) % this.capacity;
    this.size -= k;
    return out;
  }

  /**
   * Put items back in front (a batch that failed to send: it is older than anything queued).
   * When they do not all fit, the oldest of them are dropped; returns how many.
   */
  unshift(batch: T[]): number {
    const room = this.capacity - this.size;
    const keep = Math.min(room, batch.length);
    const dropped = batch.length - keep;
    for (let i = batch.length - 1; i >= dropped; i--) {
      this.head = (this.head - 1 + this.capacity) % this.capacity;
      this.items[this.head] = batch[i];
      this.size++;
    }
    return dropped;
  }
}
