/**
 * The registry of channel kinds: each file of this folder exports one `ChannelKind` (its config
 * key, zod spec, `send`, `secrets`, `describe`), and adding a kind is adding its file and its line
 * here. Files whose names start with `_` hold shared helpers. The list is written out, not read from
 * the folder, so that the server can be bundled (scripts/bundle.mjs); a test holds it to the folder.
 */
import type { ChannelKind } from '../types.js';
import { discord } from './discord.js';
import { email } from './email.js';
import { ntfy } from './ntfy.js';
import { pagerduty } from './pagerduty.js';
import { slack } from './slack.js';
import { teams } from './teams.js';
import { telegram } from './telegram.js';
import { webhook } from './webhook.js';

const found: ChannelKind<never>[] = [discord, email, ntfy, pagerduty, slack, teams, telegram, webhook];

export const channelKinds: readonly ChannelKind<never>[] = found;
const byName = new Map(found.map((k) => [k.kind, k]));
if (byName.size !== found.length) throw new Error(`two channel kinds share a name: ${found.map((k) => k.kind).join(', ')}`);

export const CHANNEL_KINDS: readonly string[] = found.map((k) => k.kind);

export function channelKind(kind: string): ChannelKind<unknown> {
  const k = byName.get(kind);
  if (!k) throw new Error(`unknown channel kind "${kind}"`);
  return k as unknown as ChannelKind<unknown>;
}
