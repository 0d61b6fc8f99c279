/** Discord webhook: `content` plus one embed; mentions are never parsed. */
import { z } from 'zod';
import { render, truncate } from '../render.js';
import type { ChannelKind } from '../types.js';
import { postJson, safeUrl, urlSecrets } from './_http.js';

const spec = z.object({ url: z.string().url().meta({ description: 'Discord webhook URL (a secret)' }) }).strict();

type Spec = z.output<typeof spec>;

const COLORS: Record<string, number> = { P0: 0x8b0000, P1: 0xe01e5a, P2: 0xf2a33a, P3: 0x3aa3f2 };

export const discord: ChannelKind<Spec> = {
  kind: 'discord',
  spec,
  async send(n, ch, signal) {
    const { title, text, view } = render(n, ch);
    const sev = view.alerts[0]?.severity ?? '';
    const embed: Record<string, unknown> = {
      title: truncate(view.title, 256),
      description: truncate(text || title, 4096),
      color: n.status === 'resolved' ? 0x2eb67d : (COLORS[sev] ?? 0xe01e5a),
      timestamp: new Date().toISOString(),
      footer: { text: 'Shipshape' },
    };
    if (n.externalURL) embed.url = n.externalURL;
    await postJson(ch.spec.url, { content: truncate(title, 2000), embeds: [embed], allowed_mentions: { parse: [] } }, { signal, secrets: this.secrets(ch.spec), label: `discord ${safeUrl(ch.spec.url)}` });
  },
  secrets: (s) => urlSecrets(s.url),
  describe: (s) => `discord ${safeUrl(s.url)}`,
};
