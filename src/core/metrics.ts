/** Shipshape's own metrics, exposed at GET /metrics in the Prometheus text format. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  registry: Registry;
  checkDuration: Histogram<'kind'>;
  checkResults: Counter<'kind' | 'result'>;
  schedulerLag: Histogram;
  checksInFlight: Gauge;
  checkUp: Gauge<'service' | 'check'>;
  serviceUp: Gauge<'service'>;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  // event-loop delay sampled every 100ms, not prom-client's default 10ms (100 wake-ups a second when idle)
  collectDefaultMetrics({ register: registry, prefix: 'shipshape_', eventLoopMonitoringPrecision: 100 });
  return {
    registry,
    checkDuration: new Histogram({ name: 'shipshape_check_duration_seconds', help: 'Duration of check runs', labelNames: ['kind'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: [registry] }),
    checkResults: new Counter({ name: 'shipshape_check_results_total', help: 'Check runs by result', labelNames: ['kind', 'result'], registers: [registry] }),
    schedulerLag: new Histogram({ name: 'shipshape_scheduler_lag_seconds', help: 'How late check runs started after they were due', buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [registry] }),
    checksInFlight: new Gauge({ name: 'shipshape_checks_in_flight', help: 'Checks running now', registers: [registry] }),
    checkUp: new Gauge({ name: 'shipshape_check_up', help: '1 when the check is up, 0 when down (absent while pending)', labelNames: ['service', 'check'], registers: [registry] }),
    serviceUp: new Gauge({ name: 'shipshape_service_state', help: 'Service state: 1 up, 0.5 degraded, 0 down', labelNames: ['service'], registers: [registry] }),
  };
}
