import { api } from '../shell/api.ts';
import type { Page } from '../shell/types.ts';
import type { MaintenanceWindow, StatusPageOverview } from './types.ts';

export interface ScheduleBody {
  title: string;
  message?: string;
  services: string[];
  /** RFC 3339, "now" or "+2h" */
  starts_at: string;
  /** 30m, 2h */
  duration: string;
  max?: string;
  notice?: string;
}

export const statusApi = {
  pages: (signal?: AbortSignal) => api.get<{ items: StatusPageOverview[] }>('/api/v1/status-pages', undefined, signal),
  /** no status: the open windows (scheduled, in progress, verifying), soonest first; 'all': every one, newest first */
  maintenance: (status: 'open' | 'all', signal?: AbortSignal) => api.get<Page<MaintenanceWindow>>('/api/v1/maintenance', { status: status === 'open' ? undefined : status, limit: 100 }, signal),
  schedule: (body: ScheduleBody) => api.post<MaintenanceWindow>('/api/v1/maintenance', body),
  cancel: (id: number) => api.post<MaintenanceWindow>(`/api/v1/maintenance/${id}/cancel`, {}),
  end: (id: number) => api.post<MaintenanceWindow>(`/api/v1/maintenance/${id}/end`, {}),
};

export const statusKeys = {
  pages: ['status-pages'] as const,
  maintenance: ['maintenance'] as const,
};

/** The public page's address: its path on this server (or its own host name). */
export const pageHref = (p: { path: string }) => p.path;
