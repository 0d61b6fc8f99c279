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

  const audits = new Map<string, { at: number; run: Promise<{ report: AuditReport | null; error: string | null }> }>();
  // one audit at a time: each runs the package manager over the whole lockfile
  let queue: Promise<unknown> = Promise.resolve();
  const auditOf = (dir: string, level: AuditSeverity, refresh: boolean) => {
    const key = `${level}|${dir}`;
    const hit = audits.get(key);
    if (hit && !refresh && deps.now() - hit.at < CACHE_MS) return hit;
    const run = queue.then(() =>
      auditDeps(dir, { level }).then(
        (report) => ({ report, error: null }),
        (e: unknown) => ({ report: null, error: (e as Error).message }),
      ),
    );
    queue = run;
    const entry = { at: deps.now(), run };
    if (audits.size > 200) audits.clear();
    audits.set(key, entry);
    return entry;
  };

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
          ok: r.report ? r.report.failing.length === 0 : false,
          manager: r.report?.manager ?? null,
          counts: r.report?.counts ?? null,
          advisories: r.report?.advisories.slice(0, 500) ?? [],
          failing: r.report?.failing.slice(0, 500) ?? [],
          error: r.error,
        };
      }),
    );
    return { items };
  });
}
