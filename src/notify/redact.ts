/** Keep secrets out of events, logs and API responses. */

/** Replace every occurrence of each secret (longest first) with `***`. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of [...new Set(secrets)].filter((x) => x && x.length >= 4).sort((a, b) => b.length - a.length)) {
    out = out.split(s).join('***');
  }
  // credentials in any URL that slipped through
  return out.replace(/(\/\/[^:/@\s]+:)[^@\s/]*@/g, '$1***@').replace(/\/bot\d+:[A-Za-z0-9_-]+/g, '/bot***');
}
