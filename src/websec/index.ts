/**
 * The web security domain: security-header grades as the MDN HTTP Observatory gives them
 * (`shipshape headers`, the `headers` check kind), CORS and rate-limit probes (`shipshape probe
 * cors|ratelimit`) and dependency audits (`shipshape audit deps`). See docs/websec.md.
 *
 * It keeps no tables and writes no events (nothing it does changes state); its service API is what
 * the deploy gates ask (`headers`, `audit`).
 */
import type { CoreConfig } from '../core/config/schema.js';
import { defineModule } from '../core/module.js';
import { auditDeps, type Advisory, type AuditReport, type AuditSeverity, type PackageManager } from './audit.js';
import { registerWebsecCommands } from './cli.js';
import { failing, gradeAtLeast, gradeHeaders, type HeaderReport, type HeaderTest } from './headers.js';
import { closeAgents } from './retrieve.js';
import { registerWebsecRoutes } from './routes.js';

export type WebsecRaw = CoreConfig;

export { auditDeps, failing, gradeAtLeast, gradeHeaders };
export type { Advisory, AuditReport, AuditSeverity, HeaderReport, HeaderTest, PackageManager };
export { GRADES, type Grade } from './observatory.js';
export { probeCors, type CorsFinding, type CorsReport } from './cors.js';
export { probeRateLimit, type RateLimitReport } from './ratelimit.js';
export type { AuditCheckResult, HeadersCheckGrade } from './routes.js';

export interface WebsecApi {
  gradeHeaders: typeof gradeHeaders;
  gradeAtLeast: typeof gradeAtLeast;
  auditDeps: typeof auditDeps;
}

export const websec = defineModule<WebsecApi, unknown, WebsecRaw>({
  name: 'websec',
  description: 'security-header grades (MDN HTTP Observatory scoring), CORS and rate-limit probes, dependency audits',
  create: (ctx) => ({
    gradeHeaders,
    gradeAtLeast,
    auditDeps,
    stop: closeAgents,
    routes: (app) => registerWebsecRoutes(app, { raw: () => ctx.config().raw, file: () => ctx.config().file, now: ctx.now }),
  }),
  cli: registerWebsecCommands,
});
