/**
 * The built modules the benchmarks drive directly (the store, History). They are loaded from dist/
 * at run time, the same code the server process runs, so a seeded store always matches the
 * server's migrations; their types come from src/.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as HistoryNs from '../../src/checks/history.js';
import type * as DbNs from '../../src/store/db.js';
import { ROOT } from './shipshape.js';

type DbModule = typeof DbNs;
type HistoryModule = typeof HistoryNs;

export async function loadDist(): Promise<{ openStore: DbModule['openStore']; History: HistoryModule['History'] }> {
  const load = async <T>(rel: string) => (await import(pathToFileURL(join(ROOT, 'dist', rel)).href)) as T;
  const db = await load<DbModule>('store/db.js');
  const history = await load<HistoryModule>('checks/history.js');
  return { openStore: db.openStore, History: history.History };
}
