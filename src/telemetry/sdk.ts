/**
 * The Shipshape SDK's batch format (`POST /api/v1/ingest`):
 * `{ service, requests: [{route, method?, status, duration_ms, error?, count?, at?}],
 *    vitals: [{page, name: LCP|INP|CLS|FCP|TTFB, value, at?}], events: [{name, value?, count?, at?}] }`.
 * The envelope is checked with zod; items with a small hand-written check (this path takes
 * hundreds of thousands of samples a second), then fed to the rollups without building objects.
 * A batch with any bad item is refused whole (400 naming the items), so nothing is half-taken.
 */
import { z } from 'zod';
import { HttpProblem, parse } from '../core/http/problem.js';
import type { Rollup } from './rollup.js';

export const MAX_REQUESTS = 10_000;
export const MAX_VITALS = 2_000;
export const MAX_EVENTS = 10_000;
const VITALS = new Set(['LCP', 'INP', 'CLS', 'FCP', 'TTFB']);
/** client clocks are honoured within this much skew, else the arrival time is used */
export const SDK_PAST = 10 * 60_000;
export const SDK_FUTURE = 60_000;

export const batchSchema = z.object({
  service: z.string().min(1).max(100),
  requests: z.array(z.unknown()).max(MAX_REQUESTS).optional(),
  vitals: z.array(z.unknown()).max(MAX_VITALS).optional(),
  events: z.array(z.unknown()).max(MAX_EVENTS).optional(),
});
export type Batch = z.output<typeof batchSchema>;

type Item = Record<string, unknown>;

const isObj = (x: unknown): x is Item => typeof x === 'object' && x !== null && !Array.isArray(x);
const optNum = (v: unknown) => v === undefined || (typeof v === 'number' && Number.isFinite(v));

function checkRequest(x: unknown): string | null {
  if (!isObj(x)) return 'expected an object';
  const route = x.route;
  if (typeof route !== 'string' || route.length > 300) return 'route: expected a string (the route template, at most 300 characters)';
  if (x.method !== undefined && (typeof x.method !== 'string' || x.method.length > 16)) return 'method: expected a short string';
  const status = x.status;
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 0 || status > 999) return 'status: expected an HTTP status code (0 when the request failed before a response)';
  const d = x.duration_ms;
  if (typeof d !== 'number' || !(d >= 0) || d > 86_400_000) return 'duration_ms: expected a number of milliseconds >= 0';
  if (x.error !== undefined && typeof x.error !== 'boolean') return 'error: expected a boolean';
  if (x.count !== undefined && (typeof x.count !== 'number' || !Number.isInteger(x.count) || x.count < 1 || x.count > 1_000_000)) return 'count: expected a positive integer';
  if (!optNum(x.at)) return 'at: expected epoch milliseconds';
  return null;
}

function checkVital(x: unknown): string | null {
  if (!isObj(x)) return 'expected an object';
  if (typeof x.page !== 'string' || x.page.length > 300) return 'page: expected a string (the page route, at most 300 characters)';
  if (typeof x.name !== 'string' || !VITALS.has(x.name)) return 'name: expected one of LCP, INP, CLS, FCP, TTFB';
  const v = x.value;
  if (typeof v !== 'number' || !(v >= 0) || v > 3_600_000) return 'value: expected a number >= 0 (ms, unitless for CLS)';
  if (!optNum(x.at)) return 'at: expected epoch milliseconds';
  return null;
}

function checkEvent(x: unknown): string | null {
  if (!isObj(x)) return 'expected an object';
  if (typeof x.name !== 'string' || x.name.length === 0 || x.name.length > 100) return 'name: expected a non-empty string of at most 100 characters';
  if (!optNum(x.value)) return 'value: expected a number';
  if (x.count !== undefined && (typeof x.count !== 'number' || !Number.isInteger(x.count) || x.count < 1 || x.count > 1_000_000)) return 'count: expected a positive integer';
  if (!optNum(x.at)) return 'at: expected epoch milliseconds';
  return null;
}

function checkAll(list: unknown[] | undefined, where: string, check: (x: unknown) => string | null, errors: { path: string; message: string }[]): void {
  if (!list) return;
  for (let i = 0; i < list.length && errors.length < 10; i++) {
    const e = check(list[i]);
    if (e !== null) {
      const colon = e.indexOf(': ');
      const field = colon > 0 && !e.startsWith('expected') ? `.${e.slice(0, colon)}` : '';
      errors.push({ path: `body.${where}[${i}]${field}`, message: field ? e.slice(colon + 2) : e });
    }
  }
}

/** Parse and validate a batch (400 problem listing the first bad items). */
export function parseBatch(text: string): Batch {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new HttpProblem(400, 'Bad Request', `the body is not valid JSON: ${(e as Error).message}`);
  }
  const b = parse(batchSchema, json, 'body');
  const errors: { path: string; message: string }[] = [];
  checkAll(b.requests, 'requests', checkRequest, errors);
  checkAll(b.vitals, 'vitals', checkVital, errors);
  checkAll(b.events, 'events', checkEvent, errors);
  if (errors.length > 0) throw new HttpProblem(400, 'Bad Request', `invalid batch (nothing was taken): ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`, errors);
  return b;
}

/** The last batch `ingestBatch` gave a rollup and the ingest time it used: the route logs it next (wal.ts). */
export const takenBatches = new WeakMap<Rollup, { batch: Batch; now: number }>();

/** Feed a validated batch to the rollups; returns how many samples were taken and dropped. */
export function ingestBatch(rollup: Rollup, b: Batch, now: number): { accepted: number; dropped: number } {
  const service = b.service;
  takenBatches.set(rollup, { batch: b, now });
  let accepted = 0;
  let dropped = 0;
  const lo = now - SDK_PAST;
  const hi = now + SDK_FUTURE;
  const when = (at: unknown) => (typeof at === 'number' && at >= lo && at <= hi ? at : now);
  if (b.requests) {
    for (const x of b.requests as Item[]) {
      const status = x.status as number;
      const count = (x.count as number | undefined) ?? 1;
      const ok = rollup.request(service, x.route as string, x.duration_ms as number, status >= 500 || x.error === true, when(x.at), count, now);
      if (ok) accepted++;
      else dropped++;
    }
  }
  if (b.vitals) {
    for (const x of b.vitals as Item[]) {
      if (rollup.vital(service, x.page as string, x.name as string, x.value as number, when(x.at), now)) accepted++;
      else dropped++;
    }
  }
  if (b.events) {
    for (const x of b.events as Item[]) {
      if (rollup.event(service, x.name as string, (x.value as number | undefined) ?? 0, (x.count as number | undefined) ?? 1, when(x.at), now)) accepted++;
      else dropped++;
    }
  }
  return { accepted, dropped };
}
