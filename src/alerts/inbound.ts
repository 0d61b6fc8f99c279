/**
 * Alerts pushed from elsewhere, read as their senders write them and turned into the engine's
 * inbound alerts: Prometheus' push (what it sends Alertmanager), Alertmanager's and Grafana's
 * webhook (version 4), and PagerDuty Events API v2.
 */
import { z } from 'zod';
import type { InboundAlert } from './engine.js';

/** Alertmanager's resolve_timeout: a pushed alert without endsAt resolves after this unless re-sent. */
export const RESOLVE_TIMEOUT = 5 * 60_000;

const labelName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'label names are letters, digits and "_" (not starting with a digit)').max(128);
/** Labels as pushed; an empty value means "no such label" and is dropped, as Alertmanager does. */
const labelsSchema = z
  .record(labelName, z.string().max(1024))
  .transform((l) => Object.fromEntries(Object.entries(l).filter(([, v]) => v !== '')))
  .refine((l) => Object.keys(l).length > 0, 'an alert needs at least one label with a value (alertname)')
  .refine((l) => Object.keys(l).length <= 64, 'at most 64 labels');
const annotationsSchema = z
  .record(z.string().max(256), z.string().max(16_384))
  .refine((a) => Object.keys(a).length <= 64, 'at most 64 annotations')
  .default({});

/**
 * Pushed endsAt values are capped at this long after receipt: an alert that says it lasts for
 * centuries would never resolve on its own (senders re-send firing alerts long before this).
 */
export const MAX_ENDS_AFTER = 365 * 86_400_000;

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/**
 * Parse an RFC 3339 date-time strictly (section 5.6: four-digit year, "T", seconds, "Z" or a
 * numeric offset; fractions up to nanoseconds, as Go writes them). Epoch milliseconds, or
 * undefined when the text is not one. A leap second (:60) counts as :59.999.
 */
export function parseRfc3339(s: string): number | undefined {
  const m = RFC3339.exec(s);
  if (!m) return undefined;
  const [y, mo, d, h, mi, sec] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 60) return undefined;
  const daysInMonth = new Date(Date.UTC(2000, mo, 0)).getUTCDate() - (mo === 2 && !(y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0)) ? 1 : 0);
  if (d > daysInMonth) return undefined;
  let offset = 0;
  if (!m[8]) {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 23 || om > 59) return undefined;
    offset = (m[9] === '-' ? -1 : 1) * (oh * 60 + om) * 60_000;
  }
  const ms = m[7] ? Number(m[7].slice(0, 3).padEnd(3, '0')) : 0;
  const t = new Date(0);
  t.setUTCFullYear(y, mo - 1, d); // Date.UTC would read years 0-99 as 1900-1999
  t.setUTCHours(h, mi, sec === 60 ? 59 : sec, sec === 60 ? 999 : ms);
  return t.getTime() - offset;
}

/** RFC 3339 time; Go's zero time (0001-01-01T00:00:00Z) and "" mean "not set". */
const time = z
  .string()
  .max(64)
  .optional()
  .transform((s, ctx) => {
    if (s === undefined || s === '' || s.startsWith('0001-01-01')) return undefined;
    const t = parseRfc3339(s);
    if (t === undefined) {
      ctx.addIssue({ code: 'custom', message: `expected an RFC 3339 time like 2024-05-01T12:00:00Z, got "${s.slice(0, 64)}"` });
      return z.NEVER;
    }
    return t;
  });

/** endsAt as pushed, capped at MAX_ENDS_AFTER from now. */
const capEnd = (t: number, now: number) => Math.min(t, now + MAX_ENDS_AFTER);

const promAlert = z.looseObject({
  labels: labelsSchema,
  annotations: annotationsSchema,
  startsAt: time,
  endsAt: time,
  generatorURL: z.string().max(2048).optional(),
});
export const promBody = z.array(promAlert).max(1000, 'at most 1000 alerts per request');

export const amBody = z.looseObject({
  version: z.string().max(10).optional().refine((v) => v === undefined || v === '4', 'expected version "4" (the Alertmanager webhook payload)'),
  status: z.enum(['firing', 'resolved']).optional(),
  alerts: z
    .array(
      z.looseObject({
        status: z.enum(['firing', 'resolved']).optional(),
        labels: labelsSchema,
        annotations: annotationsSchema,
        startsAt: time,
        endsAt: time,
        generatorURL: z.string().max(2048).optional(),
        fingerprint: z.string().max(64).optional(),
      }),
    )
    .max(1000, 'at most 1000 alerts per request'),
});

export const pdBody = z
  .looseObject({
    routing_key: z.string().min(1).max(512),
    event_action: z.enum(['trigger', 'acknowledge', 'resolve']),
    dedup_key: z.string().min(1).max(255).optional(),
    client: z.string().max(1024).optional(),
    client_url: z.string().max(2048).optional(),
    payload: z
      .looseObject({
        summary: z.string().min(1).max(1024),
        severity: z.enum(['critical', 'error', 'warning', 'info']),
        source: z.string().min(1).max(255),
        timestamp: z.string().max(64).optional(),
        component: z.string().max(255).optional(),
        group: z.string().max(255).optional(),
        class: z.string().max(255).optional(),
        custom_details: z.unknown().optional(),
      })
      .optional(),
  })
  .superRefine((b, ctx) => {
    if (b.event_action === 'trigger' && !b.payload) ctx.addIssue({ code: 'custom', message: 'a trigger event needs a payload with summary, severity and source', path: ['payload'] });
    if (b.event_action !== 'trigger' && !b.dedup_key) ctx.addIssue({ code: 'custom', message: `an ${b.event_action} event needs the dedup_key of the triggered alert`, path: ['dedup_key'] });
  });


export function fromPrometheus(body: z.output<typeof promBody>, now: number): InboundAlert[] {
  return body.map((a) => ({
    labels: a.labels,
    annotations: a.annotations,
    startsAt: a.startsAt,
    endsAt: a.endsAt !== undefined ? capEnd(a.endsAt, now) : now + RESOLVE_TIMEOUT,
    generatorUrl: a.generatorURL,
  }));
}

export function fromAlertmanager(body: z.output<typeof amBody>, now: number): InboundAlert[] {
  return body.alerts.map((a) => ({
    labels: a.labels,
    annotations: a.annotations,
    resolved: (a.status ?? body.status) === 'resolved',
    startsAt: a.startsAt,
    // Alertmanager sends firing alerts with a zero endsAt: they last until it says resolved
    endsAt: (a.status ?? body.status) === 'resolved' ? (a.endsAt ?? now) : a.endsAt !== undefined ? capEnd(a.endsAt, now) : null,
    generatorUrl: a.generatorURL,
  }));
}

/** A PagerDuty event: a trigger becomes an alert labelled from its payload; acknowledge and resolve refer to it by dedup_key. */
export function fromPagerDuty(b: z.output<typeof pdBody>, newKey: () => string): { alert: InboundAlert; dedupKey: string } {
  const dedupKey = b.dedup_key ?? newKey();
  const key = { dedup_key: dedupKey };
  if (b.event_action === 'trigger' && b.payload) {
    const p = b.payload;
    const labels: Record<string, string> = { alertname: p.summary.slice(0, 200), severity: p.severity, source: p.source, dedup_key: dedupKey };
    if (p.component) labels.component = p.component;
    if (p.group) labels.group = p.group;
    if (p.class) labels.class = p.class;
    const annotations: Record<string, string> = { summary: p.summary };
    if (p.custom_details !== undefined) annotations.details = (typeof p.custom_details === 'string' ? p.custom_details : JSON.stringify(p.custom_details)).slice(0, 16_384);
    if (b.client) annotations.client = b.client;
    return { alert: { labels, annotations, key, endsAt: null, generatorUrl: b.client_url }, dedupKey };
  }
  return { alert: { labels: {}, annotations: {}, key, endsAt: null, resolved: b.event_action === 'resolve', acknowledge: b.event_action === 'acknowledge' }, dedupKey };
}
