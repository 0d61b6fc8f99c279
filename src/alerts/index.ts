/** The alerts domain: rules over telemetry and checks, alert states, alerts pushed from outside. (Being built.) */
import type { Domain, DomainContext } from '../domain.js';
import type { IngestGuard } from '../server/ingest.js';
import type { TelemetryQuery } from '../telemetry/types.js';

export function createAlerts(_ctx: DomainContext, _deps: { telemetry: TelemetryQuery; guard: IngestGuard }): Domain {
  return { name: 'alerts' };
}
