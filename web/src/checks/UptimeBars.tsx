import { useState } from 'react';
import { day, pct } from '../shell/format.ts';
import { STATE_LABEL, uptimeTone } from './state.ts';
import type { DayBar } from './types.ts';
import './UptimeBars.css';

/** The 90-day strip: one thin bar per (UTC) day, coloured by that day's uptime; grey without data. */
export function UptimeBars({ days, label, size = 'md' }: { days: DayBar[] | undefined; label: string; size?: 'sm' | 'md' }) {
  const [hover, setHover] = useState<number | null>(null);
  const list = days ?? [];
  const known = list.filter((d) => d.uptime !== null);
  const avg = known.length ? known.reduce((a, d) => a + (d.uptime ?? 0), 0) / known.length : null;
  const hovered = hover !== null ? list[hover] : undefined;

  return (
    <div className={`bars bars-${size}`}>
      <div
        className="bars-strip"
        role={size === 'sm' ? 'img' : 'group'}
        aria-label={`${label}: daily uptime for the last ${list.length} days${avg !== null ? `, average ${pct(avg)}` : ''}`}
        onMouseLeave={() => setHover(null)}
      >
        {list.length === 0 && <div className="bars-empty">No history yet</div>}
        {list.map((d, i) => {
          const tone = uptimeTone(d.uptime, d.worst);
          const text = `${day(d.day)}: ${d.uptime === null ? 'no data' : `${pct(d.uptime, 3)} uptime`}`;
          return (
            <span
              key={d.day}
              className={`bar bar-${tone}${hover === i ? ' bar-hover' : ''}`}
              role={size === 'sm' ? undefined : 'img'}
              aria-label={size === 'sm' ? undefined : text}
              aria-hidden={size === 'sm' ? true : undefined}
              onMouseEnter={() => setHover(i)}
            />
          );
        })}
        {hovered && hover !== null && (
          <div
            className="tip"
            role="tooltip"
            style={{ left: `${((hover + 0.5) / list.length) * 100}%` }}
            data-edge={hover < list.length * 0.12 ? 'start' : hover > list.length * 0.88 ? 'end' : undefined}
          >
            <div className="tip-title">{day(hovered.day)}</div>
            <div className="tip-row">
              <span className={`dot dot-${uptimeTone(hovered.uptime, hovered.worst)}`} aria-hidden="true" />
              {hovered.uptime === null ? 'No data' : `${pct(hovered.uptime, 3)} uptime`}
            </div>
            {hovered.worst && hovered.worst !== 'up' && hovered.uptime !== null && (
              <div className="tip-sub">Worst state: {STATE_LABEL[hovered.worst]}</div>
            )}
          </div>
        )}
      </div>
      {size === 'md' && list.length > 0 && (
        <div className="bars-axis" aria-hidden="true">
          <span>{list.length} days ago</span>
          <span className="bars-axis-line" />
          <span>{avg !== null ? `${pct(avg)} uptime` : 'No data'}</span>
          <span className="bars-axis-line" />
          <span>Today</span>
        </div>
      )}
    </div>
  );
}
