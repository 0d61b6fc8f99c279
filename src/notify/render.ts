/**
 * Texts for notifications: the view templates see, the default title and body, and the helpers
 * channels share (escaping, severity, truncation).
 */
import { LEVEL_LABEL, levelOf } from '../alerts/index.js';
import { renderTemplate } from '../core/config/template.js';
import type { ChannelTarget, NotifiedAlert, Notification } from './types.js';

export interface View {
  status: 'firing' | 'resolved';
  receiver: string;
  /** the default title, e.g. `[FIRING:2] high-error-rate web` */
  title: string;
  /** summaries, joined: `web error rate is 3.2%` */
  summary: string;
  alerts: (NotifiedAlert & { severity: string; summary: string; description: string })[];
  firing: View['alerts'];
  resolved: View['alerts'];
  commonLabels: Record<string, string>;
  commonAnnotations: Record<string, string>;
  groupLabels: Record<string, string>;
  externalURL: string;
  test: boolean;
}

export function viewOf(n: Notification): View {
  const alerts = n.alerts.map((a) => ({ ...a, severity: a.labels.severity ?? '', summary: a.annotations.summary ?? '', description: a.annotations.description ?? '' }));
  const firing = alerts.filter((a) => a.status === 'firing');
  const resolved = alerts.filter((a) => a.status === 'resolved');
  const count = n.status === 'firing' ? firing.length : resolved.length;
  const groupValues = Object.values(n.groupLabels).filter(Boolean);
  const name = groupValues.length ? groupValues.join(' ') : (n.commonLabels.alertname ?? 'alerts');
  const title = n.test ? `[TEST] Shipshape test message to ${n.receiver}` : `[${n.status.toUpperCase()}:${count}] ${name}`;
  const summaries = [...new Set((n.status === 'firing' ? firing : alerts).map((a) => a.summary).filter(Boolean))];
  const summary = n.commonAnnotations.summary ?? (summaries.length <= 3 ? summaries.join('; ') : `${summaries.slice(0, 3).join('; ')} and ${summaries.length - 3} more`);
  return { status: n.status, receiver: n.receiver, title, summary, alerts, firing, resolved, commonLabels: n.commonLabels, commonAnnotations: n.commonAnnotations, groupLabels: n.groupLabels, externalURL: n.externalURL, test: n.test === true };
}

function when(iso: string): string {
  const t = Date.parse(iso);
  if (!Number.isFinite(t) || t <= 0) return '';
  return new Date(t).toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
}

/** One line per alert: `● FIRING [P1] web error rate is 3.2% (since 2024-01-01 12:00 UTC)`. */
export function alertLine(a: View['alerts'][number]): string {
  const what = a.summary || a.labels.alertname || a.fingerprint;
  const labels = Object.entries(a.labels)
    .filter(([k]) => !['alertname', 'severity'].includes(k))
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  const since = a.status === 'firing' ? `since ${when(a.startsAt)}` : `resolved ${when(a.endsAt)}`;
  const value = a.valueText && !what.includes(a.valueText) ? ` — value ${a.valueText}` : '';
  return `${a.status === 'firing' ? '🔥' : '✅'} ${a.severity ? `[${a.severity}] ` : ''}${what}${value} (${[labels, since].filter(Boolean).join('; ')})`;
}

export function defaultText(v: View): string {
  if (v.test) return `This is a test message from Shipshape to the channel "${v.receiver}". If you can read it, the channel works.`;
  const lines: string[] = [];
  for (const a of [...v.firing, ...v.resolved]) {
    lines.push(alertLine(a));
    if (a.description) lines.push(`    ${a.description}`);
    if (a.annotations.runbook_url) lines.push(`    runbook: ${a.annotations.runbook_url}`);
  }
  if (v.externalURL) lines.push('', `${v.externalURL.replace(/\/$/, '')}/alerts`);
  return lines.join('\n');
}

/** The title and text of a notification for a channel: its templates, else the defaults. */
export function render(n: Notification, ch: Pick<ChannelTarget, 'template'>): { title: string; text: string; view: View } {
  const view = viewOf(n);
  const defaultTitle = view.summary && !view.test ? `${view.title} — ${view.summary}` : view.title;
  const title = ch.template?.title ? renderTemplate(ch.template.title, view as unknown as Record<string, unknown>) : defaultTitle;
  const text = ch.template?.text ? renderTemplate(ch.template.text, view as unknown as Record<string, unknown>) : defaultText(view);
  return { title, text, view };
}

export const SEVERITY_RANK: Record<string, number> = { P0: 0, P1: 1, P2: 2, P3: 3 };

/** The most severe level (P0 first) among the alerts: `severity`, or the level Shipshape added to a pushed alert's; undefined when none has either. */
export function topSeverity(n: Notification): string | undefined {
  let best: string | undefined;
  for (const a of n.alerts) {
    if (a.labels.severity === undefined && a.labels[LEVEL_LABEL] === undefined) continue;
    const s = levelOf(a.labels);
    if (best === undefined || (SEVERITY_RANK[s] ?? 9) < (SEVERITY_RANK[best] ?? 9)) best = s;
  }
  return best;
}

export function truncate(s: string, max: number): string {
  if (s.length <= max) return s;
  return `${s.slice(0, Math.max(0, max - 1))}…`;
}

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
