import { queryOptions } from '@tanstack/react-query';
import { api, enc } from '../shell/api.ts';
import type { Page } from '../shell/types.ts';
import type { Aggregate, FailedResult, ServiceSummary, StateChange } from './types.ts';

export type Resolution = 'minute' | 'hour' | 'day';

const base = (name: string) => `/api/v1/services/${enc(name)}`;

export const checksApi = {
  /** every service, following the cursor (the overview shows them all). */
  async services(signal?: AbortSignal): Promise<ServiceSummary[]> {
    const all: ServiceSummary[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 50; page++) {
      const res: Page<ServiceSummary> = await api.get<Page<ServiceSummary>>('/api/v1/services', { include: 'days,sparkline', limit: 100, cursor }, signal);
      all.push(...res.items);
      cursor = res.next_cursor;
      if (!cursor) break;
    }
    return all;
  },
  service: (name: string, signal?: AbortSignal) => api.get<ServiceSummary>(base(name), { include: 'days,sparkline' }, signal),
  stateChanges: (name: string, signal?: AbortSignal) => api.get<Page<StateChange>>(`${base(name)}/state-changes`, { limit: 50 }, signal),
  aggregates: (service: string, check: string, resolution: Resolution, from: Date, to: Date, signal?: AbortSignal) =>
    api.get<{ items: Aggregate[] }>(`${base(service)}/checks/${enc(check)}/aggregates`, { resolution, from: from.toISOString(), to: to.toISOString() }, signal),
  failures: (service: string, check: string, signal?: AbortSignal) => api.get<Page<FailedResult>>(`${base(service)}/checks/${enc(check)}/failures`, { limit: 20 }, signal),
  runService: (name: string) => api.post<ServiceSummary>(`${base(name)}/run`),
};

/** Query keys of the checks domain; the live handler marks them stale. */
export const checksKeys = {
  services: ['services'] as const,
  service: (name: string) => ['service', name] as const,
  stateChanges: (name: string) => ['state-changes', name] as const,
  failures: (name: string, check?: string | null) => (check === undefined ? (['failures', name] as const) : (['failures', name, check] as const)),
  aggregates: (name: string) => ['aggregates', name] as const,
};

/** All services with their days and sparkline (the overview; other domains' filters read it too). */
export const servicesQuery = (refetchInterval = 30_000) =>
  queryOptions({ queryKey: checksKeys.services, queryFn: ({ signal }) => checksApi.services(signal), refetchInterval });

export const servicePath = (name: string) => `/services/${encodeURIComponent(name)}`;
