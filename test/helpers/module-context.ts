/** A ModuleContext for creating one module on its own in a test (what src/app.ts gives each module). */
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { AtRest } from '../../src/core/at-rest.js';
import { Registry } from 'prom-client';
import type { Config } from '../../src/core/config/load.js';
import type { EventLog } from '../../src/core/events.js';
import { IngestGuard } from '../../src/core/http/ingest.js';
import type { Metrics } from '../../src/core/metrics.js';
import type { ModuleContext } from '../../src/core/module.js';
import { StorageHealth } from '../../src/core/storage-health.js';
import type { RawConfig, RootStore } from '../../src/modules.js';

/** One key for the whole test process, as one data directory has one: a module created again (a restart) opens what it sealed. */
const TEST_AT_REST = new AtRest(randomBytes(32), 'the test key');

export function moduleContext(opts: { store: RootStore; events: EventLog; config: () => Config<RawConfig>; now: () => number; metrics?: Metrics; use?: ModuleContext['use']; dataDir?: string; atRest?: AtRest }): ModuleContext<any, any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  return {
    store: opts.store as ModuleContext['store'],
    events: opts.events,
    logger,
    metrics: opts.metrics ?? ({ registry: new Registry() } as unknown as Metrics),
    ingest: new IngestGuard(() => opts.config().raw.ingest, opts.now),
    storage: new StorageHealth(opts.store, opts.events, logger),
    config: opts.config,
    now: opts.now,
    version: 'test',
    dataDir: opts.dataDir ?? process.cwd(),
    atRest: opts.atRest ?? TEST_AT_REST,
    use: opts.use ?? (() => {
      throw new Error('this test creates one module only');
    }),
  };
}
