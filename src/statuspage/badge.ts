/** SVG badges (shields.io style) for a component: its status, or its 90-day uptime. */
import { esc } from './escape.js';

const COLORS: Record<string, string> = { operational: '#1f9d55', degraded_performance: '#d29d0c', partial_outage: '#e36209', major_outage: '#d1453b', under_maintenance: '#3b82f6', unknown: '#8a939e' };

/** rough width of text in Verdana 11px (badges are sized without a font at hand) */
function width(s: string): number {
  let w = 0;
  for (const ch of s) w += /[il.,:;|!']/.test(ch) ? 3.5 : /[mwMW%@]/.test(ch) ? 9.5 : /[A-Z0-9]/.test(ch) ? 7.5 : 6.5;
  return Math.ceil(w + 10);
}

export function badge(label: string, value: string, color: string): string {
  const lw = width(label);
  const vw = width(value);
  const w = lw + vw;
  const l = esc(label);
  const v = esc(value);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="20" role="img" aria-label="${l}: ${v}"><title>${l}: ${v}</title><linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient><clipPath id="r"><rect width="${w}" height="20" rx="3" fill="#fff"/></clipPath><g clip-path="url(#r)"><rect width="${lw}" height="20" fill="#555"/><rect x="${lw}" width="${vw}" height="20" fill="${esc(color)}"/><rect width="${w}" height="20" fill="url(#s)"/></g><g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11"><text x="${lw / 2}" y="14">${l}</text><text x="${lw + vw / 2}" y="14">${v}</text></g></svg>`;
}

export function statusBadge(name: string, status: string, text: string): string {
  return badge(name, text.toLowerCase(), COLORS[status] ?? (COLORS.unknown as string));
}

export function uptimeBadge(name: string, ratio: number | null): string {
  if (ratio === null) return badge(name, 'no data', COLORS.unknown as string);
  const p = Math.floor(ratio * 10000) / 100;
  const color = p >= 99.9 ? '#1f9d55' : p >= 99 ? '#7aa116' : p >= 95 ? '#d29d0c' : '#d1453b';
  return badge(name, `${p.toFixed(2)}%`, color);
}
