import { createServer, type AddressInfo, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tcp } from '../../../src/checks/kinds/tcp.js';
import type { CheckKind } from '../../../src/checks/types.js';
import { judge, runKind } from '../../helpers/run-kind.js';

const kind = tcp as unknown as CheckKind;
let server: Server;
let openPort: number;
let closedPort: number;
let accepted = 0;

async function listen(s: Server): Promise<number> {
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  return (s.address() as AddressInfo).port;
}

beforeAll(async () => {
  server = createServer((socket) => {
    accepted++;
    socket.on('error', () => undefined);
    socket.resume();
  });
  openPort = await listen(server);
  const tmp = createServer();
  closedPort = await listen(tmp);
  await new Promise<void>((resolve) => tmp.close(() => resolve()));
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('tcp check', () => {
  it('connects to an open port and closes the connection', async () => {
    const input = { host: '127.0.0.1', port: openPort };
    const obs = await runKind(kind, input);
    expect(obs.ok).toBe(true);
    expect(obs.values.connected).toBe(true);
    expect(judge(kind, input, obs).ok).toBe(true);
    expect(accepted).toBeGreaterThan(0);
    // the probe's socket is closed: the server ends up with no open connections
    const open = () => new Promise<number>((resolve) => server.getConnections((_e, n) => resolve(n)));
    await expect.poll(open, { timeout: 5000, interval: 20 }).toBe(0);
  });

  it('reports a refused connection', async () => {
    const input = { host: '127.0.0.1', port: closedPort };
    const obs = await runKind(kind, input);
    expect(obs.ok).toBe(false);
    expect(obs.error).toBe(`connection refused (127.0.0.1:${closedPort})`);
    const verdict = judge(kind, input, obs);
    expect(verdict.ok).toBe(false);
    expect(verdict.outcomes[0]?.actual).toBe(`connection refused (127.0.0.1:${closedPort})`);
  });

  it('reports an unknown host as a DNS failure', async () => {
    const obs = await runKind(kind, { host: 'nope.invalid', port: 80 });
    expect(obs.ok).toBe(false);
    expect(obs.error).toMatch(/^DNS lookup failed for nope\.invalid/);
  });

  it('describes the target and validates the port', () => {
    expect(tcp.describe(tcp.spec.parse({ host: 'db.internal', port: 5432 }))).toBe('tcp db.internal:5432');
    expect(tcp.spec.safeParse({ host: 'x', port: 70000 }).success).toBe(false);
  });
});
