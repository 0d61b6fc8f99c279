import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import { ms } from '../shell/format.ts';
import { usePrefersDark } from '../shell/hooks.ts';
import { cssVar, fitToHost } from '../shell/plot.ts';
import type { Aggregate } from './types.ts';

interface Props {
  items: Aggregate[];
  /** the window shown, even where there is no data yet */
  from: number;
  to: number;
  /** bucket width in seconds (60 for minute aggregates) */
  bucket: number;
  height?: number;
}

function toData(items: Aggregate[]): uPlot.AlignedData {
  const xs: number[] = [];
  const p50: (number | null)[] = [];
  const p95: (number | null)[] = [];
  const fails: (number | null)[] = [];
  for (const a of items) {
    const t = Date.parse(a.t);
    if (Number.isNaN(t)) continue;
    xs.push(t / 1000);
    p50.push(a.p50);
    p95.push(a.p95);
    fails.push(a.failures);
  }
  return [xs, p50, p95, fails];
}

/** p50 / p95 latency over time (uPlot); buckets with failed runs are shaded red. */
export function LatencyChart({ items, from, to, bucket, height = 240 }: Props) {
  const el = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const range = useRef<[number, number]>([from / 1000, to / 1000]);
  const bucketRef = useRef(bucket);
  const dark = usePrefersDark();

  range.current = [from / 1000, to / 1000];
  bucketRef.current = bucket;

  useEffect(() => {
    const host = el.current;
    if (!host) return;
    const c = {
      p50: cssVar('--chart-p50', '#60a5fa'),
      p95: cssVar('--chart-p95', '#a78bfa'),
      p95Fill: cssVar('--chart-p95-fill', 'rgba(167,139,250,0.12)'),
      fail: cssVar('--down', '#ef4444'),
      failBand: cssVar('--chart-fail-band', 'rgba(239,68,68,0.16)'),
      grid: cssVar('--chart-grid', 'rgba(128,128,128,0.12)'),
      axis: cssVar('--text-faint', '#888'),
      font: `11px ${cssVar('--font-sans', 'system-ui, sans-serif')}`,
    };
    const shadeFailures = (u: uPlot) => {
      const [xs, , , fails] = u.data;
      if (!xs || !fails) return;
      const ctx = u.ctx;
      const { top, height: h } = u.bbox;
      const halfPx = Math.max(1, (u.valToPos(xs[0] ?? 0, 'x', true) - u.valToPos((xs[0] ?? 0) - bucketRef.current, 'x', true)) / 2);
      ctx.save();
      for (let i = 0; i < xs.length; i++) {
        const f = fails[i];
        if (!f) continue;
        const cx = u.valToPos(xs[i] ?? 0, 'x', true);
        ctx.fillStyle = c.failBand;
        ctx.fillRect(cx - halfPx, top, halfPx * 2, h);
        ctx.fillStyle = c.fail;
        ctx.fillRect(cx - halfPx, top, halfPx * 2, 3 * uPlot.pxRatio);
      }
      ctx.restore();
    };
    const opts: uPlot.Options = {
      width: host.clientWidth || 600,
      height,
      padding: [8, 8, 0, 0],
      cursor: { y: false, points: { size: 6 }, drag: { x: false, y: false } },
      legend: { show: true, live: true },
      scales: {
        x: { time: true, range: () => range.current },
        y: { range: (_u, _min, max) => [0, Math.max(10, (max || 0) * 1.15)] },
        fail: { range: [0, 1] },
      },
      axes: [
        { stroke: c.axis, font: c.font, grid: { stroke: c.grid, width: 1 }, ticks: { show: false } },
        {
          stroke: c.axis,
          font: c.font,
          size: 56,
          grid: { stroke: c.grid, width: 1 },
          ticks: { show: false },
          values: (_u, vals) => vals.map((v) => ms(v)),
        },
      ],
      series: [
        { value: (_u, v) => (v === null ? '—' : new Date(v * 1000).toLocaleString()) },
        { label: 'p50', stroke: c.p50, width: 1.5, spanGaps: false, points: { show: false }, value: (_u, v) => ms(v) },
        {
          label: 'p95',
          stroke: c.p95,
          width: 1.5,
          fill: c.p95Fill,
          spanGaps: false,
          points: { show: false },
          value: (_u, v) => ms(v),
        },
        {
          label: 'Failed runs',
          scale: 'fail',
          stroke: c.fail,
          paths: () => null,
          points: { show: false },
          value: (_u, v) => (v === null ? '—' : String(v)),
        },
      ],
      hooks: { drawClear: [shadeFailures] },
    };
    const u = new uPlot(opts, toData([]), host);
    plot.current = u;
    const release = fitToHost(u, host, height);
    return () => {
      release();
      plot.current = null;
    };
  }, [dark, height]);

  useEffect(() => {
    plot.current?.setData(toData(items));
  }, [items, dark, height, from, to]);

  return <div className="chart" ref={el} />;
}
