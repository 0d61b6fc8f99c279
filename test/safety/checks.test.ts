/** Issue 7: command checks and secrets, public health output, targets, redirects, intervals, paging, heartbeats. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { command } from '../../src/checks/kinds/command.js';
import { http } from '../../src/checks/kinds/http.js';
import { runCheck } from '../../src/checks/runner.js';
import { checkDefs } from '../../src/checks/config.js';
import { parseConfig } from '../../src/modules.js';
import { runKind } from '../helpers/run-kind.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const noHeartbeats = { lastPing: () => undefined, watchingSince: () => Date.now() };

describe('command checks and secrets (item 2)', () => {
  const saved = { ...process.env };
  afterEach(() => {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  });

  it('runs with a minimal environment plus env:, without SHIPSHAPE_* variables', async () => {
    process.env.SHIPSHAPE_ADMIN_TOKEN = 'admin-secret-value-0123456789';
    process.env.SOME_UNRELATED_VARIABLE = 'unrelated';
    const obs = await runKind(command, { run: 'env', env: { FROM_CHECK: 'yes' } });
    const out = String(obs.values.stdout);
    expect(out).toContain('FROM_CHECK=yes');
    expect(out).toMatch(/^PATH=/m);
    expect(out).not.toContain('SHIPSHAPE_');
    expect(out).not.toContain('admin-secret-value-0123456789');
    expect(out).not.toContain('SOME_UNRELATED_VARIABLE');
  });

  it('redacts the values of secret variables from output, messages and values', async () => {
    process.env.MY_SERVICE_TOKEN = 'tok-value-abcdef123456';
    const cfg = parseConfig(
      'services:\n  job:\n    checks:\n      - name: leak\n        command: { run: "echo $LEAK; echo $DB_PASSWORD", env: { LEAK: "tok-value-abcdef123456", DB_PASSWORD: "pw-value-987654" } }\n        conditions: [\'stdout == "nothing"\']\n',
      'shipshape.yaml',
      { env: {} },
    );
    const def = checkDefs(cfg as never).checks.get('job/leak');
    expect(def).toBeDefined();
    const r = await runCheck(def!, { heartbeats: noHeartbeats });
    const text = JSON.stringify(r);
    expect(r.ok).toBe(false);
    expect(text).not.toContain('tok-value-abcdef123456');
    expect(text).not.toContain('pw-value-987654');
    expect(r.message).toContain('***');
  });

  describe('public /api/health', () => {
    let s: TestServer;
    afterEach(async () => s?.close());
    it('does not show command output unless public_output is set', async () => {
      s = await startTestServer(
        'services:\n  job:\n    checks:\n      - name: quiet\n        command: { run: "echo private-output-xyz", every: 1h }\n        conditions: [\'stdout == "fine"\']\n  open:\n    checks:\n      - name: loud\n        command: { run: "echo public-output-xyz", every: 1h, public_output: true }\n        conditions: [\'stdout == "fine"\']\n',
      );
      await s.monitor.runNow();
      await s.monitor.runNow();
      const all = await (await fetch(`${s.url}/api/health`)).text();
      expect(all).toContain('job');
      expect(all).not.toContain('private-output-xyz');
      expect(all).toContain('public-output-xyz');
      const one = await (await fetch(`${s.url}/api/health/job`)).text();
      expect(one).not.toContain('private-output-xyz');
      expect(one).toContain('stdout == \\"fine\\"');
      // the authenticated API still shows it
      const api = await (await s.api('/api/v1/services/job')).text();
      expect(api).toContain('private-output-xyz');
    });
  });
});

describe('command targets (item 3)', () => {
  it('masks NAME=value assignments in the shown command', () => {
    const t = command.describe(command.spec.parse({ run: 'PGPASSWORD=hunter2secret pg_isready -h db' }));
    expect(t).not.toContain('hunter2secret');
    expect(t).toContain('PGPASSWORD=***');
    const a = command.describe(command.spec.parse({ argv: ['env', 'API_KEY=abc123secret', 'curl', '--password=pw123secret', 'https://x'] }));
    expect(a).not.toContain('abc123secret');
    expect(a).not.toContain('pw123secret');
  });
});

describe('http redirects (item 8)', () => {
  let a: Server;
  let b: Server;
  let aUrl: string;
  beforeAll(async () => {
    b = createServer((req, res) => {
      res.setHeader('content-type', 'text/plain');
      res.end(req.headers['x-api-key'] ? `key:${String(req.headers['x-api-key'])}` : 'no-key');
    });
    await new Promise<void>((r) => b.listen(0, '127.0.0.1', r));
    const bUrl = `http://127.0.0.1:${(b.address() as AddressInfo).port}`;
    a = createServer((req, res) => {
      if (req.url === '/same') {
        res.writeHead(302, { location: '/echo' });
        res.end();
      } else if (req.url === '/echo') {
        res.end(req.headers['x-api-key'] ? 'key-same' : 'no-key-same');
      } else {
        res.writeHead(302, { location: `${bUrl}/` });
        res.end();
      }
    });
    await new Promise<void>((r) => a.listen(0, '127.0.0.1', r));
    aUrl = `http://127.0.0.1:${(a.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    a.close();
    b.close();
  });

  it('drops custom headers on a cross-origin hop and keeps them on the same origin', async () => {
    const cross = await runKind(http, { url: `${aUrl}/away`, headers: { 'X-Api-Key': 'k-123' } });
    expect(cross.values.body).toBe('no-key');
    const same = await runKind(http, { url: `${aUrl}/same`, headers: { 'X-Api-Key': 'k-123' } });
    expect(same.values.body).toBe('key-same');
  });
});

describe('check intervals (item 15)', () => {
  const svc = (block: string, top = '') => `${top}services:\n  web:\n    checks:\n      - tcp: { host: 127.0.0.1, port: 1, ${block} }\n`;
  it('rejects every: 0s and 1ms with file:line', () => {
    for (const every of ['0s', '1ms', '50ms']) {
      expect(() => parseConfig(svc(`every: ${every}`), 'shipshape.yaml', { env: {} })).toThrow(/shipshape\.yaml:4:\d+: services\.web\.checks\[0\]\.tcp\.every: .*at least/);
    }
    expect(() => parseConfig('defaults:\n  every: 0s\n', 'shipshape.yaml', { env: {} })).toThrow(/defaults\.every/);
  });
  it('warns below one second unless defaults.allow_fast_checks is set', () => {
    const warned = parseConfig(svc('every: 500ms'), 'shipshape.yaml', { env: {} });
    expect(warned.warnings.join('\n')).toMatch(/allow_fast_checks/);
    const flagged = parseConfig(svc('every: 500ms', 'defaults:\n  allow_fast_checks: true\n'), 'shipshape.yaml', { env: {} });
    expect(flagged.warnings).toEqual([]);
    expect(parseConfig(svc('every: 2s'), 'shipshape.yaml', { env: {} }).warnings).toEqual([]);
  });
  it('rejects a timeout longer than the interval', () => {
    expect(() => parseConfig(svc('every: 1s, timeout: 20s'), 'shipshape.yaml', { env: {} })).toThrow(/services\.web\.checks\[0\]\.tcp\.timeout: .*longer than/);
    expect(parseConfig(svc('every: 5s, timeout: 5s'), 'shipshape.yaml', { env: {} }).raw).toBeDefined();
  });
});

/** A problem+json body without the fields that name the request (instance, request id). */
async function answer(res: Response): Promise<unknown> {
  const body = (await res.json()) as Record<string, unknown>;
  delete body.instance;
  delete body.requestId;
  delete body.request_id;
  return { status: res.status, body };
}

describe('server', () => {
  let s: TestServer;
  afterEach(async () => s?.close());

  it('pages GET /api/v1/checks (item 17)', async () => {
    s = await startTestServer('services:\n  a:\n    checks:\n      - tcp: { host: 127.0.0.1, port: 1, every: 1h }\n      - tcp: { host: 127.0.0.1, port: 2, every: 1h }\n  b:\n    checks:\n      - tcp: { host: 127.0.0.1, port: 3, every: 1h }\n');
    const first = (await (await s.api('/api/v1/checks?limit=2')).json()) as { items: { id: string }[]; next_cursor: string | null };
    expect(first.items.map((i) => i.id)).toEqual(['a/tcp', 'a/tcp-2']);
    expect(first.next_cursor).toBeTruthy();
    const second = (await (await s.api(`/api/v1/checks?limit=2&cursor=${first.next_cursor}`)).json()) as { items: { id: string }[]; next_cursor: string | null };
    expect(second.items.map((i) => i.id)).toEqual(['b/tcp']);
    expect(second.next_cursor).toBeNull();
    expect((await s.api('/api/v1/checks?limit=0')).status).toBe(400);
  });

  it('heartbeats: the name path answers the same for known and unknown names; the secret URL records (item 6)', async () => {
    s = await startTestServer('services:\n  backups:\n    checks:\n      - heartbeat: { token: nightly-backup, period: 1d }\n');
    const known = await fetch(`${s.url}/api/v1/heartbeat/nightly-backup`, { method: 'POST' });
    const unknown = await fetch(`${s.url}/api/v1/heartbeat/no-such-name`, { method: 'POST' });
    expect(await answer(known)).toEqual(await answer(unknown));
    expect(s.monitor.heartbeats.lastPing('nightly-backup')).toBeUndefined();

    const list = (await (await s.api('/api/v1/heartbeats')).json()) as { items: { name: string; path: string; secret: string }[] };
    expect(list.items).toHaveLength(1);
    const hb = list.items[0]!;
    expect(hb.name).toBe('nightly-backup');
    expect(hb.secret).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    expect(hb.path).toBe(`/api/v1/heartbeat/nightly-backup/${hb.secret}`);
    expect((await s.api('/api/v1/heartbeats', { token: null })).status).toBe(401);

    const wrong = await fetch(`${s.url}/api/v1/heartbeat/nightly-backup/${'x'.repeat(hb.secret.length)}`, { method: 'POST' });
    const unknownSecret = await fetch(`${s.url}/api/v1/heartbeat/no-such-name/${hb.secret}`, { method: 'POST' });
    expect(wrong.status).toBe(404);
    expect(await answer(wrong)).toEqual(await answer(unknownSecret));
    const ok = await fetch(`${s.url}${hb.path}`, { method: 'POST' });
    expect(ok.status).toBe(200);
    expect(s.monitor.heartbeats.lastPing('nightly-backup')).toBeDefined();

    // the secret survives a restart of the checks (it is stored)
    await s.reload();
    const again = (await (await s.api('/api/v1/heartbeats')).json()) as { items: { secret: string }[] };
    expect(again.items[0]?.secret).toBe(hb.secret);
  });
});
