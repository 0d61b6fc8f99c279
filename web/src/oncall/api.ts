import { useQuery } from '@tanstack/react-query';
import { api, enc } from '../shell/api.ts';
import type { CalendarFeed, CalendarSubscription, Escalation, OnCallNow, PolicyOut, ScheduleDetail, ShiftOut } from './types.ts';

export interface Person {
  key: string;
  name: string;
  email: string | null;
  channels: string[];
}

export const oncallApi = {
  now: (signal?: AbortSignal) => api.get<{ items: OnCallNow[] }>('/api/v1/oncall/now', undefined, signal),
  schedule: (name: string, signal?: AbortSignal) => api.get<ScheduleDetail>(`/api/v1/oncall/schedules/${enc(name)}`, undefined, signal),
  shifts: (name: string, from: Date, to: Date, signal?: AbortSignal) =>
    api.get<{ items: ShiftOut[] }>(`/api/v1/oncall/schedules/${enc(name)}/shifts`, { from: from.toISOString(), to: to.toISOString() }, signal),
  people: (signal?: AbortSignal) => api.get<{ items: Person[] }>('/api/v1/oncall/people', undefined, signal),
  policies: (signal?: AbortSignal) => api.get<{ items: PolicyOut[] }>('/api/v1/oncall/policies', undefined, signal),
  activeEscalations: (signal?: AbortSignal) => api.get<{ items: Escalation[] }>('/api/v1/oncall/escalations', undefined, signal),
  escalationsOf: (incident: number, signal?: AbortSignal) => api.get<{ items: Escalation[] }>(`/api/v1/oncall/escalations/${incident}`, undefined, signal),
  /** the calendar subscription URL of a schedule or person (made on first ask; read scope) */
  subscription: (kind: 'schedule' | 'person', name: string, signal?: AbortSignal) =>
    api.get<CalendarSubscription>(`/api/v1/oncall/${kind === 'schedule' ? 'schedules' : 'people'}/${enc(name)}/subscription`, undefined, signal),
  revokeFeed: (id: string) => api.delete<CalendarFeed>(`/api/v1/oncall/feeds/${enc(id)}`),
};

/** Calendar downloads (read scope: the session cookie or a token opens them); calendar apps subscribe by the URL `subscription` gives. */
export const scheduleIcs = (name: string) => `/api/v1/oncall/schedules/${enc(name)}/calendar.ics`;
export const personIcs = (key: string) => `/api/v1/oncall/people/${enc(key)}/calendar.ics`;

export const oncallKeys = {
  all: ['oncall'] as const,
  now: ['oncall', 'now'] as const,
  schedule: (name: string) => ['oncall', 'schedule', name] as const,
  shifts: (name: string) => ['oncall', 'shifts', name] as const,
  people: ['oncall', 'people'] as const,
  policies: ['oncall', 'policies'] as const,
  escalations: ['oncall', 'escalations'] as const,
  escalationsOf: (incident: number) => ['oncall', 'escalations', incident] as const,
  subscription: (kind: 'schedule' | 'person', name: string) => ['oncall', 'subscription', kind, name] as const,
};

export function useEscalationsOf(incident: number) {
  return useQuery({ queryKey: oncallKeys.escalationsOf(incident), queryFn: async ({ signal }) => (await oncallApi.escalationsOf(incident, signal)).items, refetchInterval: 30_000 });
}
