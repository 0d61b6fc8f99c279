/**
 * Microsoft Teams: an Adaptive Card in a `message` envelope, the shape both the old incoming
 * webhooks and the Workflows ("Post to a channel when a webhook request is received") accept.
 */
import { z } from 'zod';
import { render, truncate } from '../render.js';
import type { ChannelKind } from '../types.js';
import { postJson, safeUrl, urlSecrets } from './_http.js';

const spec = z.object({ url: z.string().url().meta({ description: 'Microsoft Teams incoming webhook / Workflows URL (a secret)' }) }).strict();

type Spec = z.output<typeof spec>;

export const teams: ChannelKind<Spec> = {
  kind: 'teams',
  spec,
  async send(n, ch, signal) {
    const { title, text } = render(n, ch);
    const body: unknown[] = [
      { type: 'TextBlock', text: truncate(title, 500), weight: 'Bolder', size: 'Medium', wrap: true, color: n.status === 'resolved' ? 'Good' : 'Attention' },
      ...text
        .split('\n')
        .filter((l) => l.trim())
        .slice(0, 50)
        .map((l) => ({ type: 'TextBlock', text: truncate(l, 2000), wrap: true, spacing: 'Small' })),
    ];
    const content: Record<string, unknown> = { $schema: 'http://adaptivecards.io/schemas/adaptive-card.json', type: 'AdaptiveCard', version: '1.4', body, msteams: { width: 'Full' } };
    if (n.externalURL) content.actions = [{ type: 'Action.OpenUrl', title: 'Open Shipshape', url: n.externalURL }];
    const card = { type: 'message', summary: truncate(title, 200), attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', contentUrl: null, content }] };
    await postJson(ch.spec.url, card, { signal, secrets: this.secrets(ch.spec), label: `teams ${safeUrl(ch.spec.url)}` });
  },
  secrets: (s) => urlSecrets(s.url),
  describe: (s) => `teams ${safeUrl(s.url)}`,
};
