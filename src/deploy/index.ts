/**
 * The deploy domain: `deploy:` per service, releases cut from git and recorded immutably, gates
 * (commands with a 0-warning policy, bundle budgets), the process driver (supervised children
 * behind a reverse proxy per environment, health-gated switch, warm previous release for instant
 * rollback), deploy locks, and an event for every step (`deploy.*`, with `data.service`, so deploys
 * appear on incident timelines).
 */
import type { Config } from '../core/config/load.js';
import { defineModule, type ModuleContext, type ModuleLifecycle } from '../core/module.js';
import { registerDeployCommands } from './cli.js';
import { deployConfig, type DeployRaw } from './config.js';
import { deployMigrations, type DeployTables } from './migrations.js';
import { deployRoutes } from './routes.js';
import { Deployer } from './service.js';

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
] as const;

export interface DeployDomain extends ModuleLifecycle<DeployRaw> {
  service: Deployer;
}

export function createDeploy(ctx: ModuleContext<DeployTables, DeployRaw>): DeployDomain {
  const service = new Deployer({ store: ctx.store, events: ctx.events, logger: ctx.logger.child({ component: 'deploy' }), now: ctx.now, config: ctx.config, dataDir: ctx.dataDir });
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
