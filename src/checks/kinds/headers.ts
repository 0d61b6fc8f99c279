/**
 * `headers`: grade a URL's security headers as the MDN HTTP Observatory does (the websec module's
 * `shipshape headers`), through the same egress policy as every check. Down when the grade is
 * below `min_grade`, with a message naming the grade, the score and the failed tests
 * (`grade C (55/100): csp-not-implemented, hsts-not-implemented`); the grade, score and each
 * test's result are values alert rules can read.
 */
import { z } from 'zod';
import { failing, GRADES, gradeAtLeast, gradeHeaders } from '../../websec/index.js';
import type { CheckKind } from '../types.js';
import { elapsed, failed, redactUrlCredentials } from './_util.js';

const spec = z
  .object({
    url: z
      .string()
      .regex(/^https?:\/\/[^\s/?#]+/i, 'expected an http:// or https:// URL')
      .refine((u) => !/^https?:\/\/[^/?#]*@/i.test(u), 'leave credentials out of the URL: the grade is of what anyone sees')
      .meta({ description: 'the site to grade (its HTTPS and HTTP answers on the same host and path are both fetched, as the Observatory does)' }),
    min_grade: z.enum(GRADES).default('B').meta({ description: 'lowest acceptable grade, A+ … F (default B)' }),
  })
  .strict();

export const headers: CheckKind<typeof spec> = {
  name: 'headers',
  spec,
  // a grade changes with deploys, not by the minute
  defaultEvery: 3_600_000,
  impliedConditions: () => [],
  describe: (s) => `security headers of ${redactUrlCredentials(s.url)} (at least ${s.min_grade ?? 'B'})`,
  async run(s, ctx) {
    const start = performance.now();
    try {
      const r = await gradeHeaders(s.url, { timeoutMs: s.timeout > 0 ? s.timeout : ctx.timeoutMs, signal: ctx.signal });
      const bad = failing(r);
      const values = {
        grade: r.grade,
        score: r.score,
        status: r.status,
        final_url: r.finalUrl,
        failing: bad.map((t) => t.result),
        tests: Object.fromEntries(r.tests.map((t) => [t.name, { result: t.result, pass: t.pass, score_modifier: t.scoreModifier, fix: t.fix }])),
      };
      if (!gradeAtLeast(r.grade, s.min_grade)) {
        const list = bad.slice(0, 4).map((t) => t.result).join(', ');
        return { ok: false, latencyMs: elapsed(start), error: `grade ${r.grade} (${r.score}/100)${list ? `: ${list}${bad.length > 4 ? ', …' : ''}` : ''}; at least ${s.min_grade} expected`, values };
      }
      return { ok: true, latencyMs: elapsed(start), values };
    } catch (e) {
      return failed(start, (e as Error).message);
    }
  },
};
