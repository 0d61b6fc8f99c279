/**
 * The status page's HTML: server-rendered, complete without JavaScript (a tiny optional script
 * only reloads it every minute while visible), one inline stylesheet with a dark scheme. Every
 * value from config, checks or incidents goes through `html` (escaped) — markup is only ever
 * written here. Characters beyond ASCII in the templates are written as `\u` escapes: a tagged
 * template keeps them as they are in the bundle, and one such character makes V8 hold the whole
 * bundle's source as two bytes a character (scripts/bundle.mjs checks).
 */
import type { ComponentStatus, ResolvedPage } from './config.js';
import { html, raw, type Raw } from './escape.js';
import { INDICATOR_TEXT, STATUS_TEXT, type ComponentView, type DayBar, type PublicIncident, type PublicMaintenance, type Snapshot } from './source.js';

const CSS = `:root{--bg:#f7f8fa;--fg:#1b1f24;--muted:#5b6470;--card:#fff;--line:#e3e6ea;--ok:#1f9d55;--warn:#d29d0c;--bad:#d1453b;--maint:#3b82f6;--none:#d5d9de;--accent:#2563eb;color-scheme:light dark}
@media (prefers-color-scheme:dark){:root{--bg:#0f1216;--fg:#e6e9ed;--muted:#9aa4b1;--card:#171b21;--line:#2a3038;--none:#333a44}}
*{box-sizing:border-box}body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
a{color:var(--accent)}main{max-width:860px;margin:0 auto;padding:24px 16px 48px}
header{display:flex;flex-wrap:wrap;align-items:center;gap:12px;justify-content:space-between;margin-bottom:20px}
header h1{font-size:1.5rem;margin:0;display:flex;align-items:center;gap:10px}header h1 a{color:inherit;text-decoration:none}
header img{max-height:36px;max-width:180px}nav a{margin-left:14px;font-size:.92rem}
.desc{color:var(--muted);margin:-8px 0 20px}
.banner{padding:16px 20px;border-radius:10px;color:#fff;font-weight:600;font-size:1.1rem;margin-bottom:24px;background:var(--ok)}
.i-minor,.i-maintenance{background:var(--warn)}.i-maintenance{background:var(--maint)}.i-major,.i-critical{background:var(--bad)}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;margin-bottom:20px}
h2{font-size:1.1rem;margin:28px 0 10px}
.inc{padding:14px 18px;border-bottom:1px solid var(--line)}.inc:last-child{border-bottom:0}
.inc h3{margin:0 0 6px;font-size:1.02rem}.inc h3 a{color:inherit}.imp-critical h3,.imp-major h3{color:var(--bad)}.imp-minor h3{color:var(--warn)}
.upd{margin:6px 0 0;padding:0;list-style:none}.upd li{margin:4px 0}.upd b{text-transform:capitalize}
time,.muted{color:var(--muted);font-size:.85rem}
.comp{padding:14px 18px;border-bottom:1px solid var(--line)}.comp:last-child{border-bottom:0}
.row{display:flex;justify-content:space-between;gap:12px;align-items:baseline}.name{font-weight:600}
.st{font-size:.9rem;font-weight:600}.s-operational{color:var(--ok)}.s-degraded_performance,.s-partial_outage{color:var(--warn)}.s-major_outage{color:var(--bad)}.s-under_maintenance{color:var(--maint)}
.bars{display:flex;gap:2px;margin:8px 0 4px;padding:0;list-style:none;height:28px}.bars li{flex:1;display:flex}
.bars a{flex:1;border-radius:2px;background:var(--none)}.bars a:hover,.bars a:focus{opacity:.7}
.b-up{background:var(--ok)!important}.b-degraded{background:var(--warn)!important}.b-down{background:var(--bad)!important}
.legend{display:flex;justify-content:space-between}
details.grp>summary{padding:14px 18px;cursor:pointer;font-weight:600;border-bottom:1px solid var(--line);list-style-position:inside}
details.grp .comp{padding-left:34px}
.pager{display:flex;justify-content:space-between;margin:16px 0}
footer{margin-top:32px;color:var(--muted);font-size:.85rem;display:flex;justify-content:space-between;flex-wrap:wrap;gap:8px}
.sub{padding:14px 18px}.sub form{display:flex;flex-wrap:wrap;gap:8px;align-items:center}.sub input[type=email]{flex:1;min-width:220px;padding:8px 10px;border:1px solid var(--line);border-radius:6px;background:var(--bg);color:var(--fg);font:inherit}
.sub button,.notice button{padding:8px 16px;border:0;border-radius:6px;background:var(--accent);color:#fff;font:inherit;cursor:pointer}.sub details{width:100%}.sub label{display:inline-flex;gap:6px;margin:4px 14px 0 0}.hp{position:absolute;left:-9999px}
.notice{padding:18px}.notice h2{margin-top:0}.notice.err h2{color:var(--bad)}
table{width:100%;border-collapse:collapse}td,th{padding:8px 18px;text-align:left;border-bottom:1px solid var(--line)}
@media (max-width:560px){.bars{height:22px}.bars li:nth-child(-n+60){display:none}nav{width:100%}nav a{margin:0 14px 0 0}}`;

// no reload while the visitor is typing an address into the subscription form
const REFRESH = `setTimeout(function f(){var e=document.querySelector('input[name=email]');document.hidden||(e&&e.value)?setTimeout(f,6e4):location.reload()},6e4)`;

function colorVars(page: ResolvedPage): string {
  const c = page.colors;
  const vars = [c.accent && `--accent:${c.accent}`, c.operational && `--ok:${c.operational}`, c.degraded && `--warn:${c.degraded}`, c.outage && `--bad:${c.outage}`, c.maintenance && `--maint:${c.maintenance}`].filter(Boolean);
  // the values are validated hex colours; escaped all the same
  return vars.length ? `:root{${vars.join(';')}}` : '';
}

export function fmtTime(iso: string, tz: string): string {
  const d = new Date(iso);
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: tz, month: 'short', day: 'numeric', year: 'numeric', hour: '2-digit', minute: '2-digit', hour12: false, timeZoneName: 'short' }).format(d);
  } catch {
    return d.toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
  }
}

const pct = (r: number | null) => (r === null ? 'no data' : `${(Math.floor(r * 10000) / 100).toFixed(2)}%`);

function layout(page: ResolvedPage, base: string, title: string, body: Raw, opts: { refresh?: boolean; at: number }): string {
  const doc = html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${title}</title>${page.description ? html`<meta name="description" content="${page.description}">` : ''}
<meta name="color-scheme" content="light dark">
<link rel="alternate" type="application/rss+xml" title="${page.title}" href="${base}/history.rss">
<link rel="alternate" type="application/atom+xml" title="${page.title}" href="${base}/history.atom">
<style>${raw(CSS)}${raw(colorVars(page))}</style></head>
<body><main>
<header><h1>${page.logo ? html`<img src="${page.logo}" alt="">` : ''}${page.url ? html`<a href="${page.url}">${page.title}</a>` : html`<a href="${base || '/'}">${page.title}</a>`}</h1>
<nav>${page.links.map((l) => html`<a href="${l.url}" rel="noopener">${l.label}</a>`)}<a href="${base}/history">History</a></nav></header>
${page.description ? html`<p class="desc">${page.description}</p>` : ''}
${body}
<footer><span>Updated <time datetime="${new Date(opts.at).toISOString()}">${fmtTime(new Date(opts.at).toISOString(), page.time_zone)}</time></span><span><a href="${base}/history.rss">RSS</a> \u00b7 <a href="${base}/history.atom">Atom</a> \u00b7 <a href="${base}/api/v2/summary.json">API</a> \u00b7 Powered by Shipshape</span></footer>
</main>${opts.refresh ? html`<script>${raw(REFRESH)}</script>` : ''}</body></html>`;
  return doc.html;
}

/** the page's component names for the incident's services (services not on the page are not named) */
function affected(page: ResolvedPage, i: PublicIncident): string[] {
  return page.components.filter((c) => i.services.includes(c.service)).map((c) => c.name);
}

function incidentBlock(page: ResolvedPage, i: PublicIncident, base: string, opts: { link?: boolean; allUpdates?: boolean } = {}): Raw {
  const tz = page.time_zone;
  const names = affected(page, i);
  const updates = opts.allUpdates ? i.updates : i.updates.slice(0, 3);
  return html`<article class="inc imp-${i.impact}" id="incident-${i.id}"><h3>${opts.link === false ? i.name : html`<a href="${base}/incidents/${i.id}">${i.name}</a>`}</h3>
${updates.length === 0 ? html`<p><b>Investigating</b> \u2014 we are looking into it. <time datetime="${i.created_at}">${fmtTime(i.created_at, tz)}</time></p>` : ''}
<ul class="upd">${updates.map((u) => html`<li><b>${u.status}</b> \u2014 ${u.body} <time datetime="${u.at}">${fmtTime(u.at, tz)}</time></li>`)}</ul>
${!opts.allUpdates && i.updates.length > 3 ? html`<p class="muted"><a href="${base}/incidents/${i.id}">${i.updates.length - 3} earlier updates</a></p>` : ''}
${names.length ? html`<p class="muted">Affected: ${names.join(', ')}</p>` : ''}</article>`;
}

const MAINT_STATUS: Record<PublicMaintenance['status'], string> = { scheduled: 'Scheduled', in_progress: 'In progress', verifying: 'Verifying', completed: 'Completed' };

/** A maintenance window: when, what, which components, its lifecycle updates. */
function maintenanceBlock(page: ResolvedPage, m: PublicMaintenance): Raw {
  const tz = page.time_zone;
  const names = page.components.filter((c) => m.services.includes(c.service)).map((c) => c.name);
  return html`<article class="inc maint" id="maintenance-${m.id}" data-status="${m.status}"><h3>${m.name} <span class="st s-under_maintenance">${MAINT_STATUS[m.status]}</span></h3>
<p class="when"><time datetime="${m.scheduled_for}">${fmtTime(m.scheduled_for, tz)}</time> \u2013 <time datetime="${m.scheduled_until}">${fmtTime(m.scheduled_until, tz)}</time></p>
${m.message ? html`<p>${m.message}</p>` : ''}
${m.status !== 'scheduled' ? html`<ul class="upd">${m.updates.filter((u) => u.status !== 'scheduled').map((u) => html`<li><b>${MAINT_STATUS[u.status as PublicMaintenance['status']] ?? u.status}</b> \u2014 ${u.body} <time datetime="${u.at}">${fmtTime(u.at, tz)}</time></li>`)}</ul>` : ''}
${names.length ? html`<p class="muted">Affected: ${names.join(', ')}</p>` : ''}</article>`;
}

function bars(c: ComponentView, base: string): Raw {
  const days: DayBar[] = c.days;
  return html`<ol class="bars" aria-label="90-day uptime of ${c.name}">${days.map((d) => {
    const cls = d.worst === 'down' ? 'b-down' : d.worst === 'degraded' ? 'b-degraded' : d.uptime === null ? '' : 'b-up';
    return html`<li><a class="${cls}" href="${base}/day/${d.day}" title="${d.day}: ${pct(d.uptime)}${d.worst === 'down' ? ' (outage)' : d.worst === 'degraded' ? ' (degraded)' : ''}"></a></li>`;
  })}</ol><div class="legend muted"><span>90 days ago</span><span>${pct(c.uptime90)} uptime</span><span>Today</span></div>`;
}

function componentRow(c: ComponentView, base: string): Raw {
  const label = c.state === 'unknown' && !c.pinned && c.status === 'operational' ? 'No data yet' : STATUS_TEXT[c.status];
  return html`<div class="comp" id="c-${c.id}" data-status="${c.status}"><div class="row"><span class="name" title="${c.description ?? ''}">${c.name}</span><span class="st s-${c.status}">${label}</span></div>
${c.description ? html`<div class="muted">${c.description}</div>` : ''}${bars(c, base)}</div>`;
}

const WORST: ComponentStatus[] = ['major_outage', 'partial_outage', 'degraded_performance', 'under_maintenance', 'operational'];

/** The email subscription form under the components (when the subscriptions module offers it on this page). */
export interface SubscribeForm {
  /** components a visitor may narrow the subscription to (none: the whole page only) */
  components: { id: string; name: string }[];
}

function subscribeBlock(f: SubscribeForm, base: string): Raw {
  return html`<h2 id="subscribe">Get updates by email</h2><section class="card sub"><form method="post" action="${base}/subscribe">
<input type="email" name="email" required maxlength="254" autocomplete="email" placeholder="you@example.com" aria-label="Email address">
<span class="hp" aria-hidden="true"><label>Leave empty <input type="text" name="website" tabindex="-1" autocomplete="off"></label></span>
<button type="submit">Subscribe</button>
${f.components.length > 1 ? html`<details><summary class="muted">Only some components</summary>${f.components.map((c) => html`<label><input type="checkbox" name="component" value="${c.id}"> ${c.name}</label>`)}</details>` : ''}
</form><p class="muted">We send a confirmation link first; every email has an unsubscribe link.</p></section>`;
}

/** A short page in the status page's look (subscription confirmations, errors): a heading, lines of text, an optional one-button form. */
export interface NoticeView {
  heading: string;
  lines: string[];
  /** a POST button (confirm, unsubscribe): GET links in mail change nothing, since mail scanners open them */
  button?: { label: string; action: string };
  error?: boolean;
}

export function renderNotice(page: ResolvedPage, base: string, n: NoticeView, at: number): string {
  const body = html`<section class="card notice${n.error ? ' err' : ''}" role="${n.error ? 'alert' : 'status'}"><h2>${n.heading}</h2>${n.lines.map((l) => html`<p>${l}</p>`)}
${n.button ? html`<form method="post" action="${n.button.action}"><button type="submit">${n.button.label}</button></form>` : ''}</section>
<p><a href="${base || '/'}">\u2190 Current status</a></p>`;
  return layout(page, base, `${n.heading} \u00b7 ${page.title}`, body, { at });
}

export function renderPage(s: Snapshot, base: string, extra: { subscribe?: SubscribeForm } = {}): string {
  const body = html`<div class="banner i-${s.indicator}" role="status">${s.active.length && s.indicator !== 'none' ? INDICATOR_TEXT[s.indicator] : INDICATOR_TEXT[s.indicator]}</div>
${s.active.length ? html`<h2>Active incidents</h2><section class="card">${s.active.map((i) => incidentBlock(s.page, i, base))}</section>` : ''}
${s.maintenance.active.length ? html`<h2>Maintenance in progress</h2><section class="card" id="maintenance-active">${s.maintenance.active.map((m) => maintenanceBlock(s.page, m))}</section>` : ''}
<h2>Components</h2><section class="card" id="components">${s.groups.map((g) => {
    if (g.name === null) return componentRow(g.components[0] as ComponentView, base);
    const worst = WORST.find((w) => g.components.some((c) => c.status === w)) ?? 'operational';
    return html`<details class="grp" open><summary><span>${g.name}</span> <span class="st s-${worst}">${STATUS_TEXT[worst]}</span></summary>${g.components.map((c) => componentRow(c, base))}</details>`;
  })}${s.components.length === 0 ? html`<p class="comp muted">No components yet.</p>` : ''}</section>
${s.maintenance.upcoming.length ? html`<h2>Scheduled maintenance</h2><section class="card" id="maintenance-upcoming">${s.maintenance.upcoming.map((m) => maintenanceBlock(s.page, m))}</section>` : ''}
<h2>Past incidents</h2><section class="card">${s.recent.length ? s.recent.map((i) => incidentBlock(s.page, i, base)) : html`<p class="inc muted">No incidents in the last ${s.page.recent_days} days.</p>`}</section>
<p><a href="${base}/history">Incident history \u2192</a></p>${extra.subscribe ? subscribeBlock(extra.subscribe, base) : ''}`;
  return layout(s.page, base, s.page.title, body, { refresh: true, at: s.at });
}

export function renderHistory(page: ResolvedPage, base: string, items: PublicIncident[], n: number, more: boolean, at: number): string {
  const body = html`<h2>Incident history${n > 1 ? html` \u2014 page ${n}` : ''}</h2>
<section class="card">${items.length ? items.map((i) => incidentBlock(page, i, base)) : html`<p class="inc muted">No incidents${n > 1 ? ' on this page' : ''}.</p>`}</section>
<div class="pager">${n > 1 ? html`<a href="${base}/history${n > 2 ? `?page=${n - 1}` : ''}" rel="prev">\u2190 Newer</a>` : html`<span></span>`}${more ? html`<a href="${base}/history?page=${n + 1}" rel="next">Older \u2192</a>` : ''}</div>`;
  return layout(page, base, `Incident history \u00b7 ${page.title}`, body, { at });
}

export function renderIncident(page: ResolvedPage, base: string, i: PublicIncident, at: number): string {
  const body = html`<p><a href="${base || '/'}">\u2190 Current status</a></p><section class="card">${incidentBlock(page, i, base, { link: false, allUpdates: true })}</section>`;
  return layout(page, base, `${i.name} \u00b7 ${page.title}`, body, { at });
}

export function renderDay(s: Snapshot, base: string, day: string, incidents: PublicIncident[]): string {
  const rows = s.components.map((c) => {
    const d = c.days.find((x) => x.day === day);
    return html`<tr><td>${c.name}</td><td>${pct(d?.uptime ?? null)}</td><td>${d?.worst ?? 'no data'}</td></tr>`;
  });
  const body = html`<p><a href="${base || '/'}">\u2190 Current status</a></p><h2>${day}</h2>
<section class="card"><table><thead><tr><th>Component</th><th>Uptime</th><th>Worst state</th></tr></thead><tbody>${rows}</tbody></table></section>
<h2>Incidents that day</h2><section class="card">${incidents.length ? incidents.map((i) => incidentBlock(s.page, i, base)) : html`<p class="inc muted">No incidents.</p>`}</section>`;
  return layout(s.page, base, `${day} \u00b7 ${s.page.title}`, body, { at: s.at });
}
