/** A time window to pick: `key` is what the app stores, `label` what the button says. */
export interface TimeRange {
  key: string;
  label: string;
  /** the window's length */
  ms: number;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** The windows the dashboard offers; each view picks the ones its data supports. */
export const TIME_RANGES = {
  '1h': { key: '1h', label: '1h', ms: HOUR },
  '6h': { key: '6h', label: '6h', ms: 6 * HOUR },
  '24h': { key: '24h', label: '24h', ms: DAY },
  '7d': { key: '7d', label: '7d', ms: 7 * DAY },
  '30d': { key: '30d', label: '30d', ms: 30 * DAY },
  '90d': { key: '90d', label: '90d', ms: 90 * DAY },
} as const satisfies Record<string, TimeRange>;

/** The window ending now, as epoch ms. */
export function windowEndingNow(range: TimeRange): { from: number; to: number } {
  const to = Date.now();
  return { from: to - range.ms, to };
}

/** The one time-range picker: a segmented control of ranges. */
export function TimeRangePicker<R extends TimeRange>({
  ranges,
  value,
  onChange,
  label = 'Time range',
}: {
  ranges: readonly R[];
  value: R['key'];
  onChange: (key: R['key']) => void;
  /** the group's accessible name */
  label?: string;
}) {
  return (
    <div className="segmented" role="group" aria-label={label}>
      {ranges.map((r) => (
        <button key={r.key} type="button" aria-pressed={r.key === value} onClick={() => onChange(r.key)}>
          {r.label}
        </button>
      ))}
    </div>
  );
}
