import { afterEach, describe, expect, it, vi } from 'vitest';
import { Scheduler } from '../../src/checks/scheduler.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('scheduler', () => {
  it('runs each job on its interval with jitter and reports lag', async () => {
    vi.useFakeTimers({ now: 0 });
    const runs: Record<string, number[]> = { a: [], b: [] };
    const lags: number[] = [];
    const s = new Scheduler({ concurrency: 10, run: async (id) => void runs[id]?.push(Date.now()), onLag: (ms) => lags.push(ms) });
    s.upsert({ id: 'a', every: 1000 });
    s.upsert({ id: 'b', every: 3000 });
    await vi.advanceTimersByTimeAsync(10_000);
    expect(runs.a?.length).toBeGreaterThanOrEqual(9);
    expect(runs.a?.length).toBeLessThanOrEqual(11);
    expect(runs.b?.length).toBeGreaterThanOrEqual(3);
    expect(runs.b?.length).toBeLessThanOrEqual(4);
    // intervals stay near 1s (jitter is ±1%)
    const gaps = (runs.a as number[]).slice(1).map((t, i) => t - (runs.a as number[])[i]!);
    for (const g of gaps) expect(Math.abs(g - 1000)).toBeLessThanOrEqual(20);
    expect(lags.every((l) => l < 50)).toBe(true);
    await s.stop();
  });

  it('starts the runs due within one slot together (one wake-up for many checks) and keeps each cadence', async () => {
    vi.useFakeTimers({ now: 0 });
    const starts = new Map<string, number[]>();
    const s = new Scheduler({ concurrency: 1000, run: async (id) => void (starts.get(id) ?? starts.set(id, []).get(id))?.push(Date.now()) });
    for (let i = 0; i < 1000; i++) s.upsert({ id: `c${i}`, every: 20_000 });
    await vi.advanceTimersByTimeAsync(20 * 20_000);
    const all = [...starts.values()].flat();
    // 1 % of 20 s: every run starts on a 200 ms boundary, so 1,000 checks wake the process at most
    // 100 times per interval instead of 1,000
    expect(all.every((t) => t % 200 === 0)).toBe(true);
    const wakeUps = new Set(all.filter((t) => t >= 20_000 && t < 40_000));
    expect(wakeUps.size).toBeLessThanOrEqual(100);
    expect(wakeUps.size).toBeGreaterThan(50); // still spread over the interval, not one burst
    // rounding up never slows the checks down (rounding the cadence itself would add ~100 ms a
    // run): over all checks the mean gap stays 20 s; the ±1 % jitter averages out over 19,000 gaps
    const gaps = [...starts.values()].flatMap((ts) => ts.slice(1).map((t, i) => t - (ts[i] as number)));
    expect(gaps.length).toBeGreaterThan(18_000);
    const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
    expect(Math.abs(mean - 20_000)).toBeLessThan(10);
    await s.stop();
  });

  it('never runs more than `concurrency` jobs at once and never overlaps one job with itself', async () => {
    vi.useFakeTimers({ now: 0 });
    let running = 0;
    let peak = 0;
    const active = new Set<string>();
    let overlap = false;
    const s = new Scheduler({
      concurrency: 3,
      run: async (id) => {
        if (active.has(id)) overlap = true;
        active.add(id);
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setTimeout(r, 1500)); // slower than the interval
        running--;
        active.delete(id);
      },
    });
    for (let i = 0; i < 10; i++) s.upsert({ id: `j${i}`, every: 1000 });
    await vi.advanceTimersByTimeAsync(20_000);
    expect(peak).toBe(3);
    expect(overlap).toBe(false);
    const stopped = s.stop();
    await vi.advanceTimersByTimeAsync(2000);
    await stopped;
  });

  it('removed jobs stop running; stop waits for running jobs', async () => {
    vi.useFakeTimers({ now: 0 });
    const runs: string[] = [];
    let finished = false;
    const s = new Scheduler({
      concurrency: 5,
      run: async (id) => {
        runs.push(id);
        if (id === 'slow') {
          await new Promise((r) => setTimeout(r, 2000)); // a job that takes 2s (fake time): stop() must wait for it
          finished = true;
        }
      },
    });
    s.upsert({ id: 'gone', every: 1000 }, 0);
    await vi.advanceTimersByTimeAsync(10);
    s.remove('gone');
    await vi.advanceTimersByTimeAsync(5000);
    expect(runs.filter((r) => r === 'gone')).toHaveLength(1);
    s.upsert({ id: 'slow', every: 10_000 }, 0);
    await vi.advanceTimersByTimeAsync(10);
    const stopped = s.stop(5000);
    await vi.advanceTimersByTimeAsync(2500);
    await stopped;
    expect(finished).toBe(true);
  });
});
