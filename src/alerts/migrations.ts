/** The alerts domain's tables. Names continue the global order (see src/store/migrations.ts). */
import type { Migration } from 'kysely';
import type { Dialect } from '../store/db.js';

export function alertsMigrations(_dialect: Dialect): Record<string, Migration> {
  return {};
}
