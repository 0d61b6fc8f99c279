/** zod types for the config units, so every schema parses `30s`, `80%` and `100KB` the same way. */
import { z } from 'zod';
import { parseDuration, parsePercent, parseSize } from './units.js';

/** A duration: `250ms`, `30s`, `5m`, `1h30m`, `7d`; parsed to milliseconds. */
export const duration = () =>
  z
    .string()
    .transform((text, ctx) => {
      const ms = parseDuration(text);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: `expected a duration like 500ms, 30s, 5m, 2h or 1d, got "${text}"` });
        return z.NEVER;
      }
      return ms;
    })
    .meta({ description: 'duration: 500ms, 30s, 5m, 2h, 1d', pattern: '^(\\d+(\\.\\d+)?(ms|s|m|h|d|w))+$' });

/** A percentage: `80%`; parsed to a fraction (0.8). */
export const percent = () =>
  z
    .string()
    .transform((text, ctx) => {
      const f = parsePercent(text);
      if (f === undefined) {
        ctx.addIssue({ code: 'custom', message: `expected a percentage like 80%, got "${text}"` });
        return z.NEVER;
      }
      return f;
    })
    .meta({ description: 'percentage: 80%' });

/** A size: `512B`, `100KB`, `1.5MB`; parsed to bytes. */
export const size = () =>
  z
    .string()
    .transform((text, ctx) => {
      const b = parseSize(text);
      if (b === undefined) {
        ctx.addIssue({ code: 'custom', message: `expected a size like 100KB or 1MB, got "${text}"` });
        return z.NEVER;
      }
      return b;
    })
    .meta({ description: 'size: 512B, 100KB, 1MB' });
