/**
 * Keeping secrets out of what people see: messages, logs, events and API responses. One place for
 * URL credentials and known secret strings, used by checks, the store and notifications.
 */

/**
 * Replace the password of any `scheme://user:password@` in `text` with `***`.
 * `postgres://user:secret@host/db` -> `postgres://user:***@host/db`.
 */
export function redactUrlCredentials(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*):([^@\s]*)@/gi, (_m, head: string) => `${head}:***@`);
}

/** Remove every occurrence of the given secrets (raw and URL-encoded) from `text`. */
export function scrub(text: string, secrets: readonly (string | undefined)[]): string {
  let out = redactUrlCredentials(text);
  for (const s of secrets) {
    if (!s || s.length < 2) continue;
    for (const form of new Set([s, safeDecode(s), encodeURIComponent(s)])) {
      if (form) out = out.split(form).join('***');
    }
  }
  return out;
}

/**
 * `scrub` with the secrets fixed, for text scrubbed again and again (every check run): the forms
 * of each secret are worked out once, and text with nothing to hide is returned as it is.
 */
export function scrubber(secrets: readonly (string | undefined)[]): (text: string) => string {
  const forms: string[] = [];
  for (const s of secrets) {
    if (!s || s.length < 2) continue;
    for (const form of new Set([s, safeDecode(s), encodeURIComponent(s)])) if (form) forms.push(form);
  }
  return (text) => {
    // redactUrlCredentials only changes `scheme://user:password@`
    let out = text.includes('@') ? redactUrlCredentials(text) : text;
    for (const f of forms) if (out.includes(f)) out = out.split(f).join('***');
    return out;
  };
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** The password in a URL, decoded, or undefined. */
export function urlPassword(url: string): string | undefined {
  try {
    const u = new URL(url);
    return u.password ? safeDecode(u.password) : undefined;
  } catch {
    const m = /^[a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*:([^@\s]*)@/i.exec(url);
    return m?.[1] ? safeDecode(m[1]) : undefined;
  }
}

/** Names of variables and keys whose values are secrets: tokens, passwords, keys, credentials. */
export const SECRET_NAME_RE = /token|secret|passw(or)?d|passwd|pwd|api[-_]?key|private|credential|auth|cookie|session|dsn|(^|[-_])key$/i;

export function isSecretName(name: string): boolean {
  return SECRET_NAME_RE.test(name);
}

/** Shipshape's own variables that are not secrets. */
const PLAIN_SHIPSHAPE = new Set(['SHIPSHAPE_CONFIG', 'SHIPSHAPE_HOST', 'SHIPSHAPE_PORT', 'SHIPSHAPE_DATA_DIR', 'SHIPSHAPE_LOG_LEVEL', 'SHIPSHAPE_LOG_FORMAT', 'SHIPSHAPE_URL']);

/**
 * The values of secret environment variables (`*_TOKEN`, `*_PASSWORD`, `SHIPSHAPE_*`…) and the
 * passwords of URLs in the environment, for `scrub`. Values shorter than 6 characters are left
 * out: they would turn ordinary words into `***`.
 */
export function secretEnvValues(env: NodeJS.ProcessEnv = process.env): string[] {
  const out = new Set<string>();
  for (const [k, v] of Object.entries(env)) {
    if (!v) continue;
    if (isSecretName(k) || (k.startsWith('SHIPSHAPE_') && !PLAIN_SHIPSHAPE.has(k))) {
      if (v.length >= 6) out.add(v);
    }
    const pw = /^[a-z][a-z0-9+.-]*:\/\//i.test(v) ? urlPassword(v) : undefined;
    if (pw && pw.length >= 4) out.add(pw);
  }
  return [...out];
}

/**
 * Mask the values of `NAME=value` assignments and `--secret-option=value` in a command line:
 * `PGPASSWORD=x pg_isready` -> `PGPASSWORD=*** pg_isready`.
 */
export function maskAssignments(text: string): string {
  return redactUrlCredentials(text)
    .replace(/(^|[\s;&|(])([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|'[^']*'|\S*)/g, (_m, pre: string, name: string) => `${pre}${name}=***`)
    .replace(/(^|\s)(--?[A-Za-z][\w-]*)=("[^"]*"|'[^']*'|\S*)/g, (m, pre: string, opt: string) => (isSecretName(opt) ? `${pre}${opt}=***` : m));
}
