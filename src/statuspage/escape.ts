/** Strict escaping for everything user-provided that goes into HTML, SVG or XML text and attributes. */
const MAP: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

// eslint-disable-next-line no-control-regex
const SPECIAL = /[&<>"'`\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

export function esc(v: unknown): string {
  if (typeof v === 'number') return String(v);
  const s = String(v ?? '');
  // most values (numbers, dates, ids, class names) need nothing: skip the two replaces
  if (!SPECIAL.test(s)) return s;
  // eslint-disable-next-line no-control-regex
  return s.replace(/[&<>"'`]/g, (c) => MAP[c] as string).replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g, '');
}

/** A tagged template that escapes every interpolated value unless it is `raw(...)` markup built here. */
export class Raw {
  constructor(readonly html: string) {}
  toString(): string {
    return this.html;
  }
}
export const raw = (s: string): Raw => new Raw(s);

export function html(strings: TemplateStringsArray, ...values: unknown[]): Raw {
  let out = strings[0] ?? '';
  values.forEach((v, i) => {
    out += part(v) + (strings[i + 1] ?? '');
  });
  return new Raw(out);
}

function part(v: unknown): string {
  if (v instanceof Raw) return v.html;
  if (Array.isArray(v)) return v.map(part).join('');
  if (v === null || v === undefined || v === false) return '';
  return esc(v);
}
