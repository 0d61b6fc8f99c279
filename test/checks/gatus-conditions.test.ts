/**
 * Gatus' conditions judged as Gatus judges them. The cases are those of Gatus'
 * config/endpoint/condition_test.go (TestCondition_evaluate): the same condition, the same
 * observed result, the same pass or fail.
 */
import { describe, expect, it } from 'vitest';
import { compileCondition, evaluate, patternMatch } from '../../src/checks/conditions.js';
import type { Observation } from '../../src/checks/types.js';

/** What a Gatus Result holds, as a Shipshape observation. */
interface GatusResult {
  status?: number;
  ip?: string;
  ms?: number;
  body?: string;
  connected?: boolean;
  certMs?: number;
  domainMs?: number;
  rcode?: string;
}

function observe(r: GatusResult): Observation {
  const values: Record<string, unknown> = {};
  if (r.status !== undefined) values.status = r.status;
  if (r.ip !== undefined) values.ip = r.ip;
  if (r.body !== undefined) {
    values.body_text = r.body;
    try {
      values.body = JSON.parse(r.body) as unknown;
    } catch {
      values.body = r.body;
    }
  }
  if (r.connected !== undefined) values.connected = r.connected;
  if (r.certMs !== undefined) values.cert = { expires_in: r.certMs };
  if (r.domainMs !== undefined) values.domain = { expires_in: r.domainMs };
  if (r.rcode !== undefined) values.rcode = r.rcode;
  return { ok: true, latencyMs: r.ms ?? 0, values };
}

const judge = (c: string, r: GatusResult) => evaluate(compileCondition(c), observe(r));
const HOUR = 3_600_000;

// [condition, result, expected success] — from Gatus' condition_test.go
const cases: [string, GatusResult, boolean][] = [
  ['[IP] == 127.0.0.1', { ip: '127.0.0.1' }, true],
  ['[STATUS] == 200', { status: 200 }, true],
  ['[STATUS] == 200', { status: 500 }, false],
  ['[STATUS] < 300', { status: 201 }, true],
  ['[STATUS] < 300', { status: 404 }, false],
  ['[RESPONSE_TIME] < 500', { ms: 50 }, true],
  ['[RESPONSE_TIME] < 1s', { ms: 50 }, true],
  ['[RESPONSE_TIME] < potato', { ms: 50 }, false],
  ['[RESPONSE_TIME] > 500', { ms: 750 }, true],
  ['[RESPONSE_TIME] > 1s', { ms: 2000 }, true],
  ['[RESPONSE_TIME] >= 500', { ms: 500 }, true],
  ['[RESPONSE_TIME] >= 500', { ms: 499 }, false],
  ['[RESPONSE_TIME] <= 500', { ms: 500 }, true],
  ['[RESPONSE_TIME] <= 500', { ms: 25 }, true],
  ['[RESPONSE_TIME] <= 500', { ms: 750 }, false],
  ['[BODY] == test', { body: 'test' }, true],
  ['[BODY].status == UP', { body: '{"status":"UP"}' }, true],
  ['[BODY] == 123', { body: '123' }, true],
  ['[BODY] < 124', { body: '123' }, true],
  ['[BODY] > 122', { body: '123' }, true],
  ['[BODY] > 123', { body: '100' }, false],
  ['[BODY].data.name == john', { body: '{"data": {"id": 1, "name": "john"}}' }, true],
  ['[BODY].data.name == john', { body: '{"data": {"id": 1}}' }, false],
  ['len([BODY].data.name) == john', { body: '{"data": {"id": 1}}' }, false],
  ['[BODY].user.firstName != [BODY].user.lastName', { body: '{"user": {"firstName": "john", "lastName": "doe"}}' }, true],
  ['[BODY].user.firstName == [BODY].user.lastName', { body: '{"user": {"firstName": "john", "lastName": "doe"}}' }, false],
  ['[BODY][0].id == 1', { body: '[{"id": 1}, {"id": 2}]' }, true],
  ['[BODY].data == OK', { body: '{"data": null}' }, false],
  ['[BODY].items[0] == OK', { body: '{"items": [null, null]}' }, false],
  ['[BODY].data == OK', { body: 'null' }, false],
  ['[BODY][0].name == test', { body: '{"statusCode": 500, "message": "Internal Server Error"}' }, false],
  ['[BODY].data.id == 1', { body: '{"data": {"id": 1}}' }, true],
  ['[BODY].data[1].id == 2', { body: '{"data": [{"id": 1}, {"id": 2}, {"id": 3}]}' }, true],
  ['[BODY].data.id > 0', { body: '{"data": {"id": 1}}' }, true],
  ['[BODY].data > 0', { body: '{"data": "0x1"}' }, true],
  ['[BODY].data == 1', { body: '{"data": "0x1"}' }, true],
  ['[BODY].data == 0x1', { body: '{"data": "0x1"}' }, true],
  ['[BODY].data == 2', { body: '{"data": "0x2"}' }, true],
  ['[BODY].data == 15', { body: '{"data": "0xF"}' }, true],
  ['[BODY].data == 12648243', { body: '{"data": "0xC0ff33"}' }, true],
  ['len([BODY].data) == 3', { body: '{"data": "0x1"}' }, true],
  ['[BODY].data >= 1', { body: '{"data": "0x01"}' }, true],
  ['len([BODY].data) == 4', { body: '{"data": "0x01"}' }, true],
  ['[BODY].data > 0', { body: '{"data": "0o1"}' }, true],
  ['[BODY].data == 2', { body: '{"data": "0o2"}' }, true],
  ['[BODY].data == 0o2', { body: '{"data": "0o2"}' }, true],
  ['[BODY].data > 0', { body: '{"data": "0b1"}' }, true],
  ['[BODY].data == 2', { body: '{"data": "0b0010"}' }, true],
  ['[BODY].data == 0b10', { body: '{"data": "0b0010"}' }, true],
  ['[BODY].data.id > 5', { body: '{"data": {"id": 1}}' }, false],
  ['[BODY].balance > 100', { body: '{"balance": "123.40000000000005"}' }, true],
  ['[BODY].data.id < 5', { body: '{"data": {"id": 2}}' }, true],
  ['[BODY].data.id < 5', { body: '{"data": {"id": 10}}' }, false],
  ['[CONNECTED] == true', { connected: true }, true],
  ['[CONNECTED] == true', { connected: false }, false],
  ['[CERTIFICATE_EXPIRATION] == 0', {}, true],
  ['[CERTIFICATE_EXPIRATION] > 2419200000', { certMs: 60 * 24 * HOUR }, true],
  ['[CERTIFICATE_EXPIRATION] > 2419200000', { certMs: 14 * 24 * HOUR }, false],
  ['[CERTIFICATE_EXPIRATION] > 12h', { certMs: 24 * HOUR }, true],
  ['[CERTIFICATE_EXPIRATION] > 48h', { certMs: 24 * HOUR }, false],
  ['1 == 2', {}, false],
  ['1 == 1', {}, true],
  ['len([BODY].data.name) == 4', { body: '{"data": {"name": "john"}}' }, true],
  ['len([BODY]) == 3', { body: '[{"id": 1}, {"id": 2}, {"id": 3}]' }, true],
  ['len([BODY].data) == 3', { body: '{"data": [{"id": 1}, {"id": 2}, {"id": 3}]}' }, true],
  ['len([BODY].data) == 8', { body: '{"name": "john.doe"}' }, false],
  ['len([BODY]) == 8', { body: 'john.doe' }, true],
  ['len([BODY].name) == 8', { body: '{"name": "john.doe"}' }, true],
  ['len([BODY].age) == 2', { body: '{"age":18}' }, true],
  ['len([BODY].adult) == 4', { body: '{"adult":true}' }, true],
  ['len([BODY][0]) == 23', { body: '[{"age":18,"adult":true}]' }, true],
  ['len([BODY][0].age) == 2', { body: '[{"age":18,"adult":true}]' }, true],
  ['len([BODY][0].adult) == 4', { body: '[{"age":18,"adult":true}]' }, true],
  ['len([BODY]) == 20', { body: '{"name": "john.doe"}' }, true],
  ['[BODY] == pat(*john*)', { body: '{"name": "john.doe"}' }, true],
  ['[BODY].name == pat(john*)', { body: '{"name": "john.doe"}' }, true],
  ['[BODY].name == pat(bob*)', { body: '{"name": "john.doe"}' }, false],
  ['[BODY] == pat(*<div id="user">john.doe</div>*)', { body: '<!DOCTYPE html><html lang="en"><head><meta http-equiv="Content-Type" content="text/html; charset=UTF-8" /></head><body><div id="user">john.doe</div></body></html>' }, true],
  ['[BODY] == pat(*<div id="user">john.doe</div>*)', { body: '<!DOCTYPE html><html lang="en"><head></head><body><div id="user">jane.doe</div></body></html>' }, false],
  ['pat(*<div id="user">john.doe</div>*) == [BODY]', { body: '<!DOCTYPE html><html lang="en"><head></head><body><div id="user">jane.doe</div></body></html>' }, false],
  ['[BODY].data == pat(*Whatever*)', { body: '{"data": ["hello", "world", "Whatever"]}' }, true],
  ['[IP] == pat(10.*)', { ip: '10.0.0.0' }, true],
  ['[IP] == pat(10.*)', { ip: '255.255.255.255' }, false],
  ['[STATUS] == pat(4*)', { status: 404 }, true],
  ['[STATUS] == pat(4*)', { status: 200 }, false],
  ['[BODY].name == any(john.doe, jane.doe)', { body: '{"name": "john.doe"}' }, true],
  ['[BODY].name == any(john.doe, jane.doe)', { body: '{"name": "jane.doe"}' }, true],
  ['[BODY].name == any(john.doe, jane.doe)', { body: '{"name": "bob"}' }, false],
  ['[STATUS] == any(200, 429)', { status: 200 }, true],
  ['[STATUS] == any(200, 429)', { status: 429 }, true],
  ['any(200, 429) == [STATUS]', { status: 429 }, true],
  ['[STATUS] == any(200, 429)', { status: 404 }, false],
  ['has([BODY].errors) == false', { body: '{}' }, true],
  ['has([BODY].article) == true', { body: '{\n  "article": {\n    "id": 123,\n    "title": "Hello, world!"\n  }\n}' }, true],
  ['has([BODY].errors) == false', { body: '{"errors": ["1"]}' }, false],
];

describe("Gatus' conditions (cases of Gatus' condition_test.go)", () => {
  it.each(cases)('%s on %j → %s', (condition, result, ok) => {
    expect(judge(condition, result).ok).toBe(ok);
  });
});

describe('Gatus conditions in detail', () => {
  it('an unquoted word is text; quoted text still works', () => {
    expect(judge('[BODY].status == UP', { body: '{"status":"UP"}' }).ok).toBe(true);
    expect(judge('[BODY].status == "UP"', { body: '{"status":"UP"}' }).ok).toBe(true);
    expect(judge('[BODY].status == DOWN', { body: '{"status":"UP"}' })).toMatchObject({ ok: false, actual: '[BODY].status = "UP"' });
    // Gatus compares everything after the operator
    expect(judge('[BODY].name == john doe', { body: '{"name":"john doe"}' }).ok).toBe(true);
  });

  it('a placeholder on both sides reads both, and the failure shows both values', () => {
    expect(judge('[STATUS] == [BODY].status', { status: 200, body: '{"status":200}' }).ok).toBe(true);
    expect(judge('[STATUS] == [BODY].status', { status: 503, body: '{"status":200}' })).toEqual({
      condition: '[STATUS] == [BODY].status',
      ok: false,
      actual: '[STATUS] = 503, [BODY].status = 200',
    });
    const c = compileCondition('[BODY].user.firstName != [STATUS]');
    expect(c.roots.sort()).toEqual(['body', 'status']);
  });

  it('[BODY][0].name on an object body is false, not an error; a missing path shows as missing', () => {
    expect(judge('[BODY][0].name == test', { body: '{"name":"test"}' })).toEqual({ condition: '[BODY][0].name == test', ok: false, actual: '[BODY][0].name = missing' });
  });

  it('len() follows Gatus: body length in characters, digits of a number, elements of a list, minified JSON of an object', () => {
    expect(judge('len([BODY]) == 20', { body: '{"name": "john.doe"}' }).ok).toBe(true);
    expect(judge('len([BODY].age) == 2', { body: '{"age":18}' }).ok).toBe(true);
    expect(judge('len([BODY].items) == 3', { body: '{"items":[1,2,3]}' }).ok).toBe(true);
    expect(judge('len([BODY].user) == 19', { body: '{"user": {"name": "john.doe"}}' }).ok).toBe(true);
  });

  it('durations: [CERTIFICATE_EXPIRATION] and [DOMAIN_EXPIRATION] compare in milliseconds and show as durations; 0 when there is none', () => {
    expect(judge('[CERTIFICATE_EXPIRATION] > 48h', { certMs: 24 * HOUR })).toMatchObject({ ok: false, actual: '[CERTIFICATE_EXPIRATION] = 1d' });
    expect(judge('[CERTIFICATE_EXPIRATION] > 48h', {})).toMatchObject({ ok: false, actual: '[CERTIFICATE_EXPIRATION] = 0ms' });
    expect(judge('[DOMAIN_EXPIRATION] > 720h', { domainMs: 4000 * HOUR }).ok).toBe(true);
    expect(judge('[DOMAIN_EXPIRATION] > 720h', { domainMs: 24 * HOUR }).ok).toBe(false);
    // Shipshape's day unit is understood as well
    expect(judge('[CERTIFICATE_EXPIRATION] > 14d', { certMs: 20 * 24 * HOUR }).ok).toBe(true);
  });

  it('[DNS_RCODE] and [CONNECTED]', () => {
    expect(judge('[DNS_RCODE] == NOERROR', { rcode: 'NOERROR' }).ok).toBe(true);
    expect(judge('[DNS_RCODE] == NOERROR', { rcode: 'NXDOMAIN' })).toMatchObject({ ok: false, actual: '[DNS_RCODE] = "NXDOMAIN"' });
    // no `connected` value: a probe that got an answer was connected
    expect(judge('[CONNECTED] == true', {}).ok).toBe(true);
  });

  it('a probe that got no answer fails with its reason', () => {
    const down: Observation = { ok: false, latencyMs: 3, error: 'connection refused (127.0.0.1:9)', values: {} };
    expect(evaluate(compileCondition('[STATUS] == 200'), down)).toEqual({ condition: '[STATUS] == 200', ok: false, actual: 'connection refused (127.0.0.1:9)' });
  });

  it("Shipshape's forms work inside Gatus conditions", () => {
    expect(judge('[STATUS] == 2xx', { status: 204 }).ok).toBe(true);
    expect(judge('[STATUS] in [200, 204]', { status: 204 }).ok).toBe(true);
    expect(judge('[BODY] contains "ok"', { body: '{"state":"ok"}' }).ok).toBe(true);
    expect(judge('[BODY].name matches /^john/', { body: '{"name":"john.doe"}' }).ok).toBe(true);
    expect(judge('[BODY].missing == null', { body: '{}' }).ok).toBe(true);
  });

  it('a condition of a Gatus endpoint is Gatus even without a placeholder', () => {
    expect(evaluate(compileCondition('raw == raw', { gatus: true }), observe({})).ok).toBe(true);
  });

  it('the roots a condition reads include both sides; the whole body as text reads the raw body', () => {
    expect(compileCondition('[STATUS] == [BODY].status').roots.sort()).toEqual(['body', 'status']);
    expect(compileCondition('len([BODY]) > 0').roots.sort()).toEqual(['body', 'body_text']);
    expect(compileCondition('[DOMAIN_EXPIRATION] > 720h').roots).toEqual(['domain']);
    expect(compileCondition('any(200, 429) == [STATUS]').subject.path).toEqual(['status']);
  });

  it('syntax errors name the placeholder', () => {
    expect(() => compileCondition('[STATUSS] == 200')).toThrow(/unknown placeholder \[STATUSS\]/);
    expect(() => compileCondition('[STATUS].code == 200')).toThrow(/has no fields/);
    expect(() => compileCondition('[CONTEXT].user == 1')).toThrow(/suites/);
  });

  it("pat() is Go's filepath.Match", () => {
    expect(patternMatch('192.168.*', '192.168.1.1')).toBe(true);
    expect(patternMatch('4??', '404')).toBe(true);
    expect(patternMatch('4??', '4040')).toBe(false);
    expect(patternMatch('[a-c]x', 'bx')).toBe(true);
    expect(patternMatch('[^a-c]x', 'bx')).toBe(false);
    expect(patternMatch('a\\*', 'a*')).toBe(true);
    expect(patternMatch('[', 'x')).toBe(false);
  });
});
