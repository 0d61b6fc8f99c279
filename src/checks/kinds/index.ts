/** The registry of check kinds: adding a kind is adding its file and one line here. */
import type { CheckKind } from '../types.js';
import { command } from './command.js';
import { dns } from './dns.js';
import { heartbeat } from './heartbeat.js';
import { http } from './http.js';
import { postgres } from './postgres.js';
import { redis } from './redis.js';
import { tcp } from './tcp.js';
import { tls } from './tls.js';

export const kinds: CheckKind[] = [http, tcp, dns, tls, postgres, redis, command, heartbeat] as unknown as CheckKind[];

const byName = new Map(kinds.map((k) => [k.name, k]));

export function kindByName(name: string): CheckKind | undefined {
  return byName.get(name);
}

export { closeHttpAgents } from './http.js';
