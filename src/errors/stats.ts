/**
 * In-memory error counts per Sentry project in 10-second buckets over the last 24 hours, for alert
 * rules and live views (synchronous, like the telemetry queries). Rebuilt from the stored events
 * at start.
 */
import type { Stat } from '../telemetry/index.js';

const BUCKET = 10_000;
export const STATS_HORIZON = 24 * 3_600_000;

interface Bucket {
  events: number;
  newIssues: number;
  issues: Set<number>;
}

export class ErrorStats {
  private readonly projects = new Map<number, Map<number, Bucket>>();
  private lastPrune = 0;

  constructor(private readonly now: () => number) {}

  record(project: number, issueId: number, at: number, isNew: boolean): void {
    if (at < this.now() - STATS_HORIZON) return;
    let p = this.projects.get(project);
    if (!p) this.projects.set(project, (p = new Map()));
    const t = Math.floor(at / BUCKET) * BUCKET;
    let b = p.get(t);
    if (!b) p.set(t, (b = { events: 0, newIssues: 0, issues: new Set() }));
    b.events++;
    if (isNew) b.newIssues++;
    b.issues.add(issueId);
    this.prune();
  }

  private prune(): void {
    const now = this.now();
    if (now - this.lastPrune < 60_000) return;
    this.lastPrune = now;
    const cutoff = now - STATS_HORIZON - BUCKET;
    for (const [project, buckets] of this.projects) {
      for (const t of buckets.keys()) if (t < cutoff) buckets.delete(t);
      if (buckets.size === 0) this.projects.delete(project);
    }
  }

  private *buckets(projects: number[], windowMs: number): Iterable<Bucket> {
    const from = this.now() - Math.min(windowMs, STATS_HORIZON);
    for (const project of projects) {
      const p = this.projects.get(project);
      if (!p) continue;
      for (const [t, b] of p) if (t + BUCKET > from) yield b;
    }
  }

  /** events per second over the window; samples = events */
  eventRate(projects: number[], windowMs: number): Stat {
    let n = 0;
    for (const b of this.buckets(projects, windowMs)) n += b.events;
    return { value: n / (Math.max(windowMs, 1) / 1000), samples: n };
  }

  /** distinct issues with events in the window; samples = events */
  issueCount(projects: number[], windowMs: number): Stat {
    const ids = new Set<number>();
    let n = 0;
    for (const b of this.buckets(projects, windowMs)) {
      n += b.events;
      for (const id of b.issues) ids.add(id);
    }
    return { value: ids.size, samples: n };
  }

  /** issues first seen in the window; samples = events */
  newIssueCount(projects: number[], windowMs: number): Stat {
    let n = 0;
    let fresh = 0;
    for (const b of this.buckets(projects, windowMs)) {
      n += b.events;
      fresh += b.newIssues;
    }
    return { value: fresh, samples: n };
  }
}
