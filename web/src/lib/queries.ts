import { useQuery } from '@tanstack/react-query';
import { api } from './api.ts';
import type { AlertInstance } from './types.ts';

/**
 * Queries more than one view reads (the top bar's firing count and the Alerts page share one
 * cache entry). Live events mark them stale (see live.ts); the intervals are a fallback.
 */

export function useAlerts(state: 'firing' | 'pending') {
  return useQuery({
    queryKey: ['alerts', state],
    queryFn: async ({ signal }): Promise<AlertInstance[]> => (await api.alerts(state, null, 500, signal)).items,
    refetchInterval: 30_000,
  });
}

export function useNotifyAlerts() {
  return useQuery({ queryKey: ['notify-alerts'], queryFn: async ({ signal }) => (await api.notifyAlerts(signal)).items, refetchInterval: 30_000 });
}

export function useSilences() {
  return useQuery({ queryKey: ['silences'], queryFn: async ({ signal }) => (await api.silences(signal)).items, refetchInterval: 60_000 });
}

export function useAlertRules() {
  return useQuery({ queryKey: ['alert-rules'], queryFn: async ({ signal }) => (await api.alertRules(signal)).items, refetchInterval: 30_000 });
}
