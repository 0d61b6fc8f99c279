/**
 * Alertmanager's fingerprint of a label set (prometheus/common model.LabelSet.Fingerprint):
 * FNV-1a 64 over the sorted label names and values, each followed by the 0xff separator, printed
 * as 16 hex digits. The same labels give the same fingerprint here and in Alertmanager. A label
 * with an empty value is no label (Alertmanager drops them from pushed alerts before hashing).
 */
const OFFSET = 14695981039346656037n;
const PRIME = 1099511628211n;
const MASK = (1n << 64n) - 1n;
const SEP = 0xff;

export function fingerprint(labels: Record<string, string>): string {
  let h = OFFSET;
  const add = (b: number) => {
    h ^= BigInt(b);
    h = (h * PRIME) & MASK;
  };
  for (const name of Object.keys(labels).sort()) {
    if (labels[name] === '') continue;
    for (const b of Buffer.from(name, 'utf8')) add(b);
    add(SEP);
    for (const b of Buffer.from(labels[name] as string, 'utf8')) add(b);
    add(SEP);
  }
  return h.toString(16).padStart(16, '0');
}
