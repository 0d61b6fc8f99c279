/** The routing tree over the API (what `shipshape notify routes` shows), on a real server. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';

describe('GET /api/v1/notify/routes, POST /api/v1/notify/routes/test', () => {
  let srv: TestServer;
  let readToken: string;
  beforeAll(async () => {
    srv = await startTestServer(`
notify:
  channels:
    mail: { webhook: { url: "http://127.0.0.1:9/mail" } }
    pager: { webhook: { url: "http://127.0.0.1:9/pager" } }
  receivers:
    oncall: [pager, mail]
  route:
    receiver: mail
    routes:
      - matchers: ['severity=~"P0|P1"']
        receiver: oncall
        continue: true
      - matchers: [service=db]
        group_by: ['...']
`);
    readToken = (await srv.tokens.create('viewer', ['read'], 'test')).token;
  });
  afterAll(async () => srv?.close());

  it('lists the tree with inherited settings, to a read token', async () => {
    const r = await srv.api('/api/v1/notify/routes', { token: readToken });
    expect(r.status).toBe(200);
    const { items } = (await r.json()) as { items: { depth: number; path: string; matchers: string; receiver: string; channels: string[]; group_by: string[] }[] };
    expect(items.map((i) => [i.depth, i.path, i.matchers, i.receiver, i.channels, i.group_by])).toEqual([
      [0, 'route', '{}', 'mail', ['mail'], []],
      [1, 'route.routes[0]', '{severity=~"P0|P1"}', 'oncall', ['pager', 'mail'], []],
      [1, 'route.routes[1]', '{service="db"}', 'mail', ['mail'], ['...']],
    ]);
    expect((await srv.api('/api/v1/notify/routes', { token: null })).status).toBe(401);
  });

  it('tells where an alert with these labels goes', async () => {
    const test = async (labels: unknown) => srv.api('/api/v1/notify/routes/test', { method: 'POST', body: JSON.stringify({ labels }), token: readToken });
    const both = (await (await test({ severity: 'P0', service: 'db' })).json()) as { items: { path: string; receiver: string }[] };
    expect(both.items.map((i) => [i.path, i.receiver])).toEqual([
      ['route.routes[0]', 'oncall'],
      ['route.routes[1]', 'mail'],
    ]);
    const none = (await (await test({ service: 'web' })).json()) as { items: { path: string }[] };
    expect(none.items.map((i) => i.path)).toEqual(['route']);
    const bad = await test('severity=P0');
    expect(bad.status).toBe(400);
  });
});
