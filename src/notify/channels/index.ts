/** Every channel kind, by name. Adding a kind is adding one file and one line here. */
import type { ChannelKindName } from '../config.js';
import type { ChannelKind } from '../types.js';
import { discord } from './discord.js';
import { email } from './email.js';
import { ntfy } from './ntfy.js';
import { pagerduty } from './pagerduty.js';
import { slack } from './slack.js';
import { teams } from './teams.js';
import { telegram } from './telegram.js';
import { webhook } from './webhook.js';

export const channelKindsByName: Record<ChannelKindName, ChannelKind<never>> = { slack, discord, teams, telegram, webhook, email, pagerduty, ntfy } as unknown as Record<ChannelKindName, ChannelKind<never>>;

export function channelKind(kind: ChannelKindName): ChannelKind<unknown> {
  return channelKindsByName[kind] as unknown as ChannelKind<unknown>;
}
