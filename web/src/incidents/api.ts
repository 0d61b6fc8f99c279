import { queryOptions, useQuery } from '@tanstack/react-query';
import { api } from '../shell/api.ts';
import type { Page } from '../shell/types.ts';
import type { Incident, IncidentDetail, IncidentState, IncidentUpdate, PostmortemFields, Roles, SeverityLevel, Timeline, UpdateStatus } from './types.ts';

const base = (id: number) => `/api/v1/incidents/${id}`;

export interface ListFilter {
  state?: IncidentState;
  open?: boolean;
  severity?: string;
  service?: string;
}

export interface OpenBody {
  title: string;
  severity: string;
  services: string[];
  message?: string;
  roles?: Partial<Roles>;
}

export const incidentsApi = {
  list: (f: ListFilter, cursor?: string | null, limit = 50, signal?: AbortSignal) =>
    api.get<Page<Incident>>('/api/v1/incidents', { state: f.state, open: f.open ? 'true' : undefined, severity: f.severity, service: f.service, limit, cursor }, signal),
  severities: (signal?: AbortSignal) => api.get<{ items: SeverityLevel[] }>('/api/v1/incidents/severities', undefined, signal),
  get: (id: number, signal?: AbortSignal) => api.get<IncidentDetail>(base(id), undefined, signal),
  timeline: (id: number, signal?: AbortSignal) => api.get<Timeline>(`${base(id)}/timeline`, { limit: 1000 }, signal),
  changes: (id: number, window: string, signal?: AbortSignal) => api.get<Timeline>(`${base(id)}/changes`, { window, limit: 500 }, signal),
  postmortem: (id: number, tz: string, signal?: AbortSignal) => api.getText(`${base(id)}/postmortem`, { tz }, signal, 'text/markdown'),
  open: (body: OpenBody) => api.post<Incident>('/api/v1/incidents', body),
  act: (id: number, action: 'acknowledge' | 'mitigate' | 'resolve' | 'close' | 'reopen' | 'decline', message?: string) =>
    api.post<Incident>(`${base(id)}/${action}`, action === 'acknowledge' || !message ? {} : { message }),
  postUpdate: (id: number, status: UpdateStatus, message: string) => api.post<IncidentDetail>(`${base(id)}/updates`, { status, message }),
  addNote: (id: number, message: string) => api.post<IncidentUpdate>(`${base(id)}/notes`, { message }),
  edit: (id: number, body: { title?: string; severity?: string; services?: string[] }) => api.patch<Incident>(base(id), body),
  setRoles: (id: number, roles: Partial<Roles>) => api.put<Incident>(`${base(id)}/roles`, roles),
  setPostmortem: (id: number, fields: PostmortemFields) => api.put<Incident>(`${base(id)}/postmortem`, fields),
};

/** Query keys of the incidents domain; the live handler marks them stale. */
export const incidentsKeys = {
  all: ['incidents'] as const,
  list: ['incidents', 'list'] as const,
  open: ['incidents', 'open'] as const,
  severities: ['incident-severities'] as const,
  incident: (id: number) => ['incident', id] as const,
  timeline: (id: number) => ['incident', id, 'timeline'] as const,
  changes: (id: number) => ['incident', id, 'changes'] as const,
  postmortem: (id: number) => ['incident', id, 'postmortem'] as const,
};

export const incidentPath = (id: number) => `/incidents/${id}`;

export const severitiesQuery = () => queryOptions({ queryKey: incidentsKeys.severities, queryFn: async ({ signal }) => (await incidentsApi.severities(signal)).items, staleTime: 60_000 });

export function useSeverities() {
  return useQuery(severitiesQuery());
}

/** Every open incident (triggered, acknowledged, mitigated), newest first: the nav badge and the list's top share it. */
export const openIncidentsQuery = () =>
  queryOptions({ queryKey: incidentsKeys.open, queryFn: async ({ signal }) => (await incidentsApi.list({ open: true }, null, 500, signal)).items, refetchInterval: 30_000 });

export function useOpenIncidents() {
  return useQuery(openIncidentsQuery());
}
