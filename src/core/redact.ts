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
