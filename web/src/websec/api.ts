import { queryOptions, useQuery } from '@tanstack/react-query';
import { api } from '../shell/api.ts';
import type { AuditCheckResult, HeadersCheckGrade, SecretsCheckScan } from './types.ts';

/** Query keys of the websec domain (and the secret scan shown on the same page). */
export const websecKeys = {
  all: ['websec'] as const,
  headers: ['websec', 'headers'] as const,
  audits: ['websec', 'audits'] as const,
  secrets: ['websec', 'secrets'] as const,
};

const flag = (refresh: boolean) => (refresh ? { refresh: 'true' } : undefined);

export const websecApi = {
  /** the grade of every `headers` check (the server grades when its cache is older than 10 minutes, or on refresh) */
  headers: (refresh: boolean, signal?: AbortSignal) => api.get<{ items: HeadersCheckGrade[] }>('/api/v1/websec/headers', flag(refresh), signal),
  /** the latest audit of every `audit` check (cached 10 minutes on the server, like the grades) */
  audits: (refresh: boolean, signal?: AbortSignal) => api.get<{ items: AuditCheckResult[] }>('/api/v1/websec/audits', flag(refresh), signal),
  /** the latest scan of every `secrets` check (redacted findings; cached 10 minutes) */
  secrets: (refresh: boolean, signal?: AbortSignal) => api.get<{ items: SecretsCheckScan[] }>('/api/v1/secrets/findings', flag(refresh), signal),
};

export const headersQuery = () => queryOptions({ queryKey: websecKeys.headers, queryFn: ({ signal }) => websecApi.headers(false, signal), staleTime: 60_000 });
export const auditsQuery = () => queryOptions({ queryKey: websecKeys.audits, queryFn: ({ signal }) => websecApi.audits(false, signal), staleTime: 60_000 });
export const secretsQuery = () => queryOptions({ queryKey: websecKeys.secrets, queryFn: ({ signal }) => websecApi.secrets(false, signal), staleTime: 60_000 });

export function useHeaderGrades() {
  return useQuery(headersQuery());
}
export function useAudits() {
  return useQuery(auditsQuery());
}
export function useSecretScans() {
  return useQuery(secretsQuery());
}
