/**
 * GET /api/v1/websec/headers (read): the grade of every `headers` check in the config, graded
 * when asked and kept for CACHE_MS (a grade costs a few requests to the site; `?refresh=true`
 * grades again). What the dashboard's security page shows; the same report `shipshape headers`
 * prints.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { parse } from '../core/http/problem.js';
import type { HeadersCheckGrade } from './api-types.js';
import { gradeAtLeast, gradeHeaders, type HeaderReport } from './headers.js';

export type { HeadersCheckGrade };

export const CACHE_MS = 10 * 60_000;
const MAX_TARGETS = 50;


interface Target {
  service: string;
  check: string | null;
  url: string;
  min_grade: string;
  timeout?: number;
}

/** The `headers` checks of a raw config (services.<name>.checks[].headers). */
export function headersTargets(raw: unknown): Target[] {
  const out: Target[] = [];
  const services = (raw as { services?: Record<string, { checks?: unknown[] }> } | undefined)?.services ?? {};
  for (const [service, def] of Object.entries(services)) {
    for (const c of def?.checks ?? []) {
      const h = (c as { headers?: { url?: unknown; min_grade?: unknown; timeout?: unknown }; name?: unknown })?.headers;
      if (!h || typeof h.url !== 'string') continue;
      out.push({ service, check: typeof (c as { name?: unknown }).name === 'string' ? ((c as { name: string }).name) : null, url: h.url, min_grade: typeof h.min_grade === 'string' ? h.min_grade : 'B', ...(typeof h.timeout === 'number' ? { timeout: h.timeout } : {}) });
    }
  }
  return out.slice(0, MAX_TARGETS);
}

const query = z.object({ refresh: z.enum(['true', 'false']).optional() }).strict();

export function registerWebsecRoutes(app: FastifyInstance, deps: { raw: () => unknown; now: () => number }): void {
  const cache = new Map<string, { at: number; run: Promise<{ report: HeaderReport | null; error: string | null }> }>();
  const gradeOf = (t: Target, refresh: boolean) => {
    const hit = cache.get(t.url);
    if (hit && !refresh && deps.now() - hit.at < CACHE_MS) return hit;
    const entry = {
      at: deps.now(),
      run: gradeHeaders(t.url, t.timeout ? { timeoutMs: t.timeout } : {}).then(
        (report) => ({ report, error: null }),
        (e: unknown) => ({ report: null, error: (e as Error).message }),
      ),
    };
    if (cache.size > 200) cache.clear();
    cache.set(t.url, entry);
    return entry;
  };

  app.get('/api/v1/websec/headers', { config: { scope: 'read' as const } }, async (req): Promise<{ items: HeadersCheckGrade[] }> => {
    const q = parse(query, req.query, 'query');
    const targets = headersTargets(deps.raw());
    const items = await Promise.all(
      targets.map(async (t) => {
        const g = gradeOf(t, q.refresh === 'true');
        const r = await g.run;
        return { service: t.service, check: t.check, url: t.url, min_grade: t.min_grade, graded_at: new Date(g.at).toISOString(), ok: r.report ? gradeAtLeast(r.report.grade, t.min_grade) : false, report: r.report, error: r.error };
      }),
    );
    return { items };
  });
}
