import { ms } from '../shell/format.ts';
import type { ServiceState, SparkPoint } from './types.ts';
import './Sparkline.css';

const W = 120;
const H = 32;

/**
 * The last hour's p95 latency as a tiny inline SVG line, with failed minutes marked in red. Line,
 * area and dot take the colour of `tone`, the service's state (see Sparkline.css).
 */
export function Sparkline({ points, tone }: { points: SparkPoint[] | undefined; tone: ServiceState }) {
  const pts = points ?? [];
  const values = pts.map((p) => p.p95).filter((v): v is number => v !== null);
  let lastIdx = -1;
  for (let i = pts.length - 1; i >= 0; i--) {
    if (pts[i]?.p95 != null) {
      lastIdx = i;
      break;
    }
  }
  const last = lastIdx >= 0 ? (pts[lastIdx]?.p95 ?? null) : null;
  if (values.length === 0) {
    return (
      <div className={`spark spark-${tone} spark-empty`} aria-label="No latency data in the last hour">
        <svg width={W} height={H} viewBox={`0 0 ${W} ${H}`} aria-hidden="true">
          <line x1="0" x2={W} y1={H - 2} y2={H - 2} className="spark-baseline" />
        </svg>
        <span className="spark-value muted">—</span>
      </div>
    );
  }
  const max = Math.max(...values);
  const min = Math.min(...values);
  const span = max - min || max || 1;
  const n = Math.max(pts.length - 1, 1);
  const x = (i: number) => (i / n) * W;
  const y = (v: number) => H - 3 - ((v - min) / span) * (H - 8);

  // split into segments at missing minutes
  const segs: string[] = [];
  let cur = '';
  pts.forEach((p, i) => {
    if (p.p95 === null) {
      if (cur) segs.push(cur);
      cur = '';
      return;
    }
    cur += `${cur ? 'L' : 'M'}${x(i).toFixed(1)},${y(p.p95).toFixed(1)}`;
  });
  if (cur) segs.push(cur);
  const line = segs.join(' ');
  const area = segs
    .map((s) => {
      const coords = s.slice(1).split(/[LM]/);
      const first = coords[0]?.split(',')[0];
      const lastX = coords[coords.length - 1]?.split(',')[0];
      return `${s} L${lastX},${H} L${first},${H} Z`;
    })
    .join(' ');

  return (
    <div className={`spark spark-${tone}`} aria-label={`p95 latency over the last hour, latest ${ms(last)}, peak ${ms(max)}`} role="img">
      <svg width={W} height={H} viewBox={`0 0 ${W} ${H}`} aria-hidden="true" preserveAspectRatio="none">
        <path d={area} className="spark-area" />
        <path d={line} className="spark-line" />
        {last !== null && <circle cx={x(lastIdx)} cy={y(last)} r={2.25} className="spark-dot" />}
        {pts.map((p, i) => (p.failures > 0 ? <rect key={p.t} x={x(i) - 1} y={0} width={2} height={H} className="spark-fail" /> : null))}
      </svg>
      <span className="spark-value">{ms(last)}</span>
    </div>
  );
}
