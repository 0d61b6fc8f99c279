/**
 * The rules: one per credential format of the field, written for Shipshape and informed by
 * gitleaks' config/gitleaks.toml (regexes, keywords, entropy floors) and secretlint's recommended
 * preset. A rule runs on a block of text only when one of its keywords appears in it (lower-cased),
 * so most blocks cost one `indexOf` per rule.
 */

export type Severity = 'high' | 'medium' | 'low';

/** What a rule's `check` may change about a match: another id (a JWT that is a Supabase service-role key), severity, description. */
export interface Verdict {
  id?: string;
  description?: string;
  severity?: Severity;
}

export interface Rule {
  readonly id: string;
  readonly description: string;
  readonly severity: Severity;
  /** lower-case; the rule runs on a block only when one of these appears in it */
  readonly keywords: readonly string[];
  /** global (and multiline) regex; group 1 is the secret, else the whole match */
  readonly regex: RegExp;
  /** minimum Shannon entropy (bits per character) of the secret */
  readonly entropy?: number;
  /** report the match's start rather than the secret's (a private key's BEGIN line) */
  readonly reportMatch?: boolean;
  /** a generic rule yields to any other rule matching the same text */
  readonly generic?: boolean;
  /**
   * every match begins where one of the keywords does: the rule is tried only at the keywords'
   * places (a sticky regex) instead of over the whole block
   */
  readonly anchored?: boolean;
  /** false drops the match; a Verdict changes it */
  check?(secret: string, match: RegExpExecArray): boolean | Verdict;
}

/** End of a token: not followed by another token character. */
const END = String.raw`(?![A-Za-z0-9_-])`;

const counts = new Uint32Array(65536);

/** Shannon entropy of `s` in bits per character. */
export function entropy(s: string): number {
  const n = s.length;
  if (n === 0) return 0;
  for (let i = 0; i < n; i++) counts[s.charCodeAt(i)] = (counts[s.charCodeAt(i)] as number) + 1;
  let h = 0;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    const k = counts[c] as number;
    if (k === 0) continue; // counted already
    const p = k / n;
    h -= p * Math.log2(p);
    counts[c] = 0;
  }
  return h;
}

/** Words of documentation and templates: a value containing one is an example, not a credential. */
const PLACEHOLDER = /x{5,}|X{5,}|\*{3,}|\.{3}|\u2026|<[^>]*>|\$\{|\{\{|%s|example|placeholder|changeme|change_me|redacted|dummy|your[_-]|_here\b|insert[_-]|replace[_-]?me|fake[_-]?key/i;

export function isPlaceholder(secret: string): boolean {
  return PLACEHOLDER.test(secret);
}

function jwtPayload(token: string): Record<string, unknown> | undefined {
  const part = token.split('.')[1];
  if (!part) return undefined;
  try {
    const v: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Passwords of tutorials and local containers: not secrets, whatever the host. */
const DEFAULT_PASSWORDS = new Set(['password', 'passw0rd', 'pass', 'secret', 'postgres', 'mysql', 'root', 'admin', 'changeme', 'example', 'test', 'testing', 'user', 'dev', 'redis', 'mongo', 'mongodb', 'mariadb', 'guest', 'default', 'pwd', 'local', 'docker', 'app']);
const LOCAL_HOST = /^(?:localhost|127\.\d+\.\d+\.\d+|\[?::1\]?|0\.0\.0\.0|host\.docker\.internal)$/i;

const DB_KIND: Record<string, { id: string; name: string }> = {
  postgres: { id: 'postgres-url', name: 'PostgreSQL' },
  postgresql: { id: 'postgres-url', name: 'PostgreSQL' },
  mysql: { id: 'mysql-url', name: 'MySQL' },
  mariadb: { id: 'mysql-url', name: 'MariaDB' },
  mongodb: { id: 'mongodb-url', name: 'MongoDB' },
  'mongodb+srv': { id: 'mongodb-url', name: 'MongoDB' },
  redis: { id: 'redis-url', name: 'Redis' },
  rediss: { id: 'redis-url', name: 'Redis' },
};

/** Parts of an identifier that name something other than a secret value: `token_url`, `csrf_token`, `secret_name`. */
const GENERIC_NAME_DENY =
  /(?:csrf|xsrf)[_.-]?token|(?:token|secret|password|key)[_.-]?(?:url|uri|endpoint|type|name|file|path|length|len|size|count|expir\w*|ttl|id|ref|arn|field|label|prompt|hint|policy|rotation|version|header|param|env|var)\b|public[_.-]?key|token[_.-]?(?:ize|izer|s\b)|next[_.-]?token|page[_.-]?token|continuation[_.-]?token|sessiontoken|forgot|reset[_.-]?password[_.-]?(?:url|path)/i;

export const RULES: readonly Rule[] = [
  {
    id: 'stripe-secret-key',
    anchored: true,
    description: 'Stripe secret or restricted API key',
    severity: 'high',
    keywords: ['sk_live_', 'sk_test_', 'sk_prod_', 'rk_live_', 'rk_test_', 'rk_prod_'],
    regex: new RegExp(String.raw`\b((?:sk|rk)_(?:live|test|prod)_[A-Za-z0-9]{20,247})` + END, 'g'),
    entropy: 3,
    check: (s) => (s.includes('_test_') ? { severity: 'medium', description: 'Stripe test-mode secret or restricted API key' } : true),
  },
  {
    id: 'stripe-webhook-secret',
    anchored: true,
    description: 'Stripe webhook signing secret',
    severity: 'high',
    keywords: ['whsec_'],
    regex: /\b(whsec_[A-Za-z0-9+/=]{24,128})(?![A-Za-z0-9+/=])/g,
    entropy: 3,
  },
  {
    id: 'jwt',
    anchored: true,
    description: 'JSON Web Token',
    severity: 'medium',
    keywords: ['eyj'],
    regex: new RegExp(String.raw`\b(eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,})` + END, 'g'),
    entropy: 3,
    check(s) {
      const payload = jwtPayload(s);
      if (!payload) return false;
      if (payload.role === 'service_role') return { id: 'supabase-service-role-key', description: 'Supabase service-role key (a JWT with role service_role: bypasses row-level security)', severity: 'high' };
      // Supabase anon keys are public by design (they ship in front ends)
      if (payload.role === 'anon') return false;
      return true;
    },
  },
  {
    id: 'supabase-access-token',
    anchored: true,
    description: 'Supabase personal access token',
    severity: 'high',
    keywords: ['sbp_'],
    regex: /\b(sbp_[a-f0-9]{40})(?![A-Za-z0-9])/g,
    entropy: 3,
  },
  {
    id: 'supabase-secret-key',
    anchored: true,
    description: 'Supabase secret API key',
    severity: 'high',
    keywords: ['sb_secret_'],
    regex: new RegExp(String.raw`\b(sb_secret_[A-Za-z0-9_-]{20,80})` + END, 'g'),
    entropy: 3,
  },
  {
    id: 'database-url',
    anchored: true,
    description: 'database URL with a password',
    severity: 'high',
    keywords: ['postgres', 'mysql', 'mariadb', 'mongodb', 'redis'],
    // scheme://user:password@host — the password is group 1; user and host are read back in check()
    regex: /\b(?:postgres(?:ql)?|mysql|mariadb|mongodb(?:\+srv)?|rediss?):\/\/[^:@/\s'"`]{0,128}:([^@\s'"`/]{1,256})@([^/:?#\s'"`,;)]{1,256})/gi,
    check(password, m) {
      const scheme = (/^[a-z+]+/i.exec(m[0])?.[0] ?? '').toLowerCase();
      const kind = DB_KIND[scheme] ?? { id: 'database-url', name: 'database' };
      if (/^[$%{<[*]|^\{\{|\$\{|^\$[A-Z_]/.test(password) || isPlaceholder(password)) return false;
      let pw = password;
      try {
        pw = decodeURIComponent(password);
      } catch {
        // keep as written
      }
      if (DEFAULT_PASSWORDS.has(pw.toLowerCase())) return false;
      const host = (m[2] ?? '').toLowerCase();
      const local = LOCAL_HOST.test(host);
      return {
        id: kind.id,
        description: `${kind.name} URL with a password${local ? ' (local host)' : ''}`,
        severity: local ? 'low' : 'high',
      };
    },
  },
  {
    id: 'aws-access-key-id',
    anchored: true,
    description: 'AWS access key ID',
    severity: 'high',
    keywords: ['akia', 'asia', 'abia', 'acca', 'a3t'],
    regex: /\b((?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})\b/g,
    entropy: 3,
  },
  {
    id: 'aws-secret-access-key',
    anchored: true,
    description: 'AWS secret access key',
    severity: 'high',
    keywords: ['aws_secret', 'aws-secret', 'awssecret', 'secret_access_key', 'secretaccesskey', 'aws.secret'],
    regex: /(?:aws[\w.-]{0,20}?secret|secret[_.-]?access[_.-]?key)[\w.-]{0,20}?["']?\s{0,5}(?::=|=>|=|:)\s{0,5}["'`]?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])/gi,
    entropy: 4,
  },
  {
    id: 'github-pat',
    anchored: true,
    description: 'GitHub personal access token',
    severity: 'high',
    keywords: ['ghp_'],
    regex: /\b(ghp_[A-Za-z0-9]{36})(?![A-Za-z0-9])/g,
    entropy: 3,
  },
  {
    id: 'github-fine-grained-pat',
    anchored: true,
    description: 'GitHub fine-grained personal access token',
    severity: 'high',
    keywords: ['github_pat_'],
    regex: /\b(github_pat_\w{82})(?!\w)/g,
    entropy: 3,
  },
  {
    id: 'github-oauth',
    anchored: true,
    description: 'GitHub OAuth access token',
    severity: 'high',
    keywords: ['gho_'],
    regex: /\b(gho_[A-Za-z0-9]{36})(?![A-Za-z0-9])/g,
    entropy: 3,
  },
  {
    id: 'github-app-token',
    anchored: true,
    description: 'GitHub App token',
    severity: 'high',
    keywords: ['ghu_', 'ghs_', 'ghr_'],
    regex: /\b((?:ghu|ghs|ghr)_[A-Za-z0-9]{36})(?![A-Za-z0-9])/g,
    entropy: 3,
  },
  {
    id: 'slack-token',
    anchored: true,
    description: 'Slack token',
    severity: 'high',
    keywords: ['xoxb-', 'xoxp-', 'xoxa-', 'xoxr-', 'xoxs-', 'xoxe-', 'xoxo-', 'xapp-'],
    regex: /\b(xox[abprseo]-[0-9]{1,14}-[A-Za-z0-9-]{10,250}|xapp-\d-[A-Z0-9]{8,16}-\d{8,16}-[a-f0-9]{32,80})(?![A-Za-z0-9-])/g,
    entropy: 3,
  },
  {
    id: 'slack-webhook-url',
    anchored: true,
    description: 'Slack incoming webhook URL',
    severity: 'high',
    keywords: ['hooks.slack.com'],
    regex: /hooks\.slack\.com\/(?:services|workflows|triggers)\/([A-Za-z0-9+/]{43,56})(?![A-Za-z0-9+/])/g,
    entropy: 3,
  },
  {
    id: 'resend-api-key',
    anchored: true,
    description: 'Resend API key',
    severity: 'high',
    keywords: ['re_'],
    regex: /\b(re_[A-Za-z0-9]{8,10}_[A-Za-z0-9]{20,32})(?![A-Za-z0-9_])/g,
    entropy: 3,
  },
  {
    id: 'sentry-org-token',
    anchored: true,
    description: 'Sentry organization auth token',
    severity: 'high',
    keywords: ['sntrys_'],
    regex: /\b(sntrys_eyJpYXQiO[A-Za-z0-9+/]{10,400}(?:LCJyZWdpb25fdXJs|InJlZ2lvbl91cmwi|cmVnaW9uX3VybCI6)[A-Za-z0-9+/]{10,400}={0,2}_[A-Za-z0-9+/]{43})(?![A-Za-z0-9+/])/g,
    entropy: 4.5,
  },
  {
    id: 'sentry-user-token',
    anchored: true,
    description: 'Sentry user auth token',
    severity: 'high',
    keywords: ['sntryu_'],
    regex: /\b(sntryu_[a-f0-9]{64})(?![A-Za-z0-9])/g,
    entropy: 3.5,
  },
  {
    id: 'openai-api-key',
    description: 'OpenAI API key',
    severity: 'high',
    keywords: ['sk-proj-', 'sk-svcacct-', 'sk-admin-', 't3blbkfj'],
    regex: new RegExp(String.raw`\b(sk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40,250}|sk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20})` + END, 'g'),
    entropy: 3,
  },
  {
    id: 'anthropic-api-key',
    anchored: true,
    description: 'Anthropic API key',
    severity: 'high',
    keywords: ['sk-ant-'],
    regex: new RegExp(String.raw`\b(sk-ant-(?:api03|admin01)-[A-Za-z0-9_-]{93}AA)` + END, 'g'),
    entropy: 3,
  },
  {
    id: 'private-key',
    description: 'private key',
    severity: 'high',
    keywords: ['private key'],
    regex: /-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----(?:\s|\\[nr]|["'+,])*([A-Za-z0-9+/][\s\S]{63,16384}?)(?:\s|\\[nr]|["'+,])*-----END[ A-Z0-9_-]{0,100}PRIVATE KEY/g,
    reportMatch: true,
    // a real key has long base64 runs; documentation writes `...`
    check: (body) => /[A-Za-z0-9+/]{40,}/.test(body) && !/\.\.\.|\u2026/.test(body),
  },
  {
    id: 'npm-access-token',
    anchored: true,
    description: 'npm access token',
    severity: 'high',
    keywords: ['npm_'],
    regex: /\b(npm_[A-Za-z0-9]{36})(?![A-Za-z0-9])/g,
    entropy: 3,
  },
  {
    id: 'npmrc-auth-token',
    description: 'npm registry auth token in an .npmrc',
    severity: 'high',
    keywords: ['_authtoken'],
    regex: /_authToken\s*=\s*["']?([^\s"'$]{16,256})/g,
    entropy: 3,
    generic: true,
  },
  {
    id: 'generic-api-key',
    anchored: true,
    description: 'secret-looking value assigned to a secret-named key',
    severity: 'medium',
    keywords: ['secret', 'token', 'passw', 'pwd', 'api_key', 'apikey', 'api-key', 'access_key', 'access-key', 'auth_key', 'private_key', 'credential'],
    regex:
      /(?:secret|token|passw(?:or)?d|pwd|api[_.-]?key|access[_.-]?key|auth[_.-]?key|private[_.-]?key|credentials?)[\w.-]{0,20}?["']?[ \t]{0,3}(?::=|=>|\?=|=|:)[ \t]{0,3}[`'"]?([A-Za-z0-9_.=+/~-]{12,150})(?=[`'"\s;,)]|\\[nr]|$)/gim,
    entropy: 3.5,
    generic: true,
    check(secret, m) {
      // the whole identifier around the keyword: read back from the block
      const input = m.input;
      let start = m.index;
      while (start > 0 && /[\w.-]/.test(input[start - 1] as string) && m.index - start < 60) start--;
      const name = input.slice(start, m.index + m[0].indexOf(secret));
      if (GENERIC_NAME_DENY.test(name)) return false;
      // a credential has letters and digits; code (`process.env.API_TOKEN`, `config.auth.token`) does not
      if (!/\d/.test(secret) || !/[A-Za-z]/.test(secret)) return false;
      if (/^[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)+$/.test(secret)) return false;
      // a path or a file name
      if (/^[./~]|\.(?:js|ts|json|ya?ml|pem|key|txt|env|sh|py|rb|go)$/i.test(secret)) return false;
      return true;
    },
  },
];

export const RULE_IDS: ReadonlySet<string> = new Set([...RULES.map((r) => r.id), 'supabase-service-role-key', 'postgres-url', 'mysql-url', 'mongodb-url', 'redis-url']);

/** Every id a finding can carry with its description and default severity (SARIF's rule list). */
export const RULE_CATALOG: readonly { id: string; description: string; severity: Severity }[] = [
  ...RULES.filter((r) => r.id !== 'database-url').map((r) => ({ id: r.id, description: r.description, severity: r.severity })),
  { id: 'supabase-service-role-key', description: 'Supabase service-role key (a JWT with role service_role)', severity: 'high' },
  { id: 'postgres-url', description: 'PostgreSQL URL with a password', severity: 'high' },
  { id: 'mysql-url', description: 'MySQL URL with a password', severity: 'high' },
  { id: 'mongodb-url', description: 'MongoDB URL with a password', severity: 'high' },
  { id: 'redis-url', description: 'Redis URL with a password', severity: 'high' },
];
