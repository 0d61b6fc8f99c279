import { api } from '../shell/api.ts';
import type { Page } from '../shell/types.ts';
import type { IssueDetail, IssueEvent, IssueStatus, IssueSummary } from './types.ts';

export const errorsApi = {
  issues: (params: { status: IssueStatus; service?: string; cursor?: string | null }, signal?: AbortSignal) =>
    api.get<Page<IssueSummary>>('/api/v1/issues', { status: params.status, service: params.service, cursor: params.cursor, limit: 50 }, signal),
  issue: (id: number, signal?: AbortSignal) => api.get<IssueDetail>(`/api/v1/issues/${id}`, undefined, signal),
  issueEvents: (id: number, cursor?: string | null, signal?: AbortSignal) => api.get<Page<IssueEvent>>(`/api/v1/issues/${id}/events`, { limit: 20, cursor }, signal),
  setIssueStatus: (id: number, status: IssueStatus) => api.patch<IssueSummary>(`/api/v1/issues/${id}`, { status }),
};

export const errorsKeys = {
  issues: ['issues'] as const,
  issue: (id: number) => ['issue', id] as const,
  issueEvents: (id: number) => ['issue-events', id] as const,
};

export const issuePath = (id: number) => `/errors/${id}`;
