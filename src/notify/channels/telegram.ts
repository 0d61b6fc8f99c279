/** Telegram Bot API: sendMessage with HTML parse mode (escaped), at most 4096 characters. */
import { z } from 'zod';
import { escapeHtml, render, truncate } from '../render.js';
import { SendError, type ChannelKind } from '../types.js';
import { postJson, safeUrl } from './_http.js';

const spec = z.object({ bot_token: z.string().min(1), chat_id: z.union([z.string(), z.number()]), api_url: z.string().url().default('https://api.telegram.org') }).strict();

type Spec = z.output<typeof spec>;

export const telegram: ChannelKind<Spec> = {
  kind: 'telegram',
  spec,
  async send(n, ch, signal) {
    const { title, text } = render(n, ch);
    const html = `<b>${escapeHtml(truncate(title, 500))}</b>\n${escapeHtml(truncate(text, 3400))}`;
    const url = `${ch.spec.api_url.replace(/\/$/, '')}/bot${ch.spec.bot_token}/sendMessage`;
    const res = await postJson(url, { chat_id: ch.spec.chat_id, text: html, parse_mode: 'HTML', disable_web_page_preview: true }, { signal, secrets: this.secrets(ch.spec), label: `telegram ${safeUrl(ch.spec.api_url)}` });
    let body: { ok?: boolean; description?: string } = {};
    try {
      body = JSON.parse(res) as typeof body;
    } catch {
      /* checked below */
    }
    if (body.ok !== true) throw new SendError(`telegram: the Bot API did not accept the message${body.description ? `: ${body.description}` : ''}`);
  },
  secrets: (s) => [s.bot_token, `bot${s.bot_token}`],
  describe: (s) => `telegram ${safeUrl(s.api_url)} chat ${s.chat_id}`,
};
