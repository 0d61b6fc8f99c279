/**
 * The registry of check kinds: each file of this folder exports one `CheckKind` (its zod spec,
 * `run`, `describe`, `impliedConditions`), and adding a kind is adding its file and its line here.
 * Files whose names start with `_` hold shared helpers. The list is written out, not read from the
 * folder, so that the server can be bundled (scripts/bundle.mjs); a test holds it to the folder.
 */
import type { CheckKind } from '../types.js';
import { audit } from './audit.js';
import { command } from './command.js';
import { dns } from './dns.js';
import { envCheck } from './env.js';
import { headers } from './headers.js';
import { heartbeat } from './heartbeat.js';
import { http } from './http.js';
import { postgres } from './postgres.js';
import { redis } from './redis.js';
import { secrets } from './secrets.js';
import { tcp } from './tcp.js';
import { tls } from './tls.js';

const found: CheckKind[] = [audit, command, dns, envCheck, headers, heartbeat, http, postgres, redis, secrets, tcp, tls];

export const kinds: readonly CheckKind[] = found;

const byName = new Map(kinds.map((k) => [k.name, k]));
if (byName.size !== kinds.length) throw new Error(`two check kinds share a name: ${kinds.map((k) => k.name).join(', ')}`);

export function kindByName(name: string): CheckKind | undefined {
  return byName.get(name);
}
