/**
 * The errors domain: the Sentry protocol in (envelopes and the legacy store endpoint, so the
 * official Sentry SDKs work unchanged with a DSN `http://<ingest token>@<shipshape>/<project>`),
 * events grouped into issues with a status, regressions, and the issues API.
 *
 * Projects map to services with `services.<name>.sentry: { project: 1 }`. Events of a project no
 * service claims are still accepted and kept (their issues show `service: null` and the project
 * number, and are listed with `?project=`); claiming the project later gives them to that service.
 */
import { Counter } from 'prom-client';
import { defineModule, type ModuleContext, type ModuleLifecycle } from '../core/module.js';
import type { Stat } from '../telemetry/index.js';
import { errorsConfig, type ErrorsRaw } from './config.js';
import { errorsMigrations, type ErrorsTables } from './migrations.js';
import { Issues } from './issues.js';
import { errorRoutes } from './routes.js';

/** What other domains (alert rules, live views) may ask. Windows are in ms and end now. */
export interface ErrorsQuery {
  /** error events per second of the service's Sentry projects (samples: events) */
  errorEventRate(service: string, windowMs: number): Stat;
  /** distinct issues with events in the window (samples: events) */
  issueCount(service: string, windowMs: number): Stat;
  /** issues first seen in the window (samples: events) */
  newIssueCount(service: string, windowMs: number): Stat;
}

export interface ErrorsDomain extends ModuleLifecycle<ErrorsRaw> {
  query: ErrorsQuery;
  issues: Issues;
}

export function createErrors(ctx: ModuleContext<ErrorsTables, ErrorsRaw>): ErrorsDomain {
  const issues = new Issues(ctx);
  const warned = new Set<number>();
  const metricName = 'shipshape_error_events_total';
  const counter =
    (ctx.metrics.registry.getSingleMetric(metricName) as Counter<'outcome'> | undefined) ??
    new Counter({ name: metricName, help: 'Sentry items received: events stored, duplicates (SDK retries), other items dropped', labelNames: ['outcome'], registers: [ctx.metrics.registry] });

  const projects = (service: string) => issues.projectsOf(service) ?? [];
  const query: ErrorsQuery = {
    errorEventRate: (service, windowMs) => issues.stats.eventRate(projects(service), windowMs),
    issueCount: (service, windowMs) => issues.stats.issueCount(projects(service), windowMs),
    newIssueCount: (service, windowMs) => issues.stats.newIssueCount(projects(service), windowMs),
  };

  return {
    query,
    issues,
    async start() {
      await issues.load();
    },
    async stop() {
      await issues.drain();
    },
    routes(app) {
      errorRoutes(app, {
        issues,
        guard: ctx.ingest,
        counter,
        maxBody: () => ctx.config().raw.ingest.max_body,
        onUnknownProject(project) {
          if (warned.has(project) || warned.size > 100) return;
          warned.add(project);
          ctx.logger.warn({ project }, `Sentry events for project ${project}, which no service claims (services.<name>.sentry: { project: ${project} }); they are kept under the project number`);
        },
      });
    },
  };
}

export const errors = defineModule<ErrorsDomain, ErrorsTables, ErrorsRaw>({
  name: 'errors',
  description: 'errors from the official Sentry SDKs, grouped into issues that regress by release',
  config: errorsConfig,
  migrations: errorsMigrations,
  events: ['issue.created', 'issue.regressed', 'issue.resolved', 'issue.ignored', 'issue.unresolved'],
  create: (ctx) => createErrors(ctx),
});
export type { ErrorsRaw } from './config.js';
