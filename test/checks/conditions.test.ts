import { describe, expect, it } from 'vitest';
import { compileCondition, evaluate, type ConditionSyntaxError } from '../../src/checks/conditions.js';
import type { Observation } from '../../src/checks/types.js';

const obs = (values: Record<string, unknown>, latencyMs = 120, ok = true, error?: string): Observation => ({ ok, latencyMs, values, error });
const judge = (c: string, o: Observation) => evaluate(compileCondition(c), o);

describe('conditions', () => {
  const http = obs({ status: 200, body: { status: 'healthy', items: [1, 2, 3], checks: { db: { status: 'down' } } }, cert: { days: 30 }, connections_used: 0.42 });

  it('reads status, latency, JSON paths and units like Gatus', () => {
    expect(judge('status == 200', http)).toEqual({ condition: 'status == 200', ok: true, actual: 'status = 200' });
    expect(judge('latency < 500ms', http).ok).toBe(true);
    expect(judge('latency < 100ms', http)).toMatchObject({ ok: false, actual: 'latency = 120ms' });
    expect(judge('body.status == "healthy"', http).ok).toBe(true);
    expect(judge("body.checks.db.status == 'up'", http)).toMatchObject({ ok: false, actual: 'body.checks.db.status = "down"' });
    expect(judge('cert.days > 14', http).ok).toBe(true);
    expect(judge('connections_used < 80%', http)).toMatchObject({ ok: true, actual: 'connections_used = 42%' });
    expect(judge('connections_used < 40%', http).ok).toBe(false);
  });

  it('supports Gatus placeholders, status classes, lists, len(), has(), contains and regex', () => {
    expect(judge('[STATUS] == 200', http).ok).toBe(true);
    expect(judge('[RESPONSE_TIME] < 300', http).ok).toBe(true);
    expect(judge('[BODY].status == "healthy"', http).ok).toBe(true);
    expect(judge('status == 2xx', http).ok).toBe(true);
    expect(judge('status == 5xx', http).ok).toBe(false);
    expect(judge('status in [200, 204]', http).ok).toBe(true);
    expect(judge('len(body.items) == 3', http).ok).toBe(true);
    expect(judge('has(body.missing)', http).ok).toBe(false);
    expect(judge('body contains "healthy"', http).ok).toBe(true);
    expect(judge('body not contains "error"', http).ok).toBe(true);
    expect(judge('body.status matches /^heal/', http).ok).toBe(true);
  });

  it('a probe that got no answer fails every condition with its reason', () => {
    const down = obs({}, 5000, false, 'connection refused (127.0.0.1:9)');
    expect(judge('status == 200', down)).toEqual({ condition: 'status == 200', ok: false, actual: 'connection refused (127.0.0.1:9)' });
  });

  it('a JSON path into a non-JSON body is missing, not a crash', () => {
    expect(judge('body.status == "ok"', obs({ body: '<html>' }))).toMatchObject({ ok: false, actual: 'body.status = missing' });
  });

  it('syntax errors say what was expected and where', () => {
    const err = (c: string) => {
      try {
        compileCondition(c);
      } catch (e) {
        return e as ConditionSyntaxError;
      }
      throw new Error('no error');
    };
    expect(err('status = 200')).toMatchObject({ column: 8 });
    expect(err('status == "unterminated').message).toMatch(/unterminated string/);
    expect(err('latency < 5 parsecs').message).toMatch(/unexpected/);
    expect(err('status in 200').message).toMatch(/"in" needs a list/);
    expect(err('== 200').message).toMatch(/expected a value name/);
  });
});
