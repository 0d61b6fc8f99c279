/**
 * API tokens: random, shown once, stored as SHA-256 hashes (they are 192-bit random strings, so a
 * fast hash is enough), with scopes read < write < admin.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Scope, TokenInfo } from './api-types.js';
import type { Store } from './store/db.js';
import type { EventLog } from './events.js';

export const SCOPES: Scope[] = ['read', 'write', 'admin'];
const RANK: Record<Scope, number> = { read: 1, write: 2, admin: 3 };

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** The shortest secret accepted for SHIPSHAPE_ADMIN_TOKEN and ingest tokens. */
export const MIN_SECRET_LENGTH = 16;

const WEAK_WORDS = /^(change[-_]?me|password|passwd|secret|token|admin|default|example|test|letmein|qwerty|12345)/i;

/**
 * Why a configured secret is too weak to guard anything, or undefined when it is fine: shorter
 * than 16 characters, fewer than 5 different characters (`aaaa…`, `abababab…`), or a
 * placeholder repeated (`changeme-changeme`). Never repeats the secret.
 */
export function weakSecretReason(secret: string): string | undefined {
  if (secret.length < MIN_SECRET_LENGTH) return `must be at least ${MIN_SECRET_LENGTH} characters of random text (this one has ${secret.length}); make one with \`openssl rand -hex 24\``;
  if (new Set(secret).size < 5) return `is too easy to guess (it repeats a few characters); make one with \`openssl rand -hex 24\``;
  const stripped = secret.replace(/[-_.\s]/g, '');
  if (WEAK_WORDS.test(stripped) && new Set(stripped.match(/.{1,8}/g) ?? []).size <= 2) return 'is a placeholder, not a secret; make one with `openssl rand -hex 24`';
  return undefined;
}

/** A secret given at start (SHIPSHAPE_ADMIN_TOKEN) that is too weak: Shipshape refuses to start. */
export class WeakSecretError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WeakSecretError';
  }
}

export function newTokenSecret(): string {
  return `ss_${randomBytes(24).toString('base64url')}`;
}

/** Does a token with these scopes satisfy `need`? admin implies write implies read. */
export function allows(scopes: readonly Scope[], need: Scope): boolean {
  return scopes.some((s) => RANK[s] >= RANK[need]);
}

export interface AuthedToken {
  id: string;
  name: string;
  scopes: Scope[];
}

function toInfo(r: { id: string; name: string; scopes: string; created_at: number; last_used_at: number | null; revoked_at: number | null }): TokenInfo {
  const iso = (n: number | null) => (n === null ? null : new Date(Number(n)).toISOString());
  return { id: r.id, name: r.name, scopes: r.scopes.split(',') as Scope[], created_at: new Date(Number(r.created_at)).toISOString(), last_used_at: iso(r.last_used_at), revoked_at: iso(r.revoked_at) };
}

export class Tokens {
  /** hash -> token, for tokens seen recently; revocation clears it */
  private readonly cache = new Map<string, AuthedToken | null>();
  private readonly lastUsedWritten = new Map<string, number>();

  constructor(
    private readonly store: Store,
    private readonly events?: EventLog,
    private readonly now: () => number = Date.now,
  ) {}

  async create(name: string, scopes: Scope[], actor = 'system', secret = newTokenSecret()): Promise<{ token: string; info: TokenInfo }> {
    if (!name || name.length > 100) throw new Error('a token name is 1 to 100 characters');
    for (const s of scopes) if (!SCOPES.includes(s)) throw new Error(`unknown scope "${s}"; expected one of ${SCOPES.join(', ')}`);
    if (scopes.length === 0) throw new Error('a token needs at least one scope');
    const row = { id: randomUUID().slice(0, 8), name, hash: hashToken(secret), scopes: [...new Set(scopes)].join(','), created_at: this.now(), last_used_at: null, revoked_at: null };
    await this.store.db.insertInto('tokens').values(row).execute();
    this.cache.delete(row.hash);
    await this.events?.append({ type: 'token.created', actor, subject: `token:${row.id}`, data: { name, scopes } });
    return { token: secret, info: toInfo(row) };
  }

  async list(): Promise<TokenInfo[]> {
    const rows = await this.store.db.selectFrom('tokens').selectAll().orderBy('created_at').execute();
    return rows.map(toInfo);
  }

  async count(): Promise<number> {
    const r = await this.store.db.selectFrom('tokens').select((eb) => eb.fn.countAll<number>().as('n')).where('revoked_at', 'is', null).executeTakeFirst();
    return Number(r?.n ?? 0);
  }

  async revoke(idOrName: string, actor = 'system'): Promise<TokenInfo | undefined> {
    const row = await this.store.db.selectFrom('tokens').selectAll().where((eb) => eb.or([eb('id', '=', idOrName), eb('name', '=', idOrName)])).where('revoked_at', 'is', null).executeTakeFirst();
    if (!row) return undefined;
    const at = this.now();
    await this.store.db.updateTable('tokens').set({ revoked_at: at }).where('id', '=', row.id).execute();
    this.cache.delete(row.hash);
    await this.events?.append({ type: 'token.revoked', actor, subject: `token:${row.id}`, data: { name: row.name } });
    return toInfo({ ...row, revoked_at: at });
  }

  /** Make sure a given secret (SHIPSHAPE_ADMIN_TOKEN) is a valid admin token. */
  async ensure(secret: string, name: string): Promise<void> {
    const hash = hashToken(secret);
    const row = await this.store.db.selectFrom('tokens').select(['id', 'revoked_at']).where('hash', '=', hash).executeTakeFirst();
    if (row && row.revoked_at === null) return;
    if (row) {
      await this.store.db.updateTable('tokens').set({ revoked_at: null, scopes: 'admin' }).where('id', '=', row.id).execute();
      this.cache.delete(hash);
      return;
    }
    await this.create(name, ['admin'], 'env', secret);
  }

  /** The token for a presented secret, or undefined. Cached; revocation in this process is immediate. */
  async verify(secret: string): Promise<AuthedToken | undefined> {
    if (!secret || secret.length > 200) return undefined;
    const hash = hashToken(secret);
    let tok = this.cache.get(hash);
    if (tok === undefined) {
      const row = await this.store.db.selectFrom('tokens').select(['id', 'name', 'scopes', 'revoked_at']).where('hash', '=', hash).executeTakeFirst();
      tok = row && row.revoked_at === null ? { id: row.id, name: row.name, scopes: row.scopes.split(',') as Scope[] } : null;
      if (this.cache.size > 10_000) this.cache.clear();
      // remember misses briefly only via absence: a token created by the CLI in another process must work at once
      if (tok) this.cache.set(hash, tok);
    }
    if (!tok) return undefined;
    const now = this.now();
    if (now - (this.lastUsedWritten.get(tok.id) ?? 0) > 60_000) {
      this.lastUsedWritten.set(tok.id, now);
      void this.store.db.updateTable('tokens').set({ last_used_at: now }).where('id', '=', tok.id).execute().catch(() => undefined);
    }
    return tok;
  }

  /** Forget cached tokens (another process may have revoked one). */
  refresh(): void {
    this.cache.clear();
  }
}
