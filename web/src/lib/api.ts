import type {
  Aggregate,
  AlertInstance,
  AlertRuleStatus,
  AlertState,
  EventRecord,
  FailedResult,
  IssueDetail,
  IssueEvent,
  IssueStatus,
  IssueSummary,
  Matcher,
  Me,
  NotifyAlert,
  Page,
  Problem,
  ServiceSummary,
  Silence,
  StateChange,
  Telemetry,
} from './types.ts';

/** An error response from the API (RFC 9457 problem details), or a network failure (status 0). */
export class ApiError extends Error {
  readonly status: number;
  readonly problem: Partial<Problem> | null;

  constructor(status: number, message: string, problem: Partial<Problem> | null = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.problem = problem;
  }
}

export function isUnauthorized(err: unknown): boolean {
  return err instanceof ApiError && err.status === 401;
}

/** A human sentence for any error a query or mutation can throw. */
export function errorMessage(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.status === 0) return 'Could not reach the Shipshape server. Check that it is running.';
    const p = err.problem;
    if (p?.detail && p.title && !p.detail.startsWith(p.title)) return `${p.title}: ${p.detail}`;
    return p?.detail ?? p?.title ?? err.message;
  }
  if (err instanceof Error) return err.message;
  return String(err);
}

async function request<T>(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json, application/problem+json' };
  const init: RequestInit = { method, credentials: 'same-origin', headers, signal: signal ?? null };
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res: Response;
  try {
    res = await fetch(path, init);
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw err;
    throw new ApiError(0, 'Network error');
  }
  if (!res.ok) {
    let problem: Partial<Problem> | null = null;
    try {
      problem = (await res.json()) as Partial<Problem>;
    } catch {
      // not JSON: keep the status line
    }
    throw new ApiError(res.status, problem?.title ?? `${res.status} ${res.statusText}`, problem);
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

const enc = encodeURIComponent;

function qs(params: Record<string, string | number | undefined | null>): string {
  const sp = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') sp.set(k, String(v));
  const s = sp.toString();
  return s ? `?${s}` : '';
}

export type Resolution = 'minute' | 'hour' | 'day';

export const api = {
  me: (signal?: AbortSignal) => request<Me>('GET', '/api/v1/auth/me', undefined, signal),
  login: (token: string) => request<Me>('POST', '/api/v1/auth/login', { token }),
  logout: () => request<unknown>('POST', '/api/v1/auth/logout'),

  /** every service, following the cursor (the overview shows them all). */
  async services(signal?: AbortSignal): Promise<ServiceSummary[]> {
    const all: ServiceSummary[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 50; page++) {
      const res: Page<ServiceSummary> = await request<Page<ServiceSummary>>(
        'GET',
        `/api/v1/services${qs({ include: 'days,sparkline', limit: 100, cursor })}`,
        undefined,
        signal,
      );
      all.push(...res.items);
      cursor = res.next_cursor;
      if (!cursor) break;
    }
    return all;
  },
  service: (name: string, signal?: AbortSignal) =>
    request<ServiceSummary>('GET', `/api/v1/services/${enc(name)}${qs({ include: 'days,sparkline' })}`, undefined, signal),
  stateChanges: (name: string, signal?: AbortSignal) =>
    request<Page<StateChange>>('GET', `/api/v1/services/${enc(name)}/state-changes${qs({ limit: 50 })}`, undefined, signal),
  aggregates: (service: string, check: string, resolution: Resolution, from: Date, to: Date, signal?: AbortSignal) =>
    request<{ items: Aggregate[] }>(
      'GET',
      `/api/v1/services/${enc(service)}/checks/${enc(check)}/aggregates${qs({ resolution, from: from.toISOString(), to: to.toISOString() })}`,
      undefined,
      signal,
    ),
  failures: (service: string, check: string, signal?: AbortSignal) =>
    request<Page<FailedResult>>('GET', `/api/v1/services/${enc(service)}/checks/${enc(check)}/failures${qs({ limit: 20 })}`, undefined, signal),
  runService: (name: string) => request<ServiceSummary>('POST', `/api/v1/services/${enc(name)}/run`),

  telemetry: (service: string, from: Date, to: Date, signal?: AbortSignal) =>
    request<Telemetry>('GET', `/api/v1/services/${enc(service)}/telemetry${qs({ from: from.toISOString(), to: to.toISOString() })}`, undefined, signal),
  events: (type: string, limit = 200, signal?: AbortSignal) => request<Page<EventRecord>>('GET', `/api/v1/events${qs({ type, limit })}`, undefined, signal),

  alerts: (state: AlertState, cursor?: string | null, limit = 100, signal?: AbortSignal) =>
    request<Page<AlertInstance>>('GET', `/api/v1/alerts${qs({ state, limit, cursor })}`, undefined, signal),
  alertRules: (signal?: AbortSignal) => request<{ items: AlertRuleStatus[] }>('GET', '/api/v1/alerts/rules', undefined, signal),
  notifyAlerts: (signal?: AbortSignal) => request<{ items: NotifyAlert[] }>('GET', '/api/v1/notify/alerts', undefined, signal),
  silences: (signal?: AbortSignal) => request<{ items: Silence[] }>('GET', `/api/v1/silences${qs({ state: 'all', limit: 200 })}`, undefined, signal),
  createSilence: (body: { matchers: Matcher[]; duration: string; comment: string }) => request<Silence>('POST', '/api/v1/silences', body),
  expireSilence: (id: string) => request<Silence>('DELETE', `/api/v1/silences/${enc(id)}`),

  issues: (params: { status: IssueStatus; service?: string; cursor?: string | null }, signal?: AbortSignal) =>
    request<Page<IssueSummary>>('GET', `/api/v1/issues${qs({ status: params.status, service: params.service, cursor: params.cursor, limit: 50 })}`, undefined, signal),
  issue: (id: number, signal?: AbortSignal) => request<IssueDetail>('GET', `/api/v1/issues/${id}`, undefined, signal),
  issueEvents: (id: number, cursor?: string | null, signal?: AbortSignal) =>
    request<Page<IssueEvent>>('GET', `/api/v1/issues/${id}/events${qs({ limit: 20, cursor })}`, undefined, signal),
  setIssueStatus: (id: number, status: IssueStatus) => request<IssueSummary>('PATCH', `/api/v1/issues/${id}`, { status }),
};
