// A small SVG line plot of one value per layer row (embed, block 0, 1, …).

import { svg } from './dom.js';

export interface LinePlotOptions {
  title: string;
  min: number;
  max: number;
  /** Log10 scale (ranks). */
  log?: boolean;
  /** Larger values lower (rank 1 at the top). */
  invert?: boolean;
  /** y values with a grid line and a label (default: min and max). */
  ticks?: number[];
  fmt: (v: number) => string;
  /** Index of the selected row, drawn larger (-1: none). */
  sel: number;
  /** A second series (the before-run on a before/after page), drawn dashed in another colour. */
  also?: number[];
  /** The runs' names for `data-run` and the point titles (default 'after' and 'before'). */
  names?: { main: string; also: string };
}

const W = 340;
const H = 180;
const LEFT = 52;
const RIGHT = 10;
const TOP = 22;
const BOTTOM = 34;
const MAIN_COLOR = '#2171b5';
const ALSO_COLOR = '#e08214';
const SELECTED_COLOR = '#c2410c';

export function linePlot(labels: string[], values: number[], opts: LinePlotOptions): SVGSVGElement {
  const s = svg('svg', { class: 'll-plot', width: W, height: H, viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': opts.title });
  s.appendChild(svg('text', { x: 4, y: 14, class: 'll-plot-title' }, opts.title));
  const tr = (v: number): number => (opts.log ? Math.log10(Math.max(v, 1)) : v);
  const lo = tr(opts.min);
  let hi = tr(opts.max);
  if (!(hi > lo)) hi = lo + 1;
  const n = values.length;
  const X = (i: number): number => LEFT + (n <= 1 ? 0 : (i * (W - LEFT - RIGHT)) / (n - 1));
  const Y = (v: number): number => {
    let t = (tr(v) - lo) / (hi - lo);
    if (opts.invert) t = 1 - t;
    return TOP + (1 - t) * (H - TOP - BOTTOM);
  };
  s.appendChild(svg('line', { x1: LEFT, y1: TOP, x2: LEFT, y2: H - BOTTOM, stroke: '#8c959f' }));
  s.appendChild(svg('line', { x1: LEFT, y1: H - BOTTOM, x2: W - RIGHT, y2: H - BOTTOM, stroke: '#8c959f' }));
  for (const v of opts.ticks ?? [opts.min, opts.max]) {
    const y = Y(v);
    s.appendChild(svg('line', { x1: LEFT - 3, y1: y, x2: W - RIGHT, y2: y, stroke: '#eef1f4' }));
    s.appendChild(svg('text', { x: LEFT - 5, y: y + 3, 'text-anchor': 'end' }, opts.fmt(v)));
  }
  const step = Math.max(1, Math.ceil(n / 8));
  labels.forEach((lab, i) => {
    if (i % step && i !== n - 1) return;
    s.appendChild(svg('text', { x: X(i), y: H - BOTTOM + 12, 'text-anchor': 'middle' }, lab));
  });
  s.appendChild(svg('text', { x: (LEFT + W - RIGHT) / 2, y: H - 4, 'text-anchor': 'middle' }, 'layer (embed, then block 0, 1, \u2026)'));
  const line = (vals: number[], attrs: Record<string, string>): void => {
    const pts: string[] = [];
    vals.forEach((v, i) => {
      if (typeof v === 'number' && isFinite(v)) pts.push(X(i).toFixed(1) + ',' + Y(v).toFixed(1));
    });
    s.appendChild(svg('polyline', { points: pts.join(' '), fill: 'none', 'stroke-width': 2, ...attrs }));
  };
  if (opts.also) {
    line(opts.also, { stroke: ALSO_COLOR, 'stroke-dasharray': '5 3', 'data-run': opts.names ? opts.names.also : 'before' });
    opts.also.forEach((v, i) => {
      if (typeof v !== 'number' || !isFinite(v)) return;
      const c = svg('circle', { cx: X(i), cy: Y(v), r: 2, fill: ALSO_COLOR });
      c.appendChild(svg('title', {}, labels[i] + ' (' + (opts.names ? opts.names.also : 'before') + '): ' + opts.fmt(v)));
      s.appendChild(c);
    });
  }
  line(values, { stroke: MAIN_COLOR, 'data-run': opts.also ? (opts.names ? opts.names.main : 'after') : 'main' });
  values.forEach((v, i) => {
    if (typeof v !== 'number' || !isFinite(v)) return;
    const selected = i === opts.sel;
    const c = svg('circle', { cx: X(i), cy: Y(v), r: selected ? 4.5 : 2.5, fill: selected ? SELECTED_COLOR : MAIN_COLOR });
    c.appendChild(svg('title', {}, labels[i] + ': ' + opts.fmt(v)));
    s.appendChild(c);
  });
  return s;
}

export const PLOT_COLORS = { main: MAIN_COLOR, also: ALSO_COLOR };
