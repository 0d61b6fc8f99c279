/** ntfy: POST the text to <url>/<topic> with Title, Priority and Tags headers. */
import { z } from 'zod';
import { render, topSeverity, truncate } from '../render.js';
import type { ChannelKind } from '../types.js';
import { post, safeUrl } from './_http.js';

const spec = z.object({ url: z.string().url().default('https://ntfy.sh'), topic: z.string().min(1), token: z.string().optional() }).strict();

type Spec = z.output<typeof spec>;

const PRIORITY: Record<string, string> = { P0: '5', P1: '4', P2: '3', P3: '2' };

/** Header values are bytes: non-ASCII text goes as RFC 2047 encoded words (ntfy decodes them). */
export function headerText(s: string): string {
  const clean = s.replace(/[\r\n]+/g, ' ');
  return /^[\x20-\x7e]*$/.test(clean) ? clean : `=?UTF-8?B?${Buffer.from(clean, 'utf8').toString('base64')}?=`;
}

export const ntfy: ChannelKind<Spec> = {
  kind: 'ntfy',
  spec,
  async send(n, ch, signal) {
    const { title, text } = render(n, ch);
    const sev = topSeverity(n);
    const headers: Record<string, string> = {
      Title: headerText(truncate(title, 250)),
      Priority: n.status === 'resolved' ? '2' : (PRIORITY[sev ?? ''] ?? '3'),
      Tags: n.status === 'resolved' ? 'white_check_mark' : ['rotating_light', sev].filter(Boolean).join(','),
    };
    if (n.externalURL) headers.Click = n.externalURL;
    if (ch.spec.token) headers.Authorization = `Bearer ${ch.spec.token}`;
    const url = `${ch.spec.url.replace(/\/$/, '')}/${encodeURIComponent(ch.spec.topic)}`;
    await post(url, text || title, 'text/plain; charset=utf-8', { signal, headers, secrets: this.secrets(ch.spec), label: `ntfy ${safeUrl(ch.spec.url)}` });
  },
  secrets: (s) => (s.token ? [s.token] : []),
  describe: (s) => `ntfy ${safeUrl(s.url)} topic ${s.topic}`,
};
