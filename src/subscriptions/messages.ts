/**
 * What subscribers receive: a notice (one incident update or maintenance change, as one status
 * page shows it) rendered as an email (plain text and HTML, every value escaped) or as a webhook
 * body in Atlassian Statuspage's shape (`{ meta, page, incident }`).
 */
import type { MailMessage } from '../notify/index.js';
import type { SpIncident } from '../statuspage/index.js';

/** One change subscribers of a page hear about; stored with each delivery (holds no secrets). */
export interface Notice {
  /** component: a component's status changed (webhook subscribers only, like Statuspage's component_update) */
  kind: 'incident' | 'maintenance' | 'component';
  /** the event it comes from */
  event: { id: number; type: string; at: string };
  page: string;
  page_title: string;
  /** the page's absolute URL */
  page_url: string;
  id: string;
  name: string;
  /** investigating | identified | monitoring | resolved (incidents); scheduled | in_progress | completed | cancelled (maintenance) */
  status: string;
  /** the public text of this update (null: none written) */
  message: string | null;
  services: string[];
  /** the page's names of the affected services */
  components: string[];
  /** where to read more */
  link: string;
  starts_at?: string;
  ends_at?: string;
  /** the Statuspage-shaped body, less `meta` (added per subscriber) */
  webhook: { page: { id: string; status_indicator: string; status_description: string } } & ({ incident: SpIncident | Record<string, unknown> } | { component_update: Record<string, unknown>; component: Record<string, unknown> });
}

const STATUS_TEXT: Record<string, string> = {
  investigating: 'Investigating',
  identified: 'Identified',
  monitoring: 'Monitoring',
  resolved: 'Resolved',
  postmortem: 'Post-mortem',
  scheduled: 'Scheduled maintenance',
  in_progress: 'Maintenance in progress',
  completed: 'Maintenance completed',
  cancelled: 'Maintenance cancelled',
};

export const statusText = (s: string) => STATUS_TEXT[s] ?? s;

export function escapeHtml(v: unknown): string {
  return String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

/** One line (headers, subjects): no CR / LF / other control characters. */
// eslint-disable-next-line no-control-regex
const oneLine = (s: string) => s.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();

function when(iso: string | undefined): string {
  if (!iso) return '';
  const t = Date.parse(iso);
  return Number.isFinite(t) ? new Date(t).toISOString().replace('T', ' ').slice(0, 16) + ' UTC' : '';
}

function defaultMessage(n: Notice): string {
  if (n.kind === 'incident') return n.status === 'resolved' ? 'This incident has been resolved.' : 'We are looking into it.';
  if (n.status === 'scheduled') return `Maintenance is planned from ${when(n.starts_at)} to ${when(n.ends_at)}.`;
  if (n.status === 'in_progress') return `Maintenance has started; it is planned to end ${when(n.ends_at)}.`;
  if (n.status === 'completed') return 'The maintenance is over.';
  return 'This maintenance will not take place.';
}

/** The common footer: why this mail came, and how to stop it. */
function footer(pageTitle: string, scope: string[], unsubscribe: string): { text: string; html: string } {
  const what = scope.length ? `components: ${scope.join(', ')}` : 'all components';
  return {
    text: `You get this because you subscribed to updates of ${pageTitle} (${what}).\nUnsubscribe: ${unsubscribe}`,
    html: `<hr style="border:0;border-top:1px solid #e3e6ea;margin:24px 0 12px"><p style="font-size:12px;color:#5b6470">You get this because you subscribed to updates of ${escapeHtml(pageTitle)} (${escapeHtml(what)}). <a href="${escapeHtml(unsubscribe)}">Unsubscribe</a></p>`,
  };
}

/** RFC 2369 / RFC 8058: one-click unsubscribe by a POST to the same link. */
const unsubscribeHeaders = (unsubscribe: string) => ({ 'List-Unsubscribe': `<${oneLine(unsubscribe)}>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' });

function page(title: string, inner: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head><body style="font-family:system-ui,-apple-system,'Segoe UI',sans-serif;color:#1b1f24;max-width:40rem;margin:0 auto;padding:16px">${inner}</body></html>`;
}

/** The mail for one notice to one subscriber. */
export function noticeMail(n: Notice, to: string, scope: string[], unsubscribe: string): MailMessage {
  const status = statusText(n.status);
  const subject = oneLine(`[${n.page_title}] ${n.kind === 'maintenance' ? 'Maintenance: ' : ''}${n.name} — ${status}`);
  const message = n.message ?? defaultMessage(n);
  const f = footer(n.page_title, scope, unsubscribe);
  const times = n.kind === 'maintenance' && n.starts_at ? `Window: ${when(n.starts_at)} – ${when(n.ends_at)}` : '';
  const text = [
    `${n.name}`,
    '',
    `${status} — ${message}`,
    ...(times ? ['', times] : []),
    ...(n.components.length ? ['', `Affected: ${n.components.join(', ')}`] : []),
    '',
    `More: ${n.link}`,
    '',
    '--',
    f.text,
  ].join('\n');
  const html = page(
    subject,
    `<p style="color:#5b6470;margin:0 0 4px">${escapeHtml(n.page_title)}</p>
<h2 style="margin:0 0 12px">${escapeHtml(n.name)}</h2>
<p><b>${escapeHtml(status)}</b> — ${escapeHtml(message).replace(/\n/g, '<br>')}</p>
${times ? `<p>${escapeHtml(times)}</p>` : ''}
${n.components.length ? `<p style="color:#5b6470">Affected: ${escapeHtml(n.components.join(', '))}</p>` : ''}
<p><a href="${escapeHtml(n.link)}">View on the status page</a></p>${f.html}`,
  );
  return { to: [to], subject, text, html, headers: unsubscribeHeaders(unsubscribe) };
}

/** The double opt-in mail: a link that confirms (it opens a page with a button; mail scanners opening it change nothing). */
export function confirmMail(o: { to: string; pageTitle: string; pageUrl: string; scope: string[]; confirm: string; unsubscribe: string; expiresAt: number }): MailMessage {
  const what = o.scope.length ? `these components: ${o.scope.join(', ')}` : 'all components';
  const subject = oneLine(`Confirm your subscription to ${o.pageTitle}`);
  const text = [
    `Someone (hopefully you) asked to get email updates of ${o.pageTitle} (${o.pageUrl}) for ${what}.`,
    '',
    `Confirm: ${o.confirm}`,
    '',
    `The link works until ${when(new Date(o.expiresAt).toISOString())}. If you did not ask for this, ignore this mail: nothing will be sent unless you confirm.`,
  ].join('\n');
  const html = page(
    subject,
    `<h2>Confirm your subscription</h2><p>Someone (hopefully you) asked to get email updates of <a href="${escapeHtml(o.pageUrl)}">${escapeHtml(o.pageTitle)}</a> for ${escapeHtml(what)}.</p>
<p><a href="${escapeHtml(o.confirm)}" style="display:inline-block;padding:10px 18px;background:#2563eb;color:#fff;border-radius:6px;text-decoration:none">Confirm subscription</a></p>
<p style="color:#5b6470">The link works until ${escapeHtml(when(new Date(o.expiresAt).toISOString()))}. If you did not ask for this, ignore this mail: nothing will be sent unless you confirm.</p>`,
  );
  return { to: [o.to], subject, text, html, headers: unsubscribeHeaders(o.unsubscribe) };
}

/** Sent instead of a second confirmation when a subscribed address is entered again (the form answers the same either way). */
export function alreadyMail(o: { to: string; pageTitle: string; pageUrl: string; scope: string[]; unsubscribe: string }): MailMessage {
  const subject = oneLine(`You are subscribed to ${o.pageTitle}`);
  const f = footer(o.pageTitle, o.scope, o.unsubscribe);
  const text = [`This address already gets email updates of ${o.pageTitle} (${o.pageUrl}); nothing changed.`, 'To choose other components, unsubscribe and subscribe again.', '', '--', f.text].join('\n');
  const html = page(subject, `<h2>You are subscribed</h2><p>This address already gets email updates of <a href="${escapeHtml(o.pageUrl)}">${escapeHtml(o.pageTitle)}</a>; nothing changed.</p><p>To choose other components, unsubscribe and subscribe again.</p>${f.html}`);
  return { to: [o.to], subject, text, html, headers: unsubscribeHeaders(o.unsubscribe) };
}

/** The webhook body: Statuspage's `{ meta, page, incident }`. */
export function webhookBody(n: Notice, unsubscribe: string, now: number): string {
  return JSON.stringify({ meta: { unsubscribe, generated_at: new Date(now).toISOString(), event: n.event.type }, ...n.webhook });
}

/** `a***@example.com`: enough to recognise an address, not to harvest it. */
export function maskEmail(address: string): string {
  const at = address.lastIndexOf('@');
  if (at < 1) return '***';
  return `${address[0]}***${address.slice(at)}`;
}

/** A webhook URL safe to show: scheme, host and port (paths and queries often hold tokens). */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname === '/' && !u.search ? '' : '/…'}`;
  } catch {
    return '(invalid URL)';
  }
}
