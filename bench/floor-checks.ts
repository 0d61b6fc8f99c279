/**
 * The floor of the http1k / http10k scenarios: a bare Node process that makes the very requests
 * Shipshape's checks make — `CHECKS` keep-alive GETs of `URL`, each every `EVERY_MS`, the first
 * at a random offset within the interval, started on the same grid as Shipshape's scheduler (the
 * runs due within a slot of 1 % of the interval, at most 250 ms, start together) — with undici
 * (the client the http check uses) and nothing else: no conditions, no history, no store, no
 * server. Whatever Shipshape spends above this process is its own overhead. `SLOT_MS=0` starts
 * each run on a timer of its own instead.
 *
 * `LIBS=1` first loads the libraries Shipshape's server is made of (fastify, zod, kysely,
 * better-sqlite3, pino, prom-client, yaml, commander) and opens an in-memory SQLite database,
 * without using them: the memory of the stack alone, before any of Shipshape's code.
 *
 * Prints "READY" once every job is scheduled; stops on SIGTERM/SIGINT.
 */
import { Agent, request } from 'undici';

const url = process.env.URL ?? '';
const checks = Number(process.env.CHECKS ?? 1000);
const every = Number(process.env.EVERY_MS ?? 20_000);
if (!url || !(checks > 0) || !(every > 0)) throw new Error('set URL, CHECKS and EVERY_MS');

if (process.env.LIBS === '1') {
  // loaded the way the server loads them; kept reachable so nothing is collected
  const libs = await Promise.all([import('fastify'), import('zod'), import('kysely'), import('pino'), import('prom-client'), import('yaml'), import('commander'), import('better-sqlite3')]);
  const Database = libs[7].default;
  (globalThis as { floorLibs?: unknown }).floorLibs = { libs, db: new Database(':memory:') };
}

// the same agent options as the http check kind (src/checks/kinds/http.ts)
const agent = new Agent({ keepAliveTimeout: 30_000, keepAliveMaxTimeout: 600_000 });
let failures = 0;

async function probe(): Promise<void> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), 5000);
  try {
    const res = await request(url, { headers: { 'user-agent': 'Shipshape-check/1' }, signal: ac.signal, dispatcher: agent });
    await res.body.dump();
    if (res.statusCode !== 200) failures++;
  } catch {
    failures++;
  } finally {
    clearTimeout(timer);
  }
}

const slot = Number(process.env.SLOT_MS ?? Math.min(250, Math.floor(every / 100)));
const slots = new Map<number, (() => void)[]>();
/** run `fn` at `due`, rounded up to the slot grid: one timer for all the runs of a slot */
function at(due: number, fn: () => void): void {
  if (!(slot > 1)) {
    setTimeout(fn, due - Date.now());
    return;
  }
  const t = Math.ceil(due / slot) * slot;
  let list = slots.get(t);
  if (!list) {
    const runs: (() => void)[] = [];
    list = runs;
    slots.set(t, runs);
    setTimeout(() => {
      slots.delete(t);
      for (const f of runs) f();
    }, t - Date.now());
  }
  list.push(fn);
}
for (let i = 0; i < checks; i++) {
  let due = Date.now() + Math.random() * Math.min(every, 60_000);
  const run = (): void => {
    void probe();
    due += every;
    at(due, run);
  };
  at(due, run);
}

const stop = (): void => {
  process.stdout.write(`failures ${failures}\n`);
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdout.write('READY\n');
