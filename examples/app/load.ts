/**
 * A load loop for the example app: a steady mix of page views, product lookups and checkouts.
 *
 *   npx tsx examples/app/load.ts                       # 20 requests/s until Ctrl-C
 *   RPS=50 DURATION=60 npx tsx examples/app/load.ts    # 50 requests/s for a minute
 *
 * Environment: APP_URL (http://127.0.0.1:3000), RPS (20), DURATION (seconds, 0 = forever).
 * Prints a line of status counts every 5 seconds.
 */
import { fileURLToPath } from 'node:url';

export interface LoadOptions {
  url: string;
  rps: number;
  /** stop after this many requests (or when the signal aborts) */
  requests?: number;
  signal?: AbortSignal;
  /** called after each request is sent, with the live status counts */
  onTick?: (counts: Record<string, number>) => void;
}

const MIX: [string, string, number][] = [
  ['GET', '/api/products', 3],
  ['GET', '/api/products/1', 2],
  ['GET', '/api/products/2', 2],
  ['GET', '/api/products/3', 2],
  ['GET', '/api/products/999', 1],
  ['POST', '/api/checkout', 2],
  ['GET', '/api/health', 1],
];
const WEIGHTS = MIX.reduce((a, [, , w]) => a + w, 0);

function pick(): [string, string] {
  let r = Math.random() * WEIGHTS;
  for (const [m, p, w] of MIX) {
    r -= w;
    if (r < 0) return [m, p];
  }
  return ['GET', '/api/products'];
}

/** Send requests at `rps` until done; resolves to the status counts. */
export async function runLoad(o: LoadOptions): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  const inflight = new Set<Promise<void>>();
  const interval = 1000 / Math.max(0.1, o.rps);
  let sent = 0;
  let next = performance.now();
  while (!o.signal?.aborted && (o.requests === undefined || sent < o.requests)) {
    const [method, path] = pick();
    const p = fetch(`${o.url}${path}`, { method, signal: AbortSignal.timeout(10_000) })
      .then(async (res) => {
        await res.arrayBuffer();
        counts[res.status] = (counts[res.status] ?? 0) + 1;
      })
      .catch(() => {
        counts.error = (counts.error ?? 0) + 1;
      })
      .finally(() => inflight.delete(p));
    inflight.add(p);
    sent++;
    o.onTick?.(counts);
    next += interval;
    const wait = next - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  await Promise.all(inflight);
  return counts;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const url = process.env.APP_URL ?? 'http://127.0.0.1:3000';
  const rps = Number(process.env.RPS ?? 20);
  const duration = Number(process.env.DURATION ?? 0);
  const ac = new AbortController();
  process.once('SIGINT', () => ac.abort());
  if (duration > 0) setTimeout(() => ac.abort(), duration * 1000);
  console.log(`load: ${rps} requests/s against ${url}${duration > 0 ? ` for ${duration}s` : ' (Ctrl-C to stop)'}`);
  const started = Date.now();
  let last: Record<string, number> = {};
  const counts = runLoad({ url, rps, signal: ac.signal, onTick: (c) => (last = c) });
  const ticker = setInterval(() => console.log(`${Math.round((Date.now() - started) / 1000)}s`, JSON.stringify(last)), 5_000);
  const final = await counts;
  clearInterval(ticker);
  console.log('done', JSON.stringify(final));
}
