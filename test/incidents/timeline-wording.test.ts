/** Every event type a timeline can hold reads as a sentence in the post-mortem, with a readable fallback for types nobody described. */
import { describe, expect, it } from 'vitest';
import type { EventRecord } from '../../src/core/api-types.js';
import { renderPostmortem } from '../../src/incidents/postmortem.js';
import { describeEvent } from '../../src/incidents/timeline.js';
import type { IncidentDetail } from '../../src/incidents/types.js';
import { modules } from '../../src/modules.js';

let seq = 0;
const ev = (type: string, data: Record<string, unknown>, subject = 'incident:1', actor = 'system'): EventRecord => ({ id: ++seq, type, actor, subject, data, at: '2026-03-29T00:30:00.000Z' }) as EventRecord;

describe('timeline wording', () => {
  it('gives every event type of every module a sentence that does not show the raw type name', () => {
    const types = new Set(modules.flatMap((m) => [...(m.events ?? [])]));
    // the list covers the domains named in the brief
    for (const prefix of ['oncall.', 'maintenance.', 'deploy.', 'subscription.', 'check.', 'alert.', 'issue.', 'incident.']) expect([...types].some((t) => t.startsWith(prefix)), prefix).toBe(true);
    for (const t of types) {
      const text = describeEvent(ev(t, { ref: 'INC-1', title: 'x', service: 'web' }));
      expect(text, t).not.toContain(t);
      expect(text, t).not.toMatch(/\{|\}|undefined|null|NaN|\[object/);
      expect(text.length, t).toBeGreaterThan(5);
    }
  });

  it('reads on-call, maintenance, deploy, subscription and alert events in plain words', () => {
    const cases: [EventRecord, string][] = [
      [ev('oncall.escalation_started', { escalation: 1, incident: 1, policy: 'default', steps: 3, repeat: 2 }), 'escalation started: policy default, 3 steps, repeated 2 times'],
      [ev('oncall.step', { incident: 1, ref: 'INC-1', policy: 'default', step: 2, round: 2, notify: ['schedule:primary'], people: ['alice', 'bob'], nobody_on_call: ['schedule:db'], last: true }), 'escalation step 2 (round 2): paging alice, bob; nobody on call in db — last step'],
      [ev('oncall.paged', { person: 'alice', via: 'schedule:primary', channels: ['slack'], email: 'a@example.com', queued: 2 }), 'paged alice (on call in primary) by slack and email'],
      [ev('oncall.paged', { person: 'bob', via: 'person:bob', channels: [], queued: 0 }), 'paged bob (named in the policy) — no channel or email reached them'],
      [ev('oncall.escalation_stopped', { reason: 'acknowledged by token:admin' }), 'escalation stopped: acknowledged by token:admin'],
      [ev('oncall.link_used', { ref: 'INC-1', person: 'alice', action: 'ack' }), 'alice acknowledged INC-1 from the link in the page'],
      [ev('maintenance.started', { id: 4, title: 'DB upgrade', services: ['db', 'api'], starts_at: '2026-03-29T00:00:00.000Z', ends_at: '2026-03-29T02:00:00.000Z', status: 'in_progress' }, 'maintenance:4'), 'maintenance "DB upgrade" started on db, api (planned end 2026-03-29T02:00:00.000Z); their alerts are held back'],
      [ev('maintenance.overrun', { id: 4, title: 'DB upgrade', services: ['db'], ends_at: '2026-03-29T02:00:00.000Z' }, 'maintenance:4'), 'maintenance "DB upgrade" ran past its planned end (2026-03-29T02:00:00.000Z)'],
      [ev('maintenance.ended', { id: 4, title: 'DB upgrade', services: ['db'], missed: true }, 'maintenance:4'), 'maintenance "DB upgrade" ended (Shipshape was not running during it)'],
      [ev('deploy.rolled_back', { service: 'web', env: 'production', message: 'web/production rolled back to release 7 (1.4.1) from release 8, warm: instant' }, 'release:7'), 'rolled back: web/production rolled back to release 7 (1.4.1) from release 8, warm: instant'],
      [ev('deploy.started', { service: 'web', env: 'production', version: '1.5.0' }, 'release:8'), 'deploy started: web on production 1.5.0'],
      [ev('alert.suppressed', { alertname: 'HighErrorRate', service: 'web', reason: 'maintenance "DB upgrade" until 02:00' }, 'alert:HighErrorRate', 'maintenance:4'), 'alert HighErrorRate held back, not sent (maintenance "DB upgrade" until 02:00)'],
      [ev('subscription.notified', { page: 'public', event_type: 'incident.update', emails: 12, webhooks: 1 }, 'status_page:public'), 'subscribers told about incident update: 12 emails, 1 webhook'],
      [ev('incident.action_item_overdue', { ref: 'INC-1', item: { index: 1, title: 'Add a timeout', owner: 'ada', due: '2026-03-20' } }), 'action item overdue: "Add a timeout" (owner ada, was due 2026-03-20)'],
      [ev('incident.postmortem_updated', { ref: 'INC-1', fields: ['root_cause', 'went_well'] }), 'post-mortem edited (root cause, went well)'],
      // nobody described this type: the fallback still reads
      [ev('backup.finished', { message: 'nightly dump, 3.2 GB' }, 'service:db'), 'backup: finished (service db): nightly dump, 3.2 GB'],
      [ev('flag.flipped', {}, 'flag:new-checkout'), 'flag: flipped (flag new-checkout)'],
    ];
    for (const [e, want] of cases) expect(describeEvent(e)).toBe(want);
  });

  it('shows times inside sentences in the post-mortem time zone', () => {
    const inc = {
      id: 1, ref: 'INC-1', title: 'DB slow', severity: 'P1', state: 'resolved', status: 'resolved', services: ['db'], roles: { commander: null, communications: null, scribe: null }, source: 'manual', alerts: [],
      opened_by: 'token:admin', opened_at: '2026-03-29T00:10:00.000Z', acknowledged_at: null, acknowledged_by: null, mitigated_at: null, resolved_at: '2026-03-29T03:00:00.000Z', closed_at: null, declined_at: null,
      merged_into: null, merged: [], reopened: 0, duration_ms: 0, targets: [], breaches: [], postmortem: null, action_items_open: 0, action_items_overdue: 0, updated_at: '2026-03-29T03:00:00.000Z', updates: [],
    } as unknown as IncidentDetail;
    const items = [ev('maintenance.extended', { id: 4, title: 'DB upgrade', services: ['db'], ends_at: '2026-03-29T02:30:00.000Z' }, 'maintenance:4'), ev('oncall.escalation_started', { policy: 'default', steps: 1, repeat: 0 })];
    const md = renderPostmortem(inc, { incident: 1, from: inc.opened_at, to: inc.resolved_at!, items, truncated: false }, { now: Date.parse(inc.resolved_at!), timeZone: 'Europe/Berlin' });
    // 02:30Z on the night Berlin moves to summer time is 04:30 CEST
    expect(md).toContain('| maintenance "DB upgrade" extended until 2026-03-29 04:30:00 GMT+2 |');
    expect(md).toContain('| escalation started: policy default, 1 step |');
  });
});
