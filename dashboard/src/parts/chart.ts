/**
 * A uPlot chart in a preact component: created when mounted, rebuilt when its data or options
 * change, resized with its container (so it fits a phone's width), destroyed when unmounted.
 */
import { useEffect, useRef } from "preact/hooks";
import uPlot, { type AlignedData, type Options } from "uplot";
import { html } from "../html";

export interface ChartProps {
  /** Read by screen readers in place of the canvas. */
  label: string;
  options: Omit<Options, "width" | "height">;
  data: AlignedData;
  height?: number;
}

export function Chart({ label, options, data, height = 220 }: ChartProps) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const plot = new uPlot({ ...options, width: Math.max(240, el.clientWidth), height }, data, el);
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(240, el.clientWidth), height }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [options, data, height]);
  return html`<figure class="chart"><div ref=${box} role="img" aria-label=${label}></div><figcaption>${label}</figcaption></figure>`;
}

/** Bars for uPlot series (its bars path builder), with the gap between categories kept readable. */
const bars = uPlot.paths.bars!({ size: [0.6, 48] });

export interface BarSeries {
  label: string;
  color: string;
  /** One value per category; null leaves its bar out. */
  values: (number | null)[];
}

/** A bar chart of named categories (uPlot has no category axis: x is the index, labelled by name). */
export function barChart(names: string[], unit: string, series: BarSeries[]): Pick<ChartProps, "options" | "data"> {
  return {
    data: [names.map((_, i) => i), ...series.map((s) => s.values)],
    options: {
      scales: { x: { time: false, range: [-0.5, Math.max(0.5, names.length - 0.5)] } },
      axes: [{ splits: () => names.map((_, i) => i), values: (_u, splits) => splits.map((i) => names[i] ?? "") }, { label: unit }],
      series: [{}, ...series.map((s) => ({ label: s.label, fill: s.color, stroke: s.color, paths: bars, points: { show: false } }))],
    },
  };
}
