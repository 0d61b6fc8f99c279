/** Slack incoming webhook: `text` (the notification fallback) and Block Kit `blocks`. */
import { z } from 'zod';
import { render, truncate } from '../render.js';
import type { ChannelKind } from '../types.js';
import { postJson, safeUrl, urlSecrets } from './_http.js';

const spec = z.object({ url: z.string().url().meta({ description: 'Slack incoming webhook URL (a secret)' }) }).strict();

type Spec = z.output<typeof spec>;

/** Slack's mrkdwn needs &, < and > escaped. */
export const slackEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export const slack: ChannelKind<Spec> = {
  kind: 'slack',
  spec,
  async send(n, ch, signal) {
    const { title, text, view } = render(n, ch);
    const blocks: unknown[] = [
      { type: 'header', text: { type: 'plain_text', text: truncate(view.title, 150), emoji: true } },
      { type: 'section', text: { type: 'mrkdwn', text: truncate(slackEscape(text || title), 3000) } },
    ];
    if (n.externalURL) blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `<${n.externalURL}|Open Shipshape>` }] });
    await postJson(ch.spec.url, { text: truncate(slackEscape(title), 3000), blocks }, { signal, secrets: this.secrets(ch.spec), label: `slack ${safeUrl(ch.spec.url)}` });
  },
  secrets: (s) => urlSecrets(s.url),
  describe: (s) => `slack ${safeUrl(s.url)}`,
};
