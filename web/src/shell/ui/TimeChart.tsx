import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import { usePrefersDark } from '../hooks.ts';
import { cssVar, fitToHost } from '../plot.ts';
import './TimeChart.css';

/** One line of a chart; colours are CSS custom properties so light and dark themes follow. */
export interface ChartLine {
  label: string;
  values: (number | null)[];
  /** CSS variable holding the stroke colour, e.g. `--chart-p95` */
  color: string;
  /** CSS variable holding an area fill under the line */
  fill?: string;
  width?: number;
  dash?: number[];
  /** draw across missing points (sampled signals such as web vitals) */
  spanGaps?: boolean;
}

/** A vertical line at an instant: an alert firing or resolving, a deploy. */
export interface ChartMarker {
  /** epoch ms */
  t: number;
  kind: 'firing' | 'resolved' | 'deploy';
  title: string;
  detail?: string;
}

/** A horizontal band of the y axis, e.g. a web vital's good / needs improvement / poor ranges. */
export interface ChartBand {
  from: number;
  /** null: up to the top of the chart */
  to: number | null;
  tone: 'good' | 'warn' | 'poor';
}

interface Props {
  /** epoch ms, one per value */
  x: number[];
  lines: ChartLine[];
  /** the window shown, even where there is no data */
  from: number;
  to: number;
  /** formats y values on the axis and in the legend */
  format: (v: number) => string;
  /** the y axis reaches at least this high (so a flat 0 still reads as a scale) */
  minTop?: number;
  bands?: ChartBand[];
  markers?: ChartMarker[];
  height?: number;
  /** charts with the same key move their cursors together */
  syncKey?: string;
  label: string;
}

/** Indices of values with no neighbour: a line cannot show them, so they are drawn as dots. */
function isolated(values: ArrayLike<number | null | undefined>): number[] {
  const out: number[] = [];
  for (let i = 0; i < values.length; i++) {
    if (values[i] == null) continue;
    if (values[i - 1] == null && values[i + 1] == null) out.push(i);
  }
  return out;
}

function countValues(values: ArrayLike<number | null | undefined>): number {
  let n = 0;
  for (let i = 0; i < values.length; i++) if (values[i] != null) n++;
  return n;
}

const MARKER_LABEL: Record<ChartMarker['kind'], string> = { firing: 'Alert firing', resolved: 'Alert resolved', deploy: 'Deploy' };
const tipTime = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });

/**
 * A time-series chart (uPlot) with optional threshold bands behind the lines and event markers
 * (vertical lines with a hoverable flag) in front of them.
 */
export function TimeChart({ x, lines, from, to, format, minTop = 0, bands, markers, height = 200, syncKey, label }: Props) {
  const el = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const dark = usePrefersDark();
  // read by uPlot's callbacks, which live as long as the plot
  const live = useRef({ from, to, format, minTop, bands, markers });
  live.current = { from, to, format, minTop, bands, markers };
  const shape = lines.map((l) => `${l.label}|${l.color}|${l.fill ?? ''}|${l.width ?? ''}|${(l.dash ?? []).join(',')}|${l.spanGaps ? 1 : 0}`).join(';');

  useEffect(() => {
    const host = el.current;
    if (!host) return;
    const c = {
      grid: cssVar('--chart-grid', 'rgba(128,128,128,0.12)'),
      axis: cssVar('--text-faint', '#888'),
      font: `11px ${cssVar('--font-sans', 'system-ui, sans-serif')}`,
      band: {
        good: cssVar('--band-good', 'rgba(34,179,87,0.08)'),
        warn: cssVar('--band-warn', 'rgba(240,160,32,0.09)'),
        poor: cssVar('--band-poor', 'rgba(229,72,77,0.08)'),
      },
      bandLine: {
        good: cssVar('--up', '#16a34a'),
        warn: cssVar('--degraded', '#d97706'),
        poor: cssVar('--down', '#dc2626'),
      },
      marker: {
        firing: cssVar('--down', '#dc2626'),
        resolved: cssVar('--up', '#16a34a'),
        deploy: cssVar('--accent', '#5b5bd6'),
      },
    };

    const drawBands = (u: uPlot) => {
      const list = live.current.bands;
      if (!list?.length) return;
      const ctx = u.ctx;
      const { left, top, width, height: h } = u.bbox;
      ctx.save();
      ctx.beginPath();
      ctx.rect(left, top, width, h);
      ctx.clip();
      for (const b of list) {
        const y0 = u.valToPos(b.from, 'y', true);
        const y1 = b.to === null ? top : u.valToPos(b.to, 'y', true);
        ctx.fillStyle = c.band[b.tone];
        ctx.fillRect(left, Math.min(y0, y1), width, Math.abs(y0 - y1));
        if (b.from > 0) {
          // the threshold itself, dashed, in the colour of the band above it
          ctx.strokeStyle = c.bandLine[b.tone];
          ctx.globalAlpha = 0.55;
          ctx.lineWidth = uPlot.pxRatio;
          ctx.setLineDash([4 * uPlot.pxRatio, 4 * uPlot.pxRatio]);
          ctx.beginPath();
          ctx.moveTo(left, Math.round(y0) + 0.5);
          ctx.lineTo(left + width, Math.round(y0) + 0.5);
          ctx.stroke();
          ctx.globalAlpha = 1;
        }
      }
      ctx.restore();
    };

    const markerLayer = document.createElement('div');
    markerLayer.className = 'chart-markers';

    const drawMarkers = (u: uPlot) => {
      const list = (live.current.markers ?? []).filter((m) => m.t >= live.current.from && m.t <= live.current.to);
      const ctx = u.ctx;
      const { top, height: h } = u.bbox;
      ctx.save();
      ctx.lineWidth = 1.25 * uPlot.pxRatio;
      ctx.setLineDash([3 * uPlot.pxRatio, 3 * uPlot.pxRatio]);
      for (const m of list) {
        const px = Math.round(u.valToPos(m.t / 1000, 'x', true)) + 0.5;
        ctx.strokeStyle = c.marker[m.kind];
        ctx.beginPath();
        ctx.moveTo(px, top);
        ctx.lineTo(px, top + h);
        ctx.stroke();
      }
      ctx.restore();

      // hoverable flags, in CSS pixels inside the plot's overlay
      markerLayer.replaceChildren();
      const w = u.over.clientWidth;
      for (const m of list) {
        const px = u.valToPos(m.t / 1000, 'x');
        const flag = document.createElement('span');
        flag.className = `chart-marker chart-marker-${m.kind}`;
        flag.style.left = `${px}px`;
        flag.tabIndex = 0;
        flag.setAttribute('role', 'img');
        const when = tipTime.format(new Date(m.t));
        flag.setAttribute('aria-label', `${MARKER_LABEL[m.kind]}: ${m.title}, ${when}`);
        flag.dataset.kind = m.kind;
        const tip = document.createElement('span');
        tip.className = 'chart-marker-tip';
        if (px < 110) tip.dataset.edge = 'start';
        else if (px > w - 110) tip.dataset.edge = 'end';
        const head = document.createElement('span');
        head.className = 'chart-marker-kind';
        head.textContent = MARKER_LABEL[m.kind];
        const title = document.createElement('strong');
        title.textContent = m.title;
        const sub = document.createElement('span');
        sub.className = 'chart-marker-sub';
        sub.textContent = m.detail ? `${m.detail} · ${when}` : when;
        tip.append(head, title, sub);
        flag.append(tip);
        markerLayer.append(flag);
      }
    };

    const series: uPlot.Series[] = [
      { value: (_u, v) => (v === null ? '—' : new Date(v * 1000).toLocaleString()) },
      ...lines.map(
        (l): uPlot.Series => ({
          label: l.label,
          stroke: cssVar(l.color, '#888'),
          fill: l.fill ? cssVar(l.fill, 'transparent') : undefined,
          width: l.width ?? 1.5,
          dash: l.dash,
          spanGaps: l.spanGaps ?? false,
          points: {
            show: true,
            size: 5,
            filter: (u, i) => {
              const d = u.data[i] ?? [];
              // lines that span gaps need dots only while there are too few values for a line
              if (l.spanGaps) return countValues(d) < 3 ? null : [];
              return isolated(d);
            },
          },
          value: (_u, v) => (v === null || v === undefined ? '—' : live.current.format(v)),
        }),
      ),
    ];

    const opts: uPlot.Options = {
      width: host.clientWidth || 600,
      height,
      padding: [10, 10, 0, 0],
      cursor: { y: false, points: { size: 6 }, drag: { x: false, y: false }, ...(syncKey ? { sync: { key: syncKey } } : {}) },
      legend: { show: true, live: true },
      scales: {
        x: { time: true, range: () => [live.current.from / 1000, live.current.to / 1000] },
        y: {
          range: (_u, _min, max) => {
            const bandTop = Math.max(0, ...(live.current.bands ?? []).map((b) => b.from));
            const top = Math.max(live.current.minTop, (max || 0) * 1.15, bandTop * 1.25);
            return [0, top > 0 ? top : 1];
          },
        },
      },
      axes: [
        { stroke: c.axis, font: c.font, grid: { stroke: c.grid, width: 1 }, ticks: { show: false } },
        {
          stroke: c.axis,
          font: c.font,
          size: 60,
          grid: { stroke: c.grid, width: 1 },
          ticks: { show: false },
          values: (_u, vals) => vals.map((v) => live.current.format(v)),
        },
      ],
      series,
      hooks: { drawClear: [drawBands], draw: [drawMarkers] },
    };
    const u = new uPlot(opts, [[], ...lines.map(() => [])] as unknown as uPlot.AlignedData, host);
    u.over.append(markerLayer);
    plot.current = u;
    const release = fitToHost(u, host, height);
    return () => {
      release();
      plot.current = null;
    };
    // lines' values are set below; the plot is rebuilt only when the set of lines changes
  }, [dark, height, shape, syncKey]);

  useEffect(() => {
    const u = plot.current;
    if (!u) return;
    u.setData([x.map((t) => t / 1000), ...lines.map((l) => l.values)] as uPlot.AlignedData);
  }, [x, lines, from, to, bands, markers, dark, height, shape, syncKey]);

  return <div className="chart" ref={el} role="img" aria-label={label} />;
}
