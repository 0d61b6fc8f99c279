/**
 * Telemetry: what apps send (requests, web vitals, business events, scraped metrics) and the
 * queries alert rules and charts make over it. Everything lands in per-10s in-memory buckets with
 * a mergeable quantile sketch; closed buckets go to the store (10s, minute and hour rows), where
 * queries read them.
 */

export type VitalName = 'LCP' | 'INP' | 'CLS' | 'FCP' | 'TTFB';

/** One finished HTTP request of a service (from OTLP metrics/spans or the Shipshape SDK). */
export interface RequestSample {
  service: string;
  /** the route template (`/api/items/:id`), never the raw URL with ids; '' when unknown */
  route: string;
  method?: string;
  status: number;
  durationMs: number;
  /** true for 5xx or when the span/metric carries error.type */
  error: boolean;
  /** epoch ms */
  at: number;
  /** how many identical requests this sample stands for (pre-aggregated sources) */
  count?: number;
}

export interface VitalSample {
  service: string;
  page: string;
  name: VitalName;
  /** ms for timings, unitless for CLS */
  value: number;
  at: number;
}

export interface EventSample {
  service: string;
  /** `purchase_completed`, `payment_failed`… */
  name: string;
  /** optional amount (sums), default none */
  value?: number;
  count?: number;
  at: number;
}

export interface MetricSample {
  /** service or scrape job */
  service: string;
  name: string;
  labels: Record<string, string>;
  type: 'gauge' | 'counter';
  value: number;
  at: number;
}

/** The ingest side: every source (OTLP, SDK, Prometheus scrape) ends here. */
export interface TelemetrySink {
  requests(samples: RequestSample[]): void;
  vitals(samples: VitalSample[]): void;
  events(samples: EventSample[]): void;
  metrics(samples: MetricSample[]): void;
}

/** A value over a window with the number of samples behind it (for minimum-samples guards). */
export interface Stat {
  value: number | null;
  samples: number;
}

/** A query's answer: the live query reads the store for closed periods (a promise); fakes may answer at once. */
export type Answer = Stat | Promise<Stat>;

/** Windows are in ms and end at `now` unless given. */
export interface TelemetryQuery {
  /** requests per second */
  requestRate(service: string, windowMs: number, route?: string): Answer;
  /** failed requests / all requests (a fraction: 0.01 is 1%) */
  errorRate(service: string, windowMs: number, route?: string): Answer;
  /** latency quantile in ms (q in 0..1) */
  latency(service: string, q: number, windowMs: number, route?: string): Answer;
  /** web vital quantile (ms, or unitless for CLS) */
  vital(service: string, name: VitalName, q: number, windowMs: number, page?: string): Answer;
  /** business events per second; without service: across services */
  eventRate(name: string, windowMs: number, service?: string): Answer;
  /** a gauge's last value, or a counter's per-second rate over the window */
  metric(name: string, labels: Record<string, string>, windowMs: number, service?: string): Answer;
  /** epoch ms of the newest sample of the service (any kind), undefined when none */
  lastSeen(service: string): number | undefined;
}
