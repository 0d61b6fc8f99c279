import { createServer, type AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { beforeAll, describe, expect, it } from 'vitest';
import { redis } from '../../../src/checks/kinds/redis.js';
import type { CheckKind } from '../../../src/checks/types.js';
import { judge, runKind } from '../../helpers/run-kind.js';

const kind = redis as unknown as CheckKind;
const URL_OK = process.env.SHIPSHAPE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
let closedPort: number;

async function checkClients(): Promise<number> {
  const c = new Redis(URL_OK, { lazyConnect: true });
  await c.connect();
  try {
    const list = (await c.client('LIST')) as string;
    return list.split('\n').filter((l) => l.includes('name=shipshape-check')).length;
  } finally {
    c.disconnect();
  }
}

beforeAll(async () => {
  const tmp = createServer();
  await new Promise<void>((resolve) => tmp.listen(0, '127.0.0.1', resolve));
  closedPort = (tmp.address() as AddressInfo).port;
  await new Promise<void>((resolve) => tmp.close(() => resolve()));
});

describe('redis check', () => {
  it('pings and reports memory, version and clients', async () => {
    const input = { url: URL_OK };
    const obs = await runKind(kind, input);
    expect(obs.error).toBeUndefined();
    expect(obs.ok).toBe(true);
    expect(obs.values.pong).toBe(true);
    expect(obs.values.used_memory).toBeGreaterThan(0);
    expect(typeof obs.values.maxmemory).toBe('number');
    expect(obs.values.memory_used).toBeGreaterThan(0);
    expect(obs.values.memory_used).toBeLessThan(1);
    expect(obs.values.version).toMatch(/^\d+\.\d+/);
    expect(obs.values.connected_clients).toBeGreaterThanOrEqual(1);
    expect(judge(kind, input, obs, ['memory_used < 90%', 'used_memory < 10GB']).ok).toBe(true);
    expect(judge(kind, input, obs, ['used_memory < 1KB']).ok).toBe(false);
  });

  it('disconnects after every run', async () => {
    for (let i = 0; i < 5; i++) await runKind(kind, { url: URL_OK });
    // the server notices a closed connection a moment after the client drops it
    await expect.poll(checkClients, { timeout: 5000, interval: 50 }).toBe(0);
  });

  it('reports a refused connection', async () => {
    const input = { url: `redis://127.0.0.1:${closedPort}` };
    const obs = await runKind(kind, input);
    expect(obs.ok).toBe(false);
    expect(obs.error).toBe(`connection refused (127.0.0.1:${closedPort})`);
    expect(judge(kind, input, obs).ok).toBe(false);
  });

  it('keeps the password out of errors and descriptions', async () => {
    const secret = 'r3dis-Secret!';
    const url = `redis://:${encodeURIComponent(secret)}@127.0.0.1:${closedPort}/2`;
    const obs = await runKind(kind, { url });
    expect(obs.ok).toBe(false);
    expect(JSON.stringify(obs)).not.toContain('r3dis-Secret');
    expect(redis.describe(redis.spec.parse({ url }))).toBe(`redis://:***@127.0.0.1:${closedPort}/2`);
  });

  it('reports an authentication failure without the password', async () => {
    const obs = await runKind(kind, { url: `redis://nobody_shipshape:wrong-Secret@${URL_OK.replace(/^redis:\/\//, '')}` });
    expect(obs.ok).toBe(false);
    expect(obs.error).toMatch(/^authentication failed/);
    expect(JSON.stringify(obs)).not.toContain('wrong-Secret');
  });
});
