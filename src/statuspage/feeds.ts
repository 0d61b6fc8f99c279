/** The incident history as RSS 2.0 and Atom 1.0 (the `feed` package writes and escapes the XML). */
import { Feed } from 'feed';
import type { ResolvedPage } from './config.js';
import type { PublicIncident } from './source.js';

export function buildFeed(page: ResolvedPage, origin: string, base: string, incidents: PublicIncident[], at: number): Feed {
  const site = `${origin}${base || '/'}`;
  const updated = incidents.reduce((m, i) => Math.max(m, Date.parse(i.updated_at)), 0) || at;
  const feed = new Feed({
    id: site,
    title: xml(`${page.title} - incident history`),
    description: xml(page.description ?? `Incidents and status updates of ${page.title}`),
    link: site,
    updated: new Date(updated),
    generator: 'Shipshape',
    copyright: '',
    feedLinks: { rss: `${origin}${base}/history.rss`, atom: `${origin}${base}/history.atom` },
    ...(page.logo ? { image: page.logo.startsWith('/') ? `${origin}${page.logo}` : page.logo } : {}),
  });
  for (const i of incidents) {
    const link = `${origin}${base}/incidents/${i.id}`;
    const text = i.updates.length
      ? i.updates.map((u) => `${u.status[0]?.toUpperCase()}${u.status.slice(1)} (${u.at}): ${u.body}`).join('\n')
      : `Investigating (${i.created_at})`;
    // readers show titles and descriptions as HTML (Atom says type="html"): escape them as HTML text
    feed.addItem({
      title: xml(i.name),
      id: link,
      guid: link,
      link,
      date: new Date(i.updated_at),
      published: new Date(i.created_at),
      description: xml(text),
      // plain text in, escaped by feed; paragraphs for readers that show HTML
      content: i.updates.map((u) => `<p><strong>${xml(u.status)}</strong> - ${xml(u.body)}</p>`).join(''),
      category: [{ name: i.status }, { name: i.impact }],
    });
  }
  return feed;
}

function xml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}
