/** The telemetry domain: ingest endpoints, rollups, queries. (Being built: see src/telemetry/types.ts.) */
import type { Domain, DomainContext } from '../domain.js';
import type { IngestGuard } from '../server/ingest.js';
import type { TelemetryQuery, TelemetrySink } from './types.js';

export interface TelemetryDomain extends Domain {
  sink: TelemetrySink;
  query: TelemetryQuery;
}

export function createTelemetry(_ctx: DomainContext, _guard: IngestGuard): TelemetryDomain {
  const none = { value: null, samples: 0 };
  return {
    name: 'telemetry',
    sink: { requests() {}, vitals() {}, events() {}, metrics() {} },
    query: { requestRate: () => none, errorRate: () => none, latency: () => none, vital: () => none, eventRate: () => none, metric: () => none, lastSeen: () => undefined },
  };
}
