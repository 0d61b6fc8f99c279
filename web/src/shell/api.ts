import type { EventRecord, Page, Problem } from './types.ts';

/**
 * The small fetch helper every domain builds its API calls on: same-origin JSON with the session
 * cookie, RFC 9457 problem details turned into ApiError. Domains keep their own calls and query
 * keys in `<domain>/api.ts`.
 */

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

export function isNotFound(err: unknown): boolean {
  return err instanceof ApiError && err.status === 404;
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

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** Fetch with the session cookie; a failed response becomes ApiError (problem details when the server sent them). */
async function send(method: Method, path: string, accept: string, body?: unknown, signal?: AbortSignal): Promise<Response> {
  const headers: Record<string, string> = { accept };
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
  return res;
}

async function request<T>(method: Method, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const res = await send(method, path, 'application/json, application/problem+json', body, signal);
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

export type QueryParams = Record<string, string | number | undefined | null>;

/** `?a=1&b=x` from the set values (undefined, null and '' are left out). */
export function qs(params: QueryParams = {}): string {
  const sp = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') sp.set(k, String(v));
  const s = sp.toString();
  return s ? `?${s}` : '';
}

/** One path segment, escaped. */
export const enc = encodeURIComponent;

export const api = {
  get: <T>(path: string, params?: QueryParams, signal?: AbortSignal) => request<T>('GET', `${path}${qs(params)}`, undefined, signal),
  post: <T>(path: string, body?: unknown) => request<T>('POST', path, body),
  put: <T>(path: string, body?: unknown) => request<T>('PUT', path, body),
  patch: <T>(path: string, body?: unknown) => request<T>('PATCH', path, body),
  delete: <T>(path: string) => request<T>('DELETE', path),
  /** A GET that answers text (Markdown, CSV, iCal…), with the same errors as the JSON calls; `accept` names the text type wanted. */
  getText: async (path: string, params?: QueryParams, signal?: AbortSignal, accept = 'text/plain') => (await send('GET', `${path}${qs(params)}`, `${accept}, application/problem+json`, undefined, signal)).text(),
};

/** The core event log (`GET /api/v1/events`); `type` may end in `.*` for a prefix. */
export const listEvents = (type: string, limit = 200, signal?: AbortSignal) => api.get<Page<EventRecord>>('/api/v1/events', { type, limit }, signal);
