/**
 * The post-mortem as Markdown, from the incident and its timeline: summary, impact measured from
 * stored data (durations, time to acknowledge and mitigate, how long each affected service was
 * down, alerts, errors, missed targets), the timeline, and the parts people write (root cause,
 * what went well / badly, action items with owner and due date).
 */
import { DateTime } from 'luxon';
import { formatDuration } from '../core/config/units.js';
import type { EventRecord } from '../core/api-types.js';
import { describeEvent } from './timeline.js';
import type { IncidentDetail, Timeline } from './types.js';

/** Markdown table cells: no pipes or line breaks. */
const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');

/** Time each service spent down (or degraded) inside [from, to], from its `service.state` events. */
export function downtime(events: EventRecord[], services: string[], from: number, to: number): Map<string, { down: number; degraded: number }> {
  const out = new Map<string, { down: number; degraded: number }>();
  for (const svc of services) {
    const changes = events.filter((e) => e.type === 'service.state' && (e.data as { service?: string }).service === svc).sort((a, b) => a.id - b.id);
    const acc = { down: 0, degraded: 0 };
    let state: string | undefined = (changes[0]?.data as { from?: string } | undefined)?.from;
    let since = from;
    for (const c of changes) {
      const at = Math.min(Math.max(Date.parse(c.at), from), to);
      if (state === 'down') acc.down += at - since;
      if (state === 'degraded') acc.degraded += at - since;
      state = (c.data as { to?: string }).to;
      since = at;
    }
    if (state === 'down') acc.down += to - since;
    if (state === 'degraded') acc.degraded += to - since;
    out.set(svc, acc);
  }
  return out;
}

const MONTH = 30 * 24 * 3_600_000;

export function renderPostmortem(inc: IncidentDetail, tl: Timeline, opts: { now: number; timeZone?: string; traffic?: Map<string, { requests: number; failed: number }> }): string {
  const zone = opts.timeZone ?? 'UTC';
  const fmt = (t: string | null) => (t === null ? '–' : DateTime.fromISO(t, { zone }).toFormat('yyyy-LL-dd HH:mm:ss ZZZZ'));
  const opened = Date.parse(inc.opened_at);
  const since = (t: string | null) => (t === null ? '' : ` (after ${formatDuration(Date.parse(t) - opened)})`);
  const end = inc.resolved_at ? Date.parse(inc.resolved_at) : opts.now;
  const pm = inc.postmortem ?? {};
  const L: string[] = [];
  L.push(`# Post-mortem: ${inc.ref} — ${inc.title}`, '');
  L.push('| | |', '| --- | --- |');
  L.push(`| Severity | ${cell(inc.severity)} |`);
  L.push(`| State | ${inc.state}${inc.resolved_at ? '' : ' (not resolved yet: figures run until now)'} |`);
  L.push(`| Opened | ${fmt(inc.opened_at)} by ${cell(inc.opened_by)} |`);
  L.push(`| Acknowledged | ${fmt(inc.acknowledged_at)}${since(inc.acknowledged_at)}${inc.acknowledged_by ? ` by ${cell(inc.acknowledged_by)}` : ''} |`);
  L.push(`| Mitigated | ${fmt(inc.mitigated_at)}${since(inc.mitigated_at)} |`);
  L.push(`| Resolved | ${fmt(inc.resolved_at)}${since(inc.resolved_at)} |`);
  L.push(`| Duration | ${formatDuration(end - opened)} |`);
  L.push(`| Affected services | ${inc.services.length ? cell(inc.services.join(', ')) : '–'} |`);
  for (const [role, who] of Object.entries(inc.roles)) if (who) L.push(`| ${role[0]?.toUpperCase()}${role.slice(1)} | ${cell(who)} |`);
  L.push('');

  L.push('## Summary', '');
  const lastUpdate = [...inc.updates].reverse().find((u) => u.kind === 'update');
  L.push(pm.summary?.trim() ? pm.summary : (lastUpdate ? `_Last status update (${lastUpdate.status}):_ ${lastUpdate.message}` : '_To be written._'), '');

  L.push('## Impact', '');
  L.push(`- Duration: ${formatDuration(end - opened)} (opened ${fmt(inc.opened_at)}${inc.resolved_at ? `, resolved ${fmt(inc.resolved_at)}` : ', still open'})`);
  if (inc.acknowledged_at) L.push(`- Time to acknowledge: ${formatDuration(Date.parse(inc.acknowledged_at) - opened)}`);
  if (inc.mitigated_at) L.push(`- Time to mitigate: ${formatDuration(Date.parse(inc.mitigated_at) - opened)}`);
  L.push(`- Affected services: ${inc.services.length ? inc.services.join(', ') : 'none named'}`);
  const down = downtime(tl.items, inc.services, Date.parse(tl.from), Math.min(Date.parse(tl.to), end));
  for (const [svc, d] of down) {
    // uptime lost: the downtime as a share of a 30-day month, the window status pages and SLOs count in
    if (d.down > 0 || d.degraded > 0) L.push(`- ${svc}: down ${formatDuration(d.down)}${d.degraded > 0 ? `, degraded ${formatDuration(d.degraded)}` : ''} (from its check states)${d.down > 0 ? `; ${((d.down / MONTH) * 100).toFixed(3)} % of 30 days' uptime` : ''}`);
  }
  for (const [svc, t] of opts.traffic ?? []) {
    L.push(`- ${svc}: ${t.failed} of ${t.requests} requests failed (${((t.failed / t.requests) * 100).toFixed(1)} % error rate, from its telemetry, counted by the minute)`);
  }
  for (const a of inc.alerts) L.push(`- Alert ${a.alertname}: fired ${a.firings} time${a.firings === 1 ? '' : 's'}`);
  const created = tl.items.filter((e) => e.type === 'issue.created').length;
  const regressed = tl.items.filter((e) => e.type === 'issue.regressed').length;
  if (created || regressed) L.push(`- Errors: ${created} new issue${created === 1 ? '' : 's'}, ${regressed} regression${regressed === 1 ? '' : 's'}`);
  for (const b of inc.breaches) L.push(`- Response target missed: ${b.target} (due ${fmt(b.due_at)}, ${formatDuration(b.overdue_ms)} late when noticed)`);
  if (pm.impact) L.push('', pm.impact);
  L.push('');

  L.push('## Timeline', '');
  L.push(`| Time (${zone}) | Event | By |`, '| --- | --- | --- |');
  for (const e of tl.items) L.push(`| ${fmt(e.at)} | ${cell(describeEvent(e, { time: fmt }))} | ${cell(e.actor)} |`);
  if (tl.truncated) L.push('', `_The timeline was cut to ${tl.items.length} events._`);
  L.push('');

  L.push('## Root cause', '', pm.root_cause?.trim() ? pm.root_cause : '_To be written._', '');
  L.push('## What went well', '', ...(pm.went_well?.length ? pm.went_well.map((x) => `- ${x}`) : ['_To be written._']), '');
  L.push('## What went badly', '', ...(pm.went_badly?.length ? pm.went_badly.map((x) => `- ${x}`) : ['_To be written._']), '');
  L.push('## Action items', '');
  if (pm.action_items?.length) {
    L.push('| Action | Owner | Due | Done |', '| --- | --- | --- | --- |');
    for (const a of pm.action_items) L.push(`| ${cell(a.title)} | ${cell(a.owner ?? '–')} | ${a.due ?? '–'} | ${a.done ? 'yes' : 'no'} |`);
  } else L.push('_None yet._');
  L.push('');
  return L.join('\n');
}
