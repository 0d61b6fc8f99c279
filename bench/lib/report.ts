/** Result rows, the printed table and the JSON file. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface Row {
  scenario: string;
  metric: string;
  /** human text of the goal, e.g. "<= 5 %" ('' when the row is information only) */
  goal: string;
  value: number | null;
  unit: string;
  /** true/false against the goal; null when the row has no goal */
  pass: boolean | null;
  /** what the tool a user would use instead measured, same unit */
  reference?: { name: string; value: number };
  /** value / reference.value */
  ratio?: number;
  note?: string;
}

export function row(r: Omit<Row, 'ratio'>): Row {
  const out: Row = { ...r };
  if (r.reference && r.value !== null && r.reference.value !== 0) out.ratio = r.value / r.reference.value;
  return out;
}

export function fmt(v: number | null, unit = ''): string {
  if (v === null || Number.isNaN(v)) return '—';
  const a = Math.abs(v);
  if (Number.isInteger(v)) return unit ? `${v} ${unit}` : String(v);
  const s = a >= 1000 ? v.toFixed(0) : a >= 100 ? v.toFixed(1) : a >= 10 ? v.toFixed(2) : a >= 1 ? v.toFixed(2) : v.toFixed(3);
  return unit ? `${s} ${unit}` : s;
}

export function printTable(rows: Row[], out: (s: string) => void = (s) => process.stdout.write(`${s}\n`)): void {
  const header = ['scenario', 'metric', 'goal', 'measured', 'result', 'reference', 'ratio'];
  const cells = rows.map((r) => [
    r.scenario,
    r.metric,
    r.goal || '—',
    fmt(r.value, r.unit),
    r.pass === null ? 'info' : r.pass ? 'PASS' : 'FAIL',
    r.reference ? `${r.reference.name}: ${fmt(r.reference.value, r.unit)}` : '',
    r.ratio !== undefined ? `${r.ratio.toFixed(2)}×` : '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] as string).length)));
  const line = (c: string[]) => c.map((x, i) => x.padEnd(widths[i] as number)).join('  ').trimEnd();
  out(line(header));
  out(widths.map((w) => '-'.repeat(w)).join('  '));
  let last = '';
  for (const c of cells) {
    if (last && c[0] !== last) out('');
    last = c[0] as string;
    out(line(c));
  }
  const notes = rows.filter((r) => r.note);
  if (notes.length) {
    out('');
    for (const r of notes) out(`  ${r.scenario} / ${r.metric}: ${r.note}`);
  }
}

export function writeJson(file: string, data: unknown): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`);
}

export const MB = 1024 * 1024;

export function percentile(sorted: number[], q: number): number | null {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i] as number;
}
