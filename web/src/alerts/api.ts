import { useQuery } from '@tanstack/react-query';
import { api, enc } from '../shell/api.ts';
import type { Page } from '../shell/types.ts';
import type { AlertInstance, AlertRuleStatus, AlertState, Matcher, NotifyAlert, Silence } from './types.ts';

export const alertsApi = {
  alerts: (state: AlertState, cursor?: string | null, limit = 100, signal?: AbortSignal) => api.get<Page<AlertInstance>>('/api/v1/alerts', { state, limit, cursor }, signal),
  alertRules: (signal?: AbortSignal) => api.get<{ items: AlertRuleStatus[] }>('/api/v1/alerts/rules', undefined, signal),
  // notify: routing state and silences
  notifyAlerts: (signal?: AbortSignal) => api.get<{ items: NotifyAlert[] }>('/api/v1/notify/alerts', undefined, signal),
  silences: (signal?: AbortSignal) => api.get<{ items: Silence[] }>('/api/v1/silences', { state: 'all', limit: 200 }, signal),
  createSilence: (body: { matchers: Matcher[]; duration: string; comment: string }) => api.post<Silence>('/api/v1/silences', body),
  expireSilence: (id: string) => api.delete<Silence>(`/api/v1/silences/${enc(id)}`),
};

export const alertsKeys = {
  alerts: ['alerts'] as const,
  notifyAlerts: ['notify-alerts'] as const,
  rules: ['alert-rules'] as const,
  silences: ['silences'] as const,
};

export const ALERT_TABS = ['firing', 'pending', 'silenced', 'history'] as const;
export type AlertTab = (typeof ALERT_TABS)[number];
export const alertsPath = (tab: AlertTab = 'firing') => (tab === 'firing' ? '/alerts' : `/alerts/${tab}`);

/*
 * Queries more than one view reads (the top bar's firing count and the Alerts page share one
 * cache entry). Live events mark them stale (see index.tsx); the intervals are a fallback.
 */

export function useAlerts(state: 'firing' | 'pending') {
  return useQuery({
    queryKey: [...alertsKeys.alerts, state],
    queryFn: async ({ signal }): Promise<AlertInstance[]> => (await alertsApi.alerts(state, null, 500, signal)).items,
    refetchInterval: 30_000,
  });
}

export function useNotifyAlerts() {
  return useQuery({ queryKey: alertsKeys.notifyAlerts, queryFn: async ({ signal }) => (await alertsApi.notifyAlerts(signal)).items, refetchInterval: 30_000 });
}

export function useSilences() {
  return useQuery({ queryKey: alertsKeys.silences, queryFn: async ({ signal }) => (await alertsApi.silences(signal)).items, refetchInterval: 60_000 });
}

export function useAlertRules() {
  return useQuery({ queryKey: alertsKeys.rules, queryFn: async ({ signal }) => (await alertsApi.alertRules(signal)).items, refetchInterval: 30_000 });
}
