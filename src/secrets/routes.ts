/**
 * GET /api/v1/secrets/findings (read): the latest scan of every `secrets` check in the config,
 * scanned when asked and kept for CACHE_MS per target (`?refresh=true` scans again). Scans run one
 * at a time, each bounded by the check's timeout (default 5 min). Findings carry the scanner's
 * redacted `match` only: the secret itself never reaches the answer.
 */
import { dirname, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { parseDuration } from '../core/config/units.js';
import { CachedRuns } from '../core/cached-runs.js';
import { parse } from '../core/http/problem.js';
import type { SecretFindingView, SecretsCheckScan } from './api-types.js';
import { scanSecrets, type ScanReport } from './scan.js';

export type { SecretFindingView, SecretsCheckScan };

export const CACHE_MS = 10 * 60_000;
export const MAX_TARGETS = 20;
const MAX_FINDINGS = 500;
const MAX_SKIPPED = 100;
const DEFAULT_TIMEOUT_MS = 5 * 60_000;

interface Target {
  service: string;
  check: string | null;
  path: string;
  git_history: boolean;
  allowlist?: string;
  timeoutMs: number;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);

function timeoutOf(v: unknown): number {
  const ms = typeof v === 'number' ? v : typeof v === 'string' ? parseDuration(v) : undefined;
  return ms && ms > 0 ? ms : DEFAULT_TIMEOUT_MS;
}

/** The `secrets` checks of a raw config (services.<name>.checks[].secrets), at most MAX_TARGETS. */
export function secretsTargets(raw: unknown): Target[] {
  const out: Target[] = [];
  const services = (raw as { services?: Record<string, { checks?: unknown[] } | null> } | undefined)?.services ?? {};
  for (const [service, def] of Object.entries(services)) {
    for (const c of def?.checks ?? []) {
      const check = c as { name?: unknown; timeout?: unknown; secrets?: { path?: unknown; git_history?: unknown; allowlist?: unknown; timeout?: unknown } } | null;
      const s = check?.secrets;
      const path = str(s?.path);
      if (!s || !path) continue;
      const allowlist = str(s.allowlist);
      out.push({ service, check: str(check.name) ?? null, path, git_history: s.git_history === true, ...(allowlist ? { allowlist } : {}), timeoutMs: timeoutOf(s.timeout ?? check.timeout) });
    }
  }
  return out.slice(0, MAX_TARGETS);
}

const query = z.object({ refresh: z.enum(['true', 'false']).optional() }).strict();

type Outcome = { value: ScanReport | null; error: string | null };

function view(t: Target, at: number, r: Outcome): SecretsCheckScan {
  const findings: SecretFindingView[] = (r.value?.findings ?? []).slice(0, MAX_FINDINGS).map((f) => ({
    ruleId: f.ruleId,
    description: f.description,
    severity: f.severity,
    file: f.file,
    line: f.line,
    column: f.column,
    match: f.match,
    fingerprint: f.fingerprint,
    ...(f.commit ? { commit: f.commit } : {}),
  }));
  return {
    service: t.service,
    check: t.check,
    path: t.path,
    git_history: t.git_history,
    scanned_at: new Date(at).toISOString(),
    files: r.value?.files ?? 0,
    skipped: (r.value?.skipped ?? []).slice(0, MAX_SKIPPED).map((s) => ({ file: s.file, reason: s.reason })),
    findings,
    findings_total: r.value?.findings.length ?? 0,
    error: r.error,
  };
}

export interface SecretsRoutes {
  /** abort the scans in flight (Shipshape is stopping) */
  stop(): void;
}

export function registerSecretsRoutes(app: FastifyInstance, deps: { config: () => { file: string; raw: unknown }; now: () => number }): SecretsRoutes {
  // one scan at a time: a scan reads every file under its path
  const scans = new CachedRuns<ScanReport>({ ttlMs: CACHE_MS, now: deps.now, serial: true });
  const stopping = new AbortController();

  const scanOf = (t: Target, base: string, refresh: boolean) => {
    const at = (p: string) => resolve(base, p);
    const key = JSON.stringify([at(t.path), t.git_history, t.allowlist ? at(t.allowlist) : null]);
    // the timeout counts from when the scan starts, not from its wait in the queue
    let timeout: AbortSignal | undefined;
    return scans.get(
      key,
      async () => {
        if (stopping.signal.aborted) throw new Error('Shipshape is stopping');
        timeout = AbortSignal.timeout(t.timeoutMs);
        return scanSecrets({ path: at(t.path), gitHistory: t.git_history, ...(t.allowlist ? { allowlist: at(t.allowlist) } : {}), signal: AbortSignal.any([stopping.signal, timeout]) });
      },
      { refresh, errorOf: (e) => (timeout?.aborted && !stopping.signal.aborted ? `scan did not finish within ${Math.round(t.timeoutMs / 1000)}s (set the check's timeout)` : (e as Error).message) },
    );
  };

  app.get('/api/v1/secrets/findings', { config: { scope: 'read' as const } }, async (req): Promise<{ items: SecretsCheckScan[] }> => {
    const q = parse(query, req.query, 'query');
    const cfg = deps.config();
    const base = dirname(resolve(cfg.file));
    const targets = secretsTargets(cfg.raw);
    const entries = targets.map((t) => ({ t, e: scanOf(t, base, q.refresh === 'true') }));
    const items = await Promise.all(entries.map(async ({ t, e }) => view(t, e.at, await e.run)));
    return { items };
  });

  return { stop: () => stopping.abort(new Error('Shipshape is stopping')) };
}
