import { useQuery } from '@tanstack/react-query';
import { api, isUnauthorized } from './api.ts';
import type { Me } from './types.ts';

/** Who is signed in: Me, null when not signed in (401), undefined while loading. */
export function useMe() {
  return useQuery<Me | null>({
    queryKey: ['me'],
    queryFn: async ({ signal }) => {
      try {
        return await api.me(signal);
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
