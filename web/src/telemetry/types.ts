/** The telemetry domain's API shapes. */
export type { VitalName } from '../../../src/telemetry/types.ts';

import type { VitalName } from '../../../src/telemetry/types.ts';

/*
 * The response of `GET /api/v1/services/:name/telemetry` is built in src/telemetry/chart.ts, which
 * also imports server code the browser build cannot type-check; keep these in step with it.
 */

/** One point per step, `t` in epoch ms (or ISO). */
export interface TelemetrySeries {
  t: (number | string)[];
  /** requests per second */
  request_rate: (number | null)[];
  /** failed / all requests, a fraction (0.01 is 1%) */
  error_rate: (number | null)[];
  p50: (number | null)[];
  p95: (number | null)[];
  p99: (number | null)[];
}

export interface VitalSeries {
  t: (number | string)[];
  p75: (number | null)[];
}

export interface RouteStat {
  route: string;
  method?: string;
  requests: number;
  error_rate: number | null;
  p95: number | null;
}

export interface Telemetry {
  step_ms: number;
  series: TelemetrySeries;
  vitals: Partial<Record<VitalName, VitalSeries>>;
  routes: RouteStat[];
}
