/** Formatting for people: percentages, durations, relative times, rates, in the viewer's locale. */

/** Uptime fraction as a percentage, truncated (never rounds 99.996% up to 100%). */
export function pct(v: number | null | undefined, digits = 2): string {
  if (v === null || v === undefined || Number.isNaN(v)) return '—';
  if (v >= 1) return '100%';
  if (v <= 0) return '0%';
  const f = 10 ** digits;
  return `${(Math.floor(v * 100 * f) / f).toFixed(digits)}%`;
}

export function ms(v: number | null | undefined): string {
  if (v === null || v === undefined || Number.isNaN(v)) return '—';
  if (v === 0) return '0 ms';
  if (v < 1) return `${v.toFixed(2)} ms`;
  if (v < 1000) return `${Math.round(v)} ms`;
  if (v < 60_000) return `${(v / 1000).toFixed(v < 10_000 ? 2 : 1)} s`;
  return duration(v);
}

/** 3d 4h · 2h 14m · 5m 10s · 42s */
export function duration(msv: number): string {
  const s = Math.max(0, Math.floor(msv / 1000));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (d > 0) return h ? `${d}d ${h}h` : `${d}d`;
  if (h > 0) return m ? `${h}h ${m}m` : `${h}h`;
  if (m > 0) return sec && m < 10 ? `${m}m ${sec}s` : `${m}m`;
  return `${sec}s`;
}

/** An interval like `every: 30s` back in words. */
export function every(msv: number): string {
  return duration(msv);
}

const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto', style: 'short' });

/** "12 sec. ago", "3 hr. ago", "yesterday" in the viewer's locale. */
export function ago(iso: string | null | undefined, now: number): string {
  if (!iso) return '—';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '—';
  const diff = (t - now) / 1000;
  const abs = Math.abs(diff);
  if (abs < 5) return 'just now';
  if (abs < 60) return rtf.format(Math.round(diff), 'second');
  if (abs < 3600) return rtf.format(Math.round(diff / 60), 'minute');
  if (abs < 86400) return rtf.format(Math.round(diff / 3600), 'hour');
  if (abs < 86400 * 30) return rtf.format(Math.round(diff / 86400), 'day');
  return dateTime(iso);
}

/** Time since an instant, as a duration: "2h 14m". */
export function since(iso: string | null | undefined, now: number): string {
  if (!iso) return '';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '';
  return duration(now - t);
}

const dtf = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const tf = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const dayf = new Intl.DateTimeFormat(undefined, { weekday: 'short', day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' });

/** Full local date and time, for titles and tables. */
export function dateTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '—' : dtf.format(d);
}

export function time(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '—' : tf.format(d);
}

/** A UTC calendar day (YYYY-MM-DD) as a readable date. */
export function day(ymd: string): string {
  const d = new Date(`${ymd}T00:00:00Z`);
  return Number.isNaN(d.getTime()) ? ymd : dayf.format(d);
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** A fraction as a percentage with sensible precision: 0.5 → 50%, 0.0123 → 1.23%, 0.00004 → 0.004%. */
export function ratio(v: number | null | undefined): string {
  if (v === null || v === undefined || Number.isNaN(v)) return '—';
  const p = v * 100;
  if (p === 0) return '0%';
  if (p >= 10) return `${p.toFixed(p >= 99.95 && p < 100 ? 2 : 1).replace(/\.0$/, '')}%`;
  if (p >= 1) return `${p.toFixed(2).replace(/\.?0+$/, '')}%`;
  if (p >= 0.01) return `${p.toFixed(2).replace(/\.?0+$/, '')}%`;
  return `${p.toPrecision(1)}%`;
}

/** Requests (or events) per second: 1.2k/s, 14/s, 0.35/s, 2/min for slow trickles. */
export function perSecond(v: number | null | undefined): string {
  if (v === null || v === undefined || Number.isNaN(v)) return '—';
  if (v === 0) return '0/s';
  if (v >= 1000) return `${compact(v)}/s`;
  if (v >= 10) return `${Math.round(v)}/s`;
  if (v >= 0.1) return `${v.toFixed(2).replace(/\.?0+$/, '')}/s`;
  const perMin = v * 60;
  return `${perMin >= 1 ? perMin.toFixed(1).replace(/\.0$/, '') : perMin.toPrecision(1)}/min`;
}

const compactFmt = new Intl.NumberFormat(undefined, { notation: 'compact', maximumFractionDigits: 1 });

/** 950 · 1.2K · 3.4M */
export function compact(n: number | null | undefined): string {
  if (n === null || n === undefined || Number.isNaN(n)) return '—';
  return n < 1000 ? String(Math.round(n)) : compactFmt.format(n);
}

/** A time value (ms) or, for CLS, the unitless score. */
export function vitalValue(name: string, v: number | null | undefined): string {
  if (v === null || v === undefined || Number.isNaN(v)) return '—';
  if (name === 'CLS') return v < 0.01 && v > 0 ? v.toFixed(3) : v.toFixed(2);
  return ms(v);
}

/** An API time (epoch ms or ISO) as epoch ms; NaN when unreadable. */
export function epoch(t: number | string): number {
  return typeof t === 'number' ? t : Date.parse(t);
}

/** 4h 12m from two ISO instants (the second defaulting to now). */
export function between(fromIso: string | null | undefined, toIso: string | null | undefined, now: number): string {
  if (!fromIso) return '—';
  const a = Date.parse(fromIso);
  const b = toIso ? Date.parse(toIso) : now;
  if (Number.isNaN(a) || Number.isNaN(b)) return '—';
  return duration(b - a);
}

/** Bytes in words, powers of 1024: 512 B · 12.3 KB · 4.56 MB · 1.2 GB. */
export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1).replace(/\.0$/, '')} KB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(2).replace(/\.?0+$/, '')} MB`;
  if (n < 1024 ** 4) return `${(n / 1024 ** 3).toFixed(2).replace(/\.?0+$/, '')} GB`;
  return `${(n / 1024 ** 4).toFixed(2).replace(/\.?0+$/, '')} TB`;
}

