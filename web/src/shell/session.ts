import { useQuery } from '@tanstack/react-query';
import { api, isUnauthorized } from './api.ts';
import type { Me } from './types.ts';

export const sessionApi = {
  me: (signal?: AbortSignal) => api.get<Me>('/api/v1/auth/me', undefined, signal),
  login: (token: string) => api.post<Me>('/api/v1/auth/login', { token }),
  logout: () => api.post<unknown>('/api/v1/auth/logout'),
};

/** The session's query key; every other query is dropped when it changes hands. */
export const ME_KEY = ['me'] as const;

/** Who is signed in: Me, null when not signed in (401), undefined while loading. */
export function useMe() {
  return useQuery<Me | null>({
    queryKey: ME_KEY,
    queryFn: async ({ signal }) => {
      try {
        return await sessionApi.me(signal);
      } catch (err) {
        if (isUnauthorized(err)) return null;
        throw err;
      }
    },
    staleTime: Infinity,
    retry: 1,
  });
}

export function canWrite(me: Me | null | undefined): boolean {
  return !!me && (me.scopes.includes('write') || me.scopes.includes('admin'));
}
