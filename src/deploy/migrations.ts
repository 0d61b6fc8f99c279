/** The deploy domain's tables: releases, the steps of each (with their output) and deploy locks. */
import type { Generated, Migration } from 'kysely';
import type { Dialect } from '../core/store/db.js';
import { columnTypes, type AnyDB } from '../core/store/migrations.js';

/**
 * A release: one version of a service in one environment. What was deployed (sha, version, ref,
 * config snapshot, gate results) never changes after the row is made; `state` and the times move.
 */
export interface ReleasesTable {
  id: Generated<number>;
  service: string;
  env: string;
  /** running, failed, live, warm, retired, rolled_back (see types.ts) */
  state: string;
  /** `git describe --tags --always` of the commit */
  version: string;
  git_sha: string;
  /** the ref it was cut from, as given (HEAD, main, v1.2.0) */
  ref: string;
  /** the commit's author */
  author: string;
  /** the commit's subject line */
  commit_message: string;
  /** who deployed it (token:<name>) */
  actor: string;
  /** the release it was promoted from (the same build, another environment) */
  promoted_from: number | null;
  /** JSON: the service's deploy config at the time, with env values left out */
  config: string;
  /** JSON GateResult[] */
  gates: string;
  error: string | null;
  /** where it lives on disk, null once removed */
  dir: string | null;
  port: number | null;
  pid: number | null;
  created_at: number;
  finished_at: number | null;
  /** when it last started serving */
  live_at: number | null;
  /** when it stopped serving (replaced, rolled back) */
  ended_at: number | null;
  /** driver: command: the platform's id of the deployment (Vercel: its host name; Netlify: deploy_id) */
  deployment_id: string | null;
  /** driver: command: the deployment's own URL */
  deployment_url: string | null;
  /** the env store's snapshot the release runs with (a reference: names and versions, never values) */
  env_snapshot: string | null;
}

export interface ReleaseStepsTable {
  id: Generated<number>;
  release_id: number;
  seq: number;
  /** cut, gate:<name>, build, start, health, switch */
  name: string;
  /** running, ok, failed, skipped */
  state: string;
  started_at: number;
  finished_at: number | null;
  exit_code: number | null;
  /** the step's output (the last 256 KB) */
  output: string;
  detail: string | null;
}

export interface DeployLocksTable {
  service: string;
  env: string;
  owner: string;
  reason: string;
  /** the release a running deploy holds it for; null for a lock taken by hand */
  release_id: number | null;
  acquired_at: number;
  expires_at: number;
}

export interface DeployTables {
  releases: ReleasesTable;
  release_steps: ReleaseStepsTable;
  deploy_locks: DeployLocksTable;
}

export function deployMigrations(dialect: Dialect): Record<string, Migration> {
  const { id, idCol } = columnTypes(dialect);
  return {
    '0900_deploy': {
      async up(db: AnyDB) {
        await db.schema
          .createTable('releases')
          .addColumn('id', id, idCol)
          .addColumn('service', 'text', (c) => c.notNull())
          .addColumn('env', 'text', (c) => c.notNull())
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('version', 'text', (c) => c.notNull())
          .addColumn('git_sha', 'text', (c) => c.notNull())
          .addColumn('ref', 'text', (c) => c.notNull())
          .addColumn('author', 'text', (c) => c.notNull())
          .addColumn('commit_message', 'text', (c) => c.notNull())
          .addColumn('actor', 'text', (c) => c.notNull())
          .addColumn('promoted_from', 'bigint')
          .addColumn('config', 'text', (c) => c.notNull())
          .addColumn('gates', 'text', (c) => c.notNull())
          .addColumn('error', 'text')
          .addColumn('dir', 'text')
          .addColumn('port', 'integer')
          .addColumn('pid', 'integer')
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('finished_at', 'bigint')
          .addColumn('live_at', 'bigint')
          .addColumn('ended_at', 'bigint')
          .execute();
        await db.schema.createIndex('releases_service_id').on('releases').columns(['service', 'id']).execute();
        await db.schema
          .createTable('release_steps')
          .addColumn('id', id, idCol)
          .addColumn('release_id', 'bigint', (c) => c.notNull())
          .addColumn('seq', 'integer', (c) => c.notNull())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('started_at', 'bigint', (c) => c.notNull())
          .addColumn('finished_at', 'bigint')
          .addColumn('exit_code', 'integer')
          .addColumn('output', 'text', (c) => c.notNull())
          .addColumn('detail', 'text')
          .execute();
        await db.schema.createIndex('release_steps_release').on('release_steps').columns(['release_id', 'seq']).execute();
        await db.schema
          .createTable('deploy_locks')
          .addColumn('service', 'text', (c) => c.notNull())
          .addColumn('env', 'text', (c) => c.notNull())
          .addColumn('owner', 'text', (c) => c.notNull())
          .addColumn('reason', 'text', (c) => c.notNull())
          .addColumn('release_id', 'bigint')
          .addColumn('acquired_at', 'bigint', (c) => c.notNull())
          .addColumn('expires_at', 'bigint', (c) => c.notNull())
          .addPrimaryKeyConstraint('deploy_locks_pk', ['service', 'env'])
          .execute();
      },
    },
    '0901_deploy_command': {
      async up(db: AnyDB) {
        await db.schema.alterTable('releases').addColumn('deployment_id', 'text').execute();
        await db.schema.alterTable('releases').addColumn('deployment_url', 'text').execute();
      },
    },
    '0902_deploy_env_snapshot': {
      async up(db: AnyDB) {
        await db.schema.alterTable('releases').addColumn('env_snapshot', 'text').execute();
      },
    },
  };
}
