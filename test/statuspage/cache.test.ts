import { describe, expect, it } from 'vitest';
import { prepare, RenderCache, type Rendered } from '../../src/statuspage/cache.js';

describe('the status page render cache', () => {
  it('answers a stale page at once while one refresh runs, and waits for a fresh one when it is too old', async () => {
    const clock = { t: 1_000_000 };
    const cache = new RenderCache(5000, () => clock.t);
    let renders = 0;
    let release: (() => void) | undefined;
    const make = async (): Promise<Rendered> => {
      const n = ++renders;
      if (n === 2) await new Promise<void>((r) => (release = r)); // the refresh takes its time
      return prepare(`<p>render ${n}</p>`.repeat(100), 'text/html', clock.t);
    };
    const text = async (p: Promise<Rendered>) => (await p).body.toString('utf8').slice(0, 15);

    expect(await text(cache.get('page', make))).toBe('<p>render 1</p>');
    clock.t += 4000;
    expect(await text(cache.get('page', make))).toBe('<p>render 1</p>'); // fresh
    expect(renders).toBe(1);

    // past the TTL: the old page now, one refresh in the background however many ask
    clock.t += 2000;
    expect(await text(cache.get('page', make))).toBe('<p>render 1</p>');
    expect(await text(cache.get('page', make))).toBe('<p>render 1</p>');
    expect(renders).toBe(2);
    release?.();
    await new Promise((r) => setTimeout(r, 50));
    expect(await text(cache.get('page', make))).toBe('<p>render 2</p>');

    // older than twice the TTL: never served, the request waits for a new render
    clock.t += 10_001;
    expect(await text(cache.get('page', make))).toBe('<p>render 3</p>');

    // a change (clear) is never answered from the old render
    cache.clear();
    expect(await text(cache.get('page', make))).toBe('<p>render 4</p>');
  });

  it('compresses off the event loop and keeps the bytes a client can decode', async () => {
    const { gunzipSync, brotliDecompressSync } = await import('node:zlib');
    const r = await prepare('<p>ok</p>'.repeat(500), 'text/html', 0);
    expect(gunzipSync(r.gzip!).toString()).toBe(r.body.toString());
    expect(brotliDecompressSync(r.br!).toString()).toBe(r.body.toString());
  });
});

describe('ready(): the answer at hand without waiting', () => {
  it('gives a settled, fresh render only', async () => {
    const clock = { t: 0 };
    const cache = new RenderCache(5000, () => clock.t);
    expect(cache.ready('k')).toBeUndefined();
    let release: (() => void) | undefined;
    const pending = cache.get('k', async () => {
      await new Promise<void>((r) => (release = r));
      return prepare('<p>x</p>', 'text/html', 0);
    });
    expect(cache.ready('k')).toBeUndefined(); // still rendering
    release?.();
    await pending;
    expect(cache.ready('k')?.body.toString()).toBe('<p>x</p>');
    clock.t += 5000;
    expect(cache.ready('k')).toBeUndefined(); // stale: get() decides (answer it and refresh)
  });
});
