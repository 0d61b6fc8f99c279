/**
 * The built modules the benchmarks drive directly (the store, History). They are loaded from dist/
 * at run time, the same code the server process runs, so a seeded store always matches the
 * server's migrations; their types come from src/.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as HistoryNs from '../../src/checks/history.js';
import type * as ModulesNs from '../../src/modules.js';
import { ROOT } from './shipshape.js';

type ModulesModule = typeof ModulesNs;
type HistoryModule = typeof HistoryNs;

export async function loadDist(): Promise<{ openStore: ModulesModule['openStore']; History: HistoryModule['History'] }> {
  const load = async <T>(rel: string) => (await import(pathToFileURL(join(ROOT, 'dist', rel)).href)) as T;
  const modules = await load<ModulesModule>('modules.js');
  const history = await load<HistoryModule>('checks/history.js');
  return { openStore: modules.openStore, History: history.History };
}
