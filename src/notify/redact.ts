/** Keep secrets out of events, logs and API responses. */
import { scrub } from '../core/redact.js';

/** Replace every secret (longest first, raw and URL-encoded) with `***`, and any credentials in URLs and Telegram bot paths. */
export function redact(text: string, secrets: readonly string[]): string {
  const longestFirst = [...new Set(secrets)].filter((x) => x && x.length >= 4).sort((a, b) => b.length - a.length);
  return scrub(text, longestFirst).replace(/\/bot\d+:[A-Za-z0-9_-]+/g, '/bot***');
}
