import type uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import './ui/chart.css';

/** A CSS custom property of the document (charts take their colours from the design tokens). */
export function cssVar(name: string, fallback: string): string {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}

/**
 * Keep a uPlot chart as wide as its host element. Returns the teardown for a React effect:
 * it stops watching and destroys the chart.
 */
export function fitToHost(u: uPlot, host: HTMLElement, height: number): () => void {
  const ro = new ResizeObserver(() => {
    const w = host.clientWidth;
    if (w > 0 && w !== u.width) u.setSize({ width: w, height });
  });
  ro.observe(host);
  return () => {
    ro.disconnect();
    u.destroy();
  };
}
