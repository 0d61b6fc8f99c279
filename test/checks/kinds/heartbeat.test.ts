import { describe, expect, it } from 'vitest';
import { heartbeat } from '../../../src/checks/kinds/heartbeat.js';
import type { CheckKind, HeartbeatSource } from '../../../src/checks/types.js';
import { judge, runKind } from '../../helpers/run-kind.js';

const kind = heartbeat as unknown as CheckKind;
const T0 = Date.parse('2026-01-01T00:00:00Z');
const MIN = 60_000;

function source(pings: Record<string, number>, since = T0): HeartbeatSource {
  return { lastPing: (t) => pings[t], watchingSince: () => since };
}

describe('heartbeat check', () => {
  const input = { token: 'nightly-backup', period: '1h', grace: '5m' };

  it('passes while a never-pinged token is still within its first period', async () => {
    const obs = await runKind(kind, input, { heartbeats: source({}), now: () => T0 + 30 * MIN });
    expect(obs.ok).toBe(true);
    expect(obs.values).toEqual({ pinged: false, last_ping_age: 30 * MIN, last_ping_at: null });
    expect(judge(kind, input, obs).ok).toBe(true);
  });

  it('fails once a never-pinged token is past period + grace', async () => {
    const obs = await runKind(kind, input, { heartbeats: source({}), now: () => T0 + 66 * MIN });
    const verdict = judge(kind, input, obs);
    expect(verdict.ok).toBe(false);
    expect(verdict.outcomes[0]).toMatchObject({ condition: `last_ping_age < ${65 * MIN}ms`, ok: false, actual: 'last_ping_age = 1h6m' });
  });

  it('judges from the last ping, and grace extends the period', async () => {
    const pings = { 'nightly-backup': T0 + 10 * MIN };
    const within = await runKind(kind, input, { heartbeats: source(pings), now: () => T0 + 72 * MIN });
    expect(within.values).toEqual({ pinged: true, last_ping_age: 62 * MIN, last_ping_at: '2026-01-01T00:10:00.000Z' });
    expect(judge(kind, input, within).ok).toBe(true);
    expect(judge(kind, { token: 'nightly-backup', period: '1h' }, within).ok).toBe(false);
    const late = await runKind(kind, input, { heartbeats: source(pings), now: () => T0 + 76 * MIN });
    expect(judge(kind, input, late).ok).toBe(false);
  });

  it('validates the token and defaults to a 30s interval', () => {
    expect(heartbeat.spec.safeParse({ token: 'bad token!', period: '1h' }).success).toBe(false);
    expect(heartbeat.spec.safeParse({ token: 'x'.repeat(129), period: '1h' }).success).toBe(false);
    expect(heartbeat.spec.safeParse({ token: 'ok', period: 'soon' }).success).toBe(false);
    expect(heartbeat.defaultEvery).toBe(30_000);
    expect(heartbeat.describe(heartbeat.spec.parse({ token: 'nightly-backup', period: '1h' }))).toBe('heartbeat nightly-backup');
  });
});
