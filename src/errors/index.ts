/** The errors domain: Sentry-protocol ingest and issues. (Being built.) */
import type { Domain, DomainContext } from '../domain.js';
import type { IngestGuard } from '../server/ingest.js';

export function createErrors(_ctx: DomainContext, _guard: IngestGuard): Domain {
  return { name: 'errors' };
}
