/** The errors domain's tables. Names continue the global order (see src/store/migrations.ts). */
import type { Generated, Migration } from 'kysely';
import type { Dialect } from '../core/store/db.js';
import { columnTypes, type AnyDB } from '../core/store/migrations.js';


export interface ErrorIssuesTable {
  id: Generated<number>;
  project: number;
  hash: string;
  grouping: string;
  components: string;
  title: string;
  culprit: string;
  type: string | null;
  level: string;
  status: string;
  first_seen: number;
  last_seen: number;
  count: number;
  first_release: string | null;
  last_release: string | null;
  resolved_at: number | null;
  resolved_release: string | null;
  status_changed_at: number;
}

export interface ErrorEventsTable {
  id: Generated<number>;
  issue_id: number;
  project: number;
  event_id: string;
  received_at: number;
  release: string | null;
  environment: string | null;
  level: string;
  data: string;
}

/** The errors module's tables; its store handle is typed with these only. */
export interface ErrorsTables {
  error_issues: ErrorIssuesTable;
  error_events: ErrorEventsTable;
}

export function errorsMigrations(dialect: Dialect): Record<string, Migration> {
  const { id, idCol } = columnTypes(dialect);
  return {
    '0200_errors': {
      async up(db: AnyDB) {
        await db.schema
          .createTable('error_issues')
          .addColumn('id', id, idCol)
          .addColumn('project', 'integer', (c) => c.notNull())
          .addColumn('hash', 'text', (c) => c.notNull())
          .addColumn('grouping', 'text', (c) => c.notNull())
          .addColumn('components', 'text', (c) => c.notNull())
          .addColumn('title', 'text', (c) => c.notNull())
          .addColumn('culprit', 'text', (c) => c.notNull())
          .addColumn('type', 'text')
          .addColumn('level', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('first_seen', 'bigint', (c) => c.notNull())
          .addColumn('last_seen', 'bigint', (c) => c.notNull())
          .addColumn('count', 'bigint', (c) => c.notNull())
          .addColumn('first_release', 'text')
          .addColumn('last_release', 'text')
          .addColumn('resolved_at', 'bigint')
          .addColumn('resolved_release', 'text')
          .addColumn('status_changed_at', 'bigint', (c) => c.notNull())
          .addUniqueConstraint('error_issues_project_hash', ['project', 'hash'])
          .execute();
        await db.schema.createIndex('error_issues_last_seen').on('error_issues').columns(['last_seen', 'id']).execute();
        await db.schema.createIndex('error_issues_project_last_seen').on('error_issues').columns(['project', 'last_seen']).execute();
        await db.schema
          .createTable('error_events')
          .addColumn('id', id, idCol)
          .addColumn('issue_id', 'integer', (c) => c.notNull())
          .addColumn('project', 'integer', (c) => c.notNull())
          .addColumn('event_id', 'text', (c) => c.notNull())
          .addColumn('received_at', 'bigint', (c) => c.notNull())
          .addColumn('release', 'text')
          .addColumn('environment', 'text')
          .addColumn('level', 'text', (c) => c.notNull())
          .addColumn('data', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('error_events_issue_id').on('error_events').columns(['issue_id', 'id']).execute();
        await db.schema.createIndex('error_events_received_at').on('error_events').column('received_at').execute();
      },
    },
  };
}
