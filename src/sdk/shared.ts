/**
 * Code shared by the Node and browser SDKs. No Node or DOM APIs here: this file is bundled into
 * browser pages and loaded into user apps, so it must stay dependency-free.
 */

/** The `POST /api/v1/ingest` body (see src/telemetry). `at` is epoch ms. */
export interface IngestRequest {
  route: string;
  method: string;
  status: number;
  duration_ms: number;
  at: number;
}
export interface IngestVital {
  page: string;
  name: 'LCP' | 'INP' | 'CLS' | 'FCP' | 'TTFB';
  value: number;
  at: number;
}
export interface IngestEvent {
  name: string;
  value?: number;
  count?: number;
  at: number;
}
export interface IngestPayload {
  service: string;
  requests?: IngestRequest[];
  vitals?: IngestVital[];
  events?: IngestEvent[];
}

/** The ingest endpoint under a Shipshape base URL (`http://host:4600` or `http://host:4600/`). */
export function ingestUrl(base: string): string {
  return `${base.replace(/\/+$/, '')}/api/v1/ingest`;
}

// Path segments that are ids, not names: numbers, UUIDs, long hex (object ids, hashes), and long
// mixed letter+digit tokens (slugs with ids, base64ish keys).
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const NUMBER = /^\d+$/;
const HEX = /^[0-9a-f]{12,}$/i;
const TOKEN = /^(?=.*\d)(?=.*[A-Za-z])[A-Za-z0-9_-]{16,}$/;

function isId(segment: string): boolean {
  return NUMBER.test(segment) || UUID.test(segment) || HEX.test(segment) || TOKEN.test(segment);
}

/**
 * A raw URL or path turned into a low-cardinality template: the query and fragment are dropped,
 * id-like segments become `:id`, and a trailing slash is removed (`/users/42/orders?x=1` ->
 * `/users/:id/orders`). Used when no framework route template is known.
 */
export function normalizePath(raw: string): string {
  let path = raw;
  const cut = path.search(/[?#]/);
  if (cut >= 0) path = path.slice(0, cut);
  // absolute URLs: keep only the path
  const scheme = /^[a-z][a-z0-9+.-]*:\/\/[^/]*/i.exec(path);
  if (scheme) path = path.slice(scheme[0].length);
  if (!path.startsWith('/')) path = `/${path}`;
  const parts = path.split('/').map((s) => {
    if (s === '') return s;
    let decoded = s;
    try {
      decoded = decodeURIComponent(s);
    } catch {
      // keep the raw segment
    }
    return isId(decoded) ? ':id' : s;
  });
  let out = parts.join('/').replace(/\/{2,}/g, '/');
  if (out.length > 1 && out.endsWith('/')) out = out.slice(0, -1);
  return out.length > 200 ? out.slice(0, 200) : out;
}

/**
 * Validate a business event name the same way everywhere (letters, digits, `_ . : -`, at most 100
 * characters, as the server takes them): a bad name is dropped here rather than make the server
 * refuse the whole batch.
 */
export function eventName(name: string): string | undefined {
  return typeof name === 'string' && /^[A-Za-z0-9_.:-]{1,100}$/.test(name) ? name : undefined;
}

/** The server's limits on single items (src/telemetry/sdk.ts): a batch with one bad item is refused whole. */
export const LIMITS = { route: 300, page: 300, durationMs: 86_400_000, vitalValue: 3_600_000 } as const;
