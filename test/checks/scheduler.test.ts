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
