/**
 * Runs each check on its own interval: one timer for all checks (a binary heap ordered by due
 * time), jitter so checks do not fire in lockstep, and bounded concurrency.
 *
 * Runs start on a grid: a run due at t starts at the next multiple of its slot (1 % of its
 * interval, at most 250 ms), so the runs due within one slot start together on one wake-up of the
 * process instead of one wake-up each. Waking up is most of what a run costs the process: a bare
 * Node client making 1,000 checks' requests every 20 s used 3.9 % of a core with a timer per
 * request and 2.1 % with requests started together every 250 ms (`bench/floor-checks.ts`). The
 * cadence is kept from the unrounded time, so rounding never makes a check run less often.
 */

export interface Job {
  id: string;
  every: number;
}

interface Entry {
  /** when it starts: `nominal` rounded up to the job's slot */
  due: number;
  /** when it is due by its interval (the cadence goes on from here) */
  nominal: number;
  seq: number;
  job: Job;
  /** bumped when a job is removed or replaced, so stale heap entries are skipped */
  gen: number;
}

class Heap {
  private readonly a: Entry[] = [];
  get size(): number {
    return this.a.length;
  }
  peek(): Entry | undefined {
    return this.a[0];
  }
  private less(i: number, j: number): boolean {
    const x = this.a[i] as Entry;
    const y = this.a[j] as Entry;
    return x.due < y.due || (x.due === y.due && x.seq < y.seq);
  }
  private swap(i: number, j: number): void {
    const t = this.a[i] as Entry;
    this.a[i] = this.a[j] as Entry;
    this.a[j] = t;
  }
  push(e: Entry): void {
    this.a.push(e);
    let i = this.a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }
  pop(): Entry | undefined {
    const top = this.a[0];
    const last = this.a.pop();
    if (this.a.length > 0 && last) {
      this.a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < this.a.length && this.less(l, m)) m = l;
        if (r < this.a.length && this.less(r, m)) m = r;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    return top;
  }
  clear(): void {
    this.a.length = 0;
  }
}

/** Longest slot runs are gathered into (see the top of this file). */
const MAX_SLOT_MS = 250;

/** `t` rounded up to the slot of a job that runs every `every` ms (1 %, at most MAX_SLOT_MS). */
function slotted(t: number, every: number): number {
  const slot = Math.min(MAX_SLOT_MS, Math.floor(every / 100));
  return slot > 1 ? Math.ceil(t / slot) * slot : t;
}

export interface SchedulerOptions {
  concurrency: number;
  /** run one job; the scheduler waits for it before running the same job again */
  run: (id: string) => Promise<void>;
  /** told how late each run started (ms) */
  onLag?: (ms: number) => void;
  now?: () => number;
  random?: () => number;
}

export class Scheduler {
  private readonly heap = new Heap();
  private readonly gens = new Map<string, number>();
  private readonly jobs = new Map<string, Job>();
  private readonly running = new Set<string>();
  private readonly inflight = new Set<Promise<void>>();
  private readonly waiting: Entry[] = [];
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private seq = 0;
  private stopped = false;
  private readonly now: () => number;
  private readonly random: () => number;

  constructor(private readonly opts: SchedulerOptions) {
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? Math.random;
  }

  get inFlight(): number {
    return this.running.size;
  }

  /**
   * Add or replace a job. The first run comes after a random delay within the interval (at most a
   * minute), so a thousand checks spread out instead of firing in one burst every interval.
   */
  upsert(job: Job, firstDelay?: number): void {
    const gen = (this.gens.get(job.id) ?? 0) + 1;
    this.gens.set(job.id, gen);
    this.jobs.set(job.id, job);
    const delay = firstDelay ?? this.random() * Math.min(job.every, 60_000);
    const nominal = this.now() + delay;
    // a run asked for now (firstDelay 0: a changed check) is not held back to the next slot
    this.heap.push({ due: delay === 0 ? nominal : slotted(nominal, job.every), nominal, seq: this.seq++, job, gen });
    this.arm();
  }

  remove(id: string): void {
    this.gens.set(id, (this.gens.get(id) ?? 0) + 1);
    this.jobs.delete(id);
  }

  has(id: string): boolean {
    return this.jobs.has(id);
  }

  private arm(): void {
    if (this.stopped) return;
    const top = this.heap.peek();
    if (!top) return;
    const at = top.due;
    if (this.timer && at >= this.timerAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => this.tick(), Math.max(0, at - this.now()));
    this.timer.unref?.();
  }

  private tick(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    if (this.stopped) return;
    const now = this.now();
    for (;;) {
      const top = this.heap.peek();
      if (!top || top.due > now) break;
      this.heap.pop();
      if (this.gens.get(top.job.id) !== top.gen) continue;
      this.waiting.push(top);
    }
    this.drain();
    this.arm();
  }

  private drain(): void {
    while (!this.stopped && this.waiting.length > 0 && this.running.size < this.opts.concurrency) {
      const e = this.waiting.shift() as Entry;
      if (this.gens.get(e.job.id) !== e.gen) continue;
      if (this.running.has(e.job.id)) {
        // still running from last time: try again on its next slot
        this.reschedule(e);
        continue;
      }
      this.start(e);
    }
  }

  private start(e: Entry): void {
    const startedAt = this.now();
    this.opts.onLag?.(Math.max(0, startedAt - e.due));
    this.running.add(e.job.id);
    const p = this.opts
      .run(e.job.id)
      .catch(() => undefined)
      .finally(() => {
        this.running.delete(e.job.id);
        this.inflight.delete(p);
        this.reschedule(e);
        this.drain();
      });
    this.inflight.add(p);
  }

  private reschedule(e: Entry): void {
    if (this.stopped || this.gens.get(e.job.id) !== e.gen) return;
    const job = this.jobs.get(e.job.id) ?? e.job;
    // keep the cadence (due + every), a little jitter (±1% up to 1s), and never schedule in the past
    const jitter = (this.random() * 2 - 1) * Math.min(job.every * 0.01, 1000);
    let nominal = e.nominal + job.every + jitter;
    const now = this.now();
    if (nominal < now) nominal = now + jitter * 0.5 + Math.abs(jitter);
    // the entry goes back into the heap (nothing else holds it once it has run): no new object per run
    e.due = slotted(nominal, job.every);
    e.nominal = nominal;
    e.seq = this.seq++;
    e.job = job;
    this.heap.push(e);
    this.arm();
  }

  /** Stop scheduling; wait up to `graceMs` for running checks to finish. */
  async stop(graceMs = 10_000): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.heap.clear();
    this.waiting.length = 0;
    let t: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...this.inflight]), new Promise((r) => (t = setTimeout(r, graceMs)))]);
    clearTimeout(t);
  }
}
