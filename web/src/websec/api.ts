import { queryOptions, useQuery } from '@tanstack/react-query';
import { api } from '../shell/api.ts';
import type { HeadersCheckGrade } from './types.ts';

/** Query keys of the websec domain. */
export const websecKeys = {
  all: ['websec'] as const,
  headers: ['websec', 'headers'] as const,
};

export const websecApi = {
  /** the grade of every `headers` check (the server grades when its cache is older than 10 minutes, or on refresh) */
  headers: (refresh: boolean, signal?: AbortSignal) => api.get<{ items: HeadersCheckGrade[] }>('/api/v1/websec/headers', refresh ? { refresh: 'true' } : undefined, signal),
};

export const headersQuery = () => queryOptions({ queryKey: websecKeys.headers, queryFn: ({ signal }) => websecApi.headers(false, signal), staleTime: 60_000 });

export function useHeaderGrades() {
  return useQuery(headersQuery());
}
