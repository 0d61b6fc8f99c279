/** Stopping Shipshape cuts the checks in flight short (one listener for all of them, not one per run). */
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkDefs } from '../../src/checks/config.js';
import { runCheck } from '../../src/checks/runner.js';
import { parseConfig } from '../../src/modules.js';

const noHeartbeats = { lastPing: () => undefined, watchingSince: () => Date.now() };

describe('runs in flight when Shipshape stops', () => {
  // accepts connections and never answers
  let server: Server;
  const sockets = new Set<Socket>();
  let port = 0;
  beforeAll(async () => {
    server = createServer((s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  });

  it('end with "shipshape is stopping", every one of them, and so does a run started after the stop (not with their timeout)', async () => {
    const cfg = parseConfig(
      `services:\n  hang:\n    checks:\n${[1, 2, 3].map((i) => `      - { name: h${i}, http: { url: "http://127.0.0.1:${port}/", every: 30s, timeout: 20s } }\n`).join('')}`,
      'shipshape.yaml',
      { env: {} },
    );
    const defs = [...checkDefs(cfg as never).checks.values()];
    expect(defs).toHaveLength(3);
    const stop = new AbortController();
    const runs = defs.map((d) => runCheck(d, { heartbeats: noHeartbeats, stop: stop.signal }));
    await new Promise((r) => setTimeout(r, 200));
    stop.abort();
    const results = await Promise.all(runs);
    // the stop ended them, not their 20 s timeout ("timed out after 20s")
    for (const r of results) {
      expect(r.ok).toBe(false);
      expect(r.message).toBe('shipshape is stopping');
    }
    const late = await runCheck(defs[0]!, { heartbeats: noHeartbeats, stop: stop.signal });
    expect(late.message).toBe('shipshape is stopping');
  });
});
