/**
 * GET /api/v1/websec/headers (read): the grade of every `headers` check in the config, graded
 * when asked and kept for CACHE_MS (a grade costs a few requests to the site; `?refresh=true`
 * grades again). What the dashboard's security page shows; the same report `shipshape headers`
 * prints.
 *
 * GET /api/v1/websec/audits (read): the same for every `audit` check (`shipshape audit deps`):
 * audited when asked, kept for CACHE_MS, one audit at a time (each runs the package manager).
 */
import { dirname, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { CachedRuns } from '../core/cached-runs.js';
import { parse } from '../core/http/problem.js';
import type { AuditCheckResult, HeadersCheckGrade } from './api-types.js';
import { auditDeps, SEVERITIES, type AuditReport, type AuditSeverity } from './audit.js';
import { gradeAtLeast, gradeHeaders, type HeaderReport } from './headers.js';

export type { AuditCheckResult, HeadersCheckGrade };

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

interface AuditTarget {
  service: string;
  check: string | null;
  path: string;
  level: AuditSeverity;
}

/** The `audit` checks of a raw config (services.<name>.checks[].audit), at most 20. */
export function auditTargets(raw: unknown): AuditTarget[] {
  const out: AuditTarget[] = [];
  const services = (raw as { services?: Record<string, { checks?: unknown[] } | null> } | undefined)?.services ?? {};
  for (const [service, def] of Object.entries(services)) {
    for (const c of def?.checks ?? []) {
      const check = c as { name?: unknown; audit?: { path?: unknown; level?: unknown } } | null;
      const a = check?.audit;
      if (!a || typeof a.path !== 'string' || !a.path) continue;
      const level = (SEVERITIES as readonly string[]).includes(String(a.level)) ? (a.level as AuditSeverity) : 'high';
      out.push({ service, check: typeof check.name === 'string' ? check.name : null, path: a.path, level });
    }
  }
  return out.slice(0, 20);
}

const query = z.object({ refresh: z.enum(['true', 'false']).optional() }).strict();

export function registerWebsecRoutes(app: FastifyInstance, deps: { raw: () => unknown; now: () => number; file?: () => string }): void {
  const grades = new CachedRuns<HeaderReport>({ ttlMs: CACHE_MS, now: deps.now });
  const gradeOf = (t: Target, refresh: boolean) => grades.get(t.url, () => gradeHeaders(t.url, t.timeout ? { timeoutMs: t.timeout } : {}), { refresh });

  app.get('/api/v1/websec/headers', { config: { scope: 'read' as const } }, async (req): Promise<{ items: HeadersCheckGrade[] }> => {
    const q = parse(query, req.query, 'query');
    const targets = headersTargets(deps.raw());
    const items = await Promise.all(
      targets.map(async (t) => {
        const g = gradeOf(t, q.refresh === 'true');
        const r = await g.run;
        return { service: t.service, check: t.check, url: t.url, min_grade: t.min_grade, graded_at: new Date(g.at).toISOString(), ok: r.value ? gradeAtLeast(r.value.grade, t.min_grade) : false, report: r.value, error: r.error };
      }),
    );
    return { items };
  });

  // one audit at a time: each runs the package manager over the whole lockfile
  const audits = new CachedRuns<AuditReport>({ ttlMs: CACHE_MS, now: deps.now, serial: true });
  const auditOf = (dir: string, level: AuditSeverity, refresh: boolean) => audits.get(`${level}|${dir}`, () => auditDeps(dir, { level }), { refresh });

  app.get('/api/v1/websec/audits', { config: { scope: 'read' as const } }, async (req): Promise<{ items: AuditCheckResult[] }> => {
    const q = parse(query, req.query, 'query');
    const file = deps.file?.();
    const at = (p: string) => (file ? resolve(dirname(resolve(file)), p) : resolve(p));
    const entries = auditTargets(deps.raw()).map((t) => ({ t, e: auditOf(at(t.path), t.level, q.refresh === 'true') }));
    const items = await Promise.all(
      entries.map(async ({ t, e }): Promise<AuditCheckResult> => {
        const r = await e.run;
        return {
          service: t.service,
          check: t.check,
          path: t.path,
          level: t.level,
          audited_at: new Date(e.at).toISOString(),
          ok: r.value ? r.value.failing.length === 0 : false,
          manager: r.value?.manager ?? null,
          counts: r.value?.counts ?? null,
          advisories: r.value?.advisories.slice(0, 500) ?? [],
          failing: r.value?.failing.slice(0, 500) ?? [],
          error: r.error,
        };
      }),
    );
    return { items };
  });
}
