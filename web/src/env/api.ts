import { queryOptions, useQuery } from '@tanstack/react-query';
import { api, enc } from '../shell/api.ts';
import type { EnvOverview, EnvSetResult } from './types.ts';

/** Query keys of the env domain; the live handler marks them stale. */
export const envKeys = {
  all: ['env'] as const,
  overview: ['env', 'overview'] as const,
};

export const envPath = () => '/env';

const target = (service: string, env: string) => `/api/v1/env/${enc(service)}/${enc(env)}`;

/** Calls of the env store. Values only ever go up (set); the dashboard never reads one back. */
export const envApi = {
  overview: (signal?: AbortSignal) => api.get<EnvOverview>('/api/v1/env', undefined, signal),
  set: (service: string, env: string, vars: Record<string, string>) => api.post<{ items: EnvSetResult[] }>(`${target(service, env)}/vars`, { vars }),
  unset: (service: string, env: string, name: string) => api.delete<unknown>(`${target(service, env)}/vars/${enc(name)}`),
  rotated: (service: string, env: string, name: string) => api.post<unknown>(`${target(service, env)}/vars/${enc(name)}/rotated`),
};

export const envOverviewQuery = () => queryOptions({ queryKey: envKeys.overview, queryFn: ({ signal }) => envApi.overview(signal) });

export function useEnvOverview() {
  return useQuery(envOverviewQuery());
}
