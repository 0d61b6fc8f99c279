/**
 * The JSON shapes of the core's REST API (pages, tokens, events, problems), shared by the server,
 * the CLI and the dashboard. Each module keeps its own (src/<module>/api-types.ts or types.ts).
 * Times are ISO-8601 UTC strings.
 */
export interface Page<T> {
  items: T[];
  /** pass as `?cursor=` to get the next page; null on the last page */
  next_cursor: string | null;
}

export interface TokenInfo {
  id: string;
  name: string;
  scopes: Scope[];
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

export type Scope = 'read' | 'write' | 'admin';

export interface Me {
  token: string; // the token's name
  scopes: Scope[];
}

/** One entry of the event log (also what the SSE stream sends, as `event: <type>`). */
export interface EventRecord {
  id: number;
  at: string;
  type: string;
  actor: string;
  subject: string;
  data: Record<string, unknown>;
}

/** RFC 9457 problem details, as every error response (application/problem+json). */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  errors?: { path: string; message: string }[];
}
