/** Run a store test suite against both back ends: embedded SQLite and real PostgreSQL. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RootStore as Store } from '../../src/modules.js';
import { openStore } from '../../src/modules.js';
import { createTestDatabase } from './pg.js';

export interface StoreTarget {
  name: 'sqlite' | 'postgres';
  /** a fresh, empty location; open it as often as needed (restarts) */
  make(): Promise<{ open: () => Promise<Store>; cleanup: () => Promise<void> }>;
}

export const storeTargets: StoreTarget[] = [
  {
    name: 'sqlite',
    async make() {
      const dir = mkdtempSync(join(tmpdir(), 'shipshape-store-'));
      return { open: () => openStore({ dataDir: dir }), cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
    },
  },
  {
    name: 'postgres',
    async make() {
      const db = await createTestDatabase();
      return { open: () => openStore({ databaseUrl: db.url }), cleanup: db.drop };
    },
  },
];
