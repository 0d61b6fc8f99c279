/** A small reader for the Prometheus text format, enough for Shipshape's own /metrics. */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export function parseProm(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    if (m[2]) for (const l of m[2].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1] as string] = l[2] as string;
    const v = m[3] as string;
    out.push({ name: m[1] as string, labels, value: v === '+Inf' ? Infinity : v === '-Inf' ? -Infinity : Number(v) });
  }
  return out;
}

/** Samples whose name is `name` or ends with `_name` (collectDefaultMetrics may add a prefix). */
export function find(samples: Sample[], name: string, labels: Record<string, string> = {}): Sample[] {
  return samples.filter((s) => (s.name === name || s.name.endsWith(`_${name}`)) && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

export function sum(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return find(samples, name, labels).reduce((a, s) => a + s.value, 0);
}

export function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | null {
  const f = find(samples, name, labels);
  return f.length ? (f[0] as Sample).value : null;
}

/**
 * Quantile of the observations made between two scrapes of a histogram (cumulative `_bucket`
 * counters), interpolated linearly inside the bucket like Prometheus' histogram_quantile.
 */
export function histogramQuantileBetween(before: Sample[], after: Sample[], name: string, q: number): number | null {
  const read = (s: Sample[]) => {
    const m = new Map<number, number>();
    for (const b of find(s, `${name}_bucket`)) {
      const le = b.labels.le === '+Inf' ? Infinity : Number(b.labels.le);
      m.set(le, (m.get(le) ?? 0) + b.value);
    }
    return m;
  };
  const a = read(before);
  const b = read(after);
  const les = [...b.keys()].sort((x, y) => x - y);
  const counts = les.map((le) => (b.get(le) ?? 0) - (a.get(le) ?? 0));
  const total = counts[counts.length - 1] ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  for (let i = 0; i < les.length; i++) {
    if ((counts[i] as number) >= rank) {
      const hi = les[i] as number;
      const lo = i === 0 ? 0 : (les[i - 1] as number);
      if (hi === Infinity) return lo;
      const below = i === 0 ? 0 : (counts[i - 1] as number);
      const inBucket = (counts[i] as number) - below;
      return inBucket > 0 ? lo + ((hi - lo) * (rank - below)) / inBucket : hi;
    }
  }
  return null;
}
