/**
 * The deploy domain: `deploy:` per service, releases cut from git and recorded immutably, gates
 * (commands with a 0-warning policy, bundle budgets), the process driver (supervised children
 * behind a reverse proxy per environment, health-gated switch, warm previous release for instant
 * rollback), deploy locks, and an event for every step (`deploy.*`, with `data.service`, so deploys
 * appear on incident timelines).
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import { checks } from '../checks/index.js';
import type { Config } from '../core/config/load.js';
import { db, maskUrl } from '../db/index.js';
import { checkEnv, checkValues, env as envModule, envSchemaOf, resolveServiceEnv, type EnvRaw } from '../env/index.js';
import { ServiceError } from '../core/errors.js';
import { scanSecrets } from '../secrets/index.js';
import { auditDeps, failing, gradeAtLeast, gradeHeaders, type AuditSeverity } from '../websec/index.js';
import { incidents } from '../incidents/index.js';
import { telemetry } from '../telemetry/index.js';
import { defineModule, type ModuleContext, type ModuleLifecycle } from '../core/module.js';
import { registerDeployCommands } from './cli.js';
import { deployConfig, repoOf, type DeployRaw } from './config.js';
import { deployMigrations, type DeployTables } from './migrations.js';
import { deployRoutes } from './routes.js';
import { Deployer, type DeployPeers } from './service.js';

export type { DeployConfig, DeployRaw } from './config.js';
export type { Deployer, DeployInput, PromoteInput, RollbackInput } from './service.js';
export type * from './types.js';
export { countWarnings } from './gates.js';

export const DEPLOY_EVENTS = [
  'deploy.started',
  'deploy.step',
  'deploy.succeeded',
  'deploy.failed',
  'deploy.refused',
  'deploy.rolled_back',
  'deploy.stopped',
  'deploy.crashed',
  'deploy.restored',
  'deploy.locked',
  'deploy.unlocked',
  'deploy.canary',
  'deploy.watched',
  'deploy.pinned',
  'deploy.incident',
  'deploy.adopted',
  'deploy.down',
  'deploy.proxy_restarted',
] as const;

export interface DeployDomain extends ModuleLifecycle<DeployRaw> {
  service: Deployer;
}

export function createDeploy(ctx: ModuleContext<DeployTables, DeployRaw>): DeployDomain {
  const cfgOf = () => ctx.config();
  /** a path of the config's directory as the release has it, when it lies inside the repository */
  const inRelease = (service: string, releaseDir: string, p: string): string => {
    const cfg = cfgOf();
    const d = cfg.raw.services[service]?.deploy;
    const inRepo = d ? relative(repoOf(cfg.file, d), p) : '..';
    return inRepo.startsWith('..') || isAbsolute(inRepo) ? p : join(releaseDir, inRepo);
  };
  const peers: DeployPeers = {
    async runChecks(ids) {
      return (await ctx.use(checks).monitor.runChecks(ids)).map((r) => ({ id: r.checkId, ok: r.ok, message: r.message }));
    },
    async openIncident(i) {
      const inc = ctx.use(incidents).service;
      const levels = inc.levels();
      const severity = i.severity !== undefined && inc.level(i.severity) ? i.severity : (levels[1] ?? levels[0])?.name;
      if (!severity) return undefined;
      const opened = await inc.open({ title: i.title, severity, services: i.services, message: i.message }, 'shipshape:auto-rollback');
      return { id: opened.id, ref: opened.ref };
    },
    metrics: (samples) => ctx.use(telemetry).sink.metrics(samples),
    async serviceTraffic(service, windowMs) {
      const q = ctx.use(telemetry).query;
      const [er, p95, p50] = await Promise.all([q.errorRate(service, windowMs), q.latency(service, 0.95, windowMs), q.latency(service, 0.5, windowMs)]);
      const requests = er.samples;
      const rate = er.value ?? 0;
      return { requests, errors: Math.round(rate * requests), errorRate: rate, successRate: 1 - rate, p95: p95.value, p50: p50.value };
    },
    database: {
      /** the release's own migrations directory (where the service's database.migrations sits inside the repository) against the database */
      async pending(service, releaseDir) {
        const d = ctx.use(db);
        const t = d.targetOf(service);
        const dir = inRelease(service, releaseDir, t.dir);
        const r = await d.pending({ url: t.url, dir, table: t.table, service });
        return { ...r, database: maskUrl(t.url), dir: dir === t.dir ? t.dir : relative(releaseDir, dir) || '.' };
      },
      latestBackup: (service, verified) => ctx.use(db).latestBackup(service, { verified }),
    },
  };
  peers.envStore = {
    snapshot: (service, envName) => ctx.use(envModule).snapshot(service, envName),
    async values(id) {
      try {
        return await ctx.use(envModule).snapshotValues(id);
      } catch (e) {
        if (e instanceof ServiceError && e.kind === 'not_found') return null;
        throw e;
      }
    },
  };
  peers.security = {
    async env(o) {
      const cfg = cfgOf();
      const section = (cfg.raw as unknown as EnvRaw).services[o.service]?.env;
      const svc = section ? resolveServiceEnv(cfg.file, section) : { vars: {} };
      // the gate's own example (in the release), else the service's — the release's copy of it when it is in the repository
      const example = o.example ?? (svc.example ? inRelease(o.service, o.dir, svc.example) : undefined);
      if (o.file) return checkEnv({ file: o.file, ...(example ? { example } : {}), env: o.env, vars: svc.vars });
      const { schema, findings } = envSchemaOf({ ...(example ? { example: { text: readFileSync(example, 'utf8'), file: example } } : {}), vars: svc.vars });
      const r = checkValues(o.values, schema, o.env, { file: `${o.service}/${o.env}`, unknown: false });
      const all = [...findings, ...r.findings];
      return { errors: all.filter((f) => f.severity === 'error').length, warnings: all.filter((f) => f.severity === 'warning').length, findings: all };
    },
    async secrets(o) {
      const r = await scanSecrets({ path: o.path, ...(o.allowlist ? { allowlist: o.allowlist } : {}), ...(o.signal ? { signal: o.signal } : {}) });
      return { findings: r.findings.map((f) => ({ rule: f.ruleId, file: join(o.path, f.file), line: f.line, match: f.match })), skipped: r.skipped.map((k) => ({ file: join(o.path, k.file), reason: k.reason })), files: r.files };
    },
    async audit(o) {
      const r = await auditDeps(o.dir, { level: o.level as AuditSeverity, ...(o.signal ? { signal: o.signal } : {}) });
      return { manager: r.manager, counts: r.counts, failing: r.failing.map((a) => ({ name: a.package, severity: a.severity, title: a.title })) };
    },
    async headers(o) {
      const r = await gradeHeaders(o.url, o.signal ? { signal: o.signal } : {});
      return { url: r.finalUrl, score: r.score, grade: r.grade, failed: failing(r).map((t) => ({ name: t.name, result: t.result, ...(t.fix ? { fix: t.fix } : {}) })) };
    },
    gradeAtLeast,
  };
  const service = new Deployer({ store: ctx.store, events: ctx.events, logger: ctx.logger.child({ component: 'deploy' }), now: ctx.now, config: ctx.config, dataDir: ctx.dataDir, peers });
  return {
    service,
    start: () => service.start(),
    async apply(_config: Config<DeployRaw>) {
      await service.apply();
    },
    stop: () => service.stop(),
    routes(app) {
      deployRoutes(app, service);
    },
  };
}

export const deploy = defineModule<DeployDomain, DeployTables, DeployRaw>({
  name: 'deploy',
  description: 'gated releases cut from git, started behind a proxy per environment, health-gated switch, instant rollback and deploy locks',
  config: deployConfig,
  migrations: deployMigrations,
  events: DEPLOY_EVENTS,
  create: (ctx) => createDeploy(ctx),
  cli: registerDeployCommands,
});
