/**
 * `heartbeat`: a dead man's switch. The job pings `/ping/<token>` (served elsewhere); the check
 * reports how long ago the last ping arrived, and the implied condition fails once that is longer
 * than `period + grace`.
 */
import { z } from 'zod';
import { duration } from '../../core/config/zod-units.js';
import type { CheckKind } from '../types.js';

const spec = z
  .object({
    token: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,128}$/, 'expected 1-128 characters of A-Z a-z 0-9 . _ -')
      .meta({ description: 'the token the job pings with (letters, digits, . _ -; up to 128)' }),
    period: duration().meta({ description: 'how often the job is expected to ping, e.g. 1h' }),
    grace: duration().optional().meta({ description: 'extra time allowed after the period before it counts as missed (default 0s)' }),
  })
  .strict();

export const heartbeat: CheckKind<typeof spec> = {
  name: 'heartbeat',
  spec,
  defaultEvery: 30_000,
  impliedConditions(s) {
    return [`last_ping_age < ${s.period + (s.grace ?? 0)}ms`];
  },
  describe(s) {
    return `heartbeat ${s.token}`;
  },
  async run(s, ctx) {
    const start = performance.now();
    const now = ctx.now();
    try {
      const last = ctx.heartbeats.lastPing(s.token);
      const since = last ?? ctx.heartbeats.watchingSince(s.token);
      return {
        ok: true,
        latencyMs: Math.round((performance.now() - start) * 100) / 100,
        values: {
          pinged: last !== undefined,
          last_ping_age: Math.max(0, now - since),
          last_ping_at: last === undefined ? null : new Date(last).toISOString(),
        },
      };
    } catch (e) {
      return { ok: false, latencyMs: 0, error: `heartbeat store unavailable: ${(e as Error).message}`, values: {} };
    }
  },
};
