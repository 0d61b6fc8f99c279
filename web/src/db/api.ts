import { keepPreviousData, queryOptions, useQueries, useQuery, type UseQueryResult } from '@tanstack/react-query';
import { servicesQuery } from '../checks/index.tsx';
import { api, enc, isNotFound } from '../shell/api.ts';
import type { AuditReport, BackupsReport, StatusReport, TopReport, TopSort } from './types.ts';

/** Query keys of the db domain; the live handler marks the migration status stale. */
export const dbKeys = {
  all: ['db'] as const,
  migrations: ['db', 'migrations'] as const,
  status: (service: string) => ['db', 'migrations', service] as const,
  top: (service: string, sort: TopSort) => ['db', 'top', service, sort] as const,
  backups: (service: string) => ['db', 'backups', service] as const,
  audit: (service: string) => ['db', 'audit', service] as const,
};

export const dbPath = (service?: string) => (service ? `/database/${encodeURIComponent(service)}` : '/database');

const base = (service: string) => `/api/v1/db/${enc(service)}`;

export const dbApi = {
  /** the migration status; 404 for a service without a `database:` section */
  migrations: (service: string, signal?: AbortSignal) => api.get<StatusReport>(`${base(service)}/migrations`, undefined, signal),
  /** what the database is busy with (the server connects for each call) */
  top: (service: string, sort: TopSort, signal?: AbortSignal) => api.get<TopReport>(`${base(service)}/top`, { limit: 10, sort }, signal),
  /** its backups, newest first, with their verified state */
  backups: (service: string, signal?: AbortSignal) => api.get<BackupsReport>(`${base(service)}/backups`, { limit: 20 }, signal),
  /** the security and health checklist (read-only; the server connects for each call) */
  audit: (service: string, signal?: AbortSignal) => api.get<AuditReport>(`${base(service)}/audit`, undefined, signal),
};

export function useAudit(service: string) {
  return useQuery({ queryKey: dbKeys.audit(service), queryFn: ({ signal }) => dbApi.audit(service, signal), staleTime: 60_000 });
}

export function useBackups(service: string) {
  return useQuery({ queryKey: dbKeys.backups(service), queryFn: ({ signal }) => dbApi.backups(service, signal), staleTime: 30_000 });
}

export const statusQuery = (service: string) => queryOptions({ queryKey: dbKeys.status(service), queryFn: ({ signal }) => dbApi.migrations(service, signal), staleTime: 30_000 });

/** Refreshed every 10 seconds while the page is open, like pg_activity. */
export const topQuery = (service: string, sort: TopSort) =>
  queryOptions({ queryKey: dbKeys.top(service, sort), queryFn: ({ signal }) => dbApi.top(service, sort, signal), refetchInterval: 10_000, placeholderData: keepPreviousData });

export function useTop(service: string, sort: TopSort) {
  return useQuery(topQuery(service, sort));
}

/** One service's migration status as the page needs it: the status, or the error it answered. */
export interface ServiceDatabase {
  name: string;
  status: StatusReport | undefined;
  error: unknown;
  refetch: () => unknown;
}

/**
 * The services that have a database: every service's migration status, asked for in parallel; a
 * 404 (no `database:` section) leaves the service out. `settled` is false while any is unanswered.
 */
export function useServiceDatabases(): { services: UseQueryResult<string[]>; databases: ServiceDatabase[]; settled: boolean } {
  const all = useQuery({ ...servicesQuery(60_000), select: (list) => list.map((s) => s.name) });
  const names = all.data ?? [];
  const statuses = useQueries({ queries: names.map((n) => statusQuery(n)) });
  const databases: ServiceDatabase[] = [];
  let settled = all.data !== undefined;
  names.forEach((name, i) => {
    const q = statuses[i];
    if (!q || (q.data === undefined && !q.isError)) {
      settled = false;
      return;
    }
    if (q.data === undefined && isNotFound(q.error)) return;
    databases.push({ name, status: q.data, error: q.data === undefined ? q.error : null, refetch: q.refetch });
  });
  return { services: all, databases, settled };
}
