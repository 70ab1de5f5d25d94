// The summary of a data-set run as one self-contained HTML page: inline SVG line plots (one line per
// hook kind over the layers, its 95% interval as a band) and the table of every number. No script, no
// external resource, so the file can be mailed or archived as it is.
import type { BatchSummary, HookSummary, MeanStat, ShareStat } from './summary.js';

const KIND_COLORS: Readonly<Record<string, string>> = {
  embed: '#555555',
  resid_post: '#1f77b4',
  resid_mid: '#ff7f0e',
  attn_out: '#2ca02c',
  mlp_out: '#d62728',
};
const W = 520;
const H = 260;
const M = { left: 56, right: 16, top: 44, bottom: 40 };

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

interface Point {
  x: number;
  y: number;
  lo: number;
  hi: number;
}

interface Plot {
  title: string;
  /** The value of a hook, or null when it has none. */
  value: (h: HookSummary) => { y: number; ci: [number, number] | null } | null;
  /** Fixed range (shares, probabilities), else from the data. */
  range?: [number, number];
  log?: boolean;
}

const shareOf = (s: ShareStat | null) => (s ? { y: s.share, ci: s.ci } : null);
const meanOf = (s: MeanStat | null) => (s ? { y: s.mean, ci: s.ci } : null);

const PLOTS: Plot[] = [
  { title: 'Lens top-1 = final prediction (share of prompts)', value: (h) => shareOf(h.top1IsPrediction), range: [0, 1] },
  { title: 'Lens top-1 = target (share of prompts)', value: (h) => shareOf(h.top1IsTarget), range: [0, 1] },
  { title: 'Target probability (mean)', value: (h) => meanOf(h.targetProb), range: [0, 1] },
  { title: 'Target rank (mean, log scale)', value: (h) => meanOf(h.targetRank), log: true },
  { title: 'Entropy of the lens (nats, mean)', value: (h) => meanOf(h.entropy) },
  { title: 'KL(final ‖ lens) (nats, mean)', value: (h) => meanOf(h.kl) },
];

/** x position of a hook: embed at 0, block L at L + 1. */
const depth = (h: HookSummary) => (h.layer === null ? 0 : h.layer + 1);

function fmt(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1000 || a < 0.01 ? v.toExponential(2) : v.toPrecision(3);
}

function plotSvg(plot: Plot, s: BatchSummary): string | null {
  const series = new Map<string, Point[]>();
  for (const h of s.hooks) {
    const v = plot.value(h);
    if (!v || !Number.isFinite(v.y)) continue;
    const [lo, hi] = v.ci ?? [v.y, v.y];
    const list = series.get(h.kind) ?? [];
    list.push({ x: depth(h), y: v.y, lo, hi });
    series.set(h.kind, list);
  }
  if (series.size === 0) return null;
  const all = [...series.values()].flat();
  const tr = (v: number) => (plot.log ? Math.log10(Math.max(v, 1)) : v);
  let [y0, y1] = plot.range ?? [Math.min(...all.map((p) => tr(p.lo))), Math.max(...all.map((p) => tr(p.hi)))];
  if (!plot.range && !plot.log) y0 = Math.min(0, y0);
  if (y1 - y0 < 1e-9) y1 = y0 + 1;
  const xMax = Math.max(1, ...all.map((p) => p.x));
  const px = (x: number) => M.left + (x / xMax) * (W - M.left - M.right);
  const py = (y: number) => H - M.bottom - ((tr(y) - y0) / (y1 - y0)) * (H - M.top - M.bottom);
  const parts: string[] = [];
  parts.push(`<text x="${W / 2}" y="16" text-anchor="middle" class="t">${esc(plot.title)}</text>`);
  // axes and ticks
  parts.push(`<line x1="${M.left}" y1="${H - M.bottom}" x2="${W - M.right}" y2="${H - M.bottom}" class="ax"/>`);
  parts.push(`<line x1="${M.left}" y1="${M.top}" x2="${M.left}" y2="${H - M.bottom}" class="ax"/>`);
  for (let i = 0; i <= 4; i++) {
    const yv = y0 + ((y1 - y0) * i) / 4;
    const label = plot.log ? fmt(10 ** yv) : fmt(yv);
    const y = H - M.bottom - (i / 4) * (H - M.top - M.bottom);
    parts.push(
      `<line x1="${M.left - 4}" y1="${y}" x2="${W - M.right}" y2="${y}" class="grid"/><text x="${M.left - 6}" y="${y + 4}" text-anchor="end">${label}</text>`,
    );
  }
  const step = Math.max(1, Math.ceil(xMax / 12));
  for (let x = 0; x <= xMax; x += step) parts.push(`<text x="${px(x)}" y="${H - M.bottom + 16}" text-anchor="middle">${x === 0 ? 'emb' : x - 1}</text>`);
  parts.push(`<text x="${(M.left + W - M.right) / 2}" y="${H - 6}" text-anchor="middle">block</text>`);
  let legendX = M.left + 8;
  for (const [kind, pts] of series) {
    const color = KIND_COLORS[kind] ?? '#9467bd';
    pts.sort((a, b) => a.x - b.x);
    if (pts.length > 1) {
      const band = [...pts.map((p) => `${px(p.x)},${py(p.hi)}`), ...[...pts].reverse().map((p) => `${px(p.x)},${py(p.lo)}`)].join(' ');
      parts.push(`<polygon points="${band}" fill="${color}" fill-opacity="0.15" stroke="none"/>`);
      parts.push(`<polyline points="${pts.map((p) => `${px(p.x)},${py(p.y)}`).join(' ')}" fill="none" stroke="${color}" stroke-width="2"/>`);
    } else parts.push(`<line x1="${px(pts[0].x)}" y1="${py(pts[0].lo)}" x2="${px(pts[0].x)}" y2="${py(pts[0].hi)}" stroke="${color}"/>`);
    for (const p of pts)
      parts.push(
        `<circle cx="${px(p.x)}" cy="${py(p.y)}" r="2.5" fill="${color}"><title>${esc(kind)} ${p.x === 0 ? 'embed' : `block ${p.x - 1}`}: ${fmt(p.y)} [${fmt(p.lo)}, ${fmt(p.hi)}]</title></circle>`,
      );
    parts.push(`<rect x="${legendX}" y="22" width="10" height="10" fill="${color}"/><text x="${legendX + 14}" y="31">${esc(kind)}</text>`);
    legendX += 20 + kind.length * 7;
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(plot.title)}">${parts.join('')}</svg>`;
}

function cell(v: { y: number; ci: [number, number] | null } | null): string {
  if (!v) return '<td>–</td>';
  return `<td>${fmt(v.y)}${v.ci ? ` <span class="ci">[${fmt(v.ci[0])}, ${fmt(v.ci[1])}]</span>` : ''}</td>`;
}

/** The page. `title` names the run (e.g. the input file). */
export function renderSummaryPage(s: BatchSummary, title = 'layerlens batch summary'): string {
  const plots = PLOTS.map((p) => plotSvg(p, s)).filter((x): x is string => x !== null);
  const rows = s.hooks
    .map(
      (h) =>
        `<tr><td>${esc(h.name)}</td><td>${h.n}</td>${cell(shareOf(h.top1IsPrediction))}${cell(shareOf(h.top1IsTarget))}${cell(meanOf(h.targetRank))}${cell(meanOf(h.targetProb))}${cell(meanOf(h.entropy))}${cell(meanOf(h.kl))}</tr>`,
    )
    .join('\n');
  const model = s.model ? `${esc(s.model.name)} (${s.model.n_layer} blocks, ${esc(s.model.dtype)})` : 'no results';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>
body{font:14px system-ui,sans-serif;margin:24px;color:#222}
.plots{display:flex;flex-wrap:wrap;gap:12px}
svg{border:1px solid #ddd;background:#fff}
svg text{font-size:11px;fill:#333}
svg text.t{font-size:13px;font-weight:600}
.ax{stroke:#333}.grid{stroke:#eee}
table{border-collapse:collapse;margin-top:16px}
td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}
td:first-child,th:first-child{text-align:left;font-family:monospace}
.ci{color:#888;font-size:12px}
</style></head><body>
<h1>${esc(title)}</h1>
<p>Model ${model}. ${s.prompts} prompts (${s.withTarget} with a target). Each prompt's lens rows at its last lensed position;
intervals are ${Math.round(s.confidence * 100)}%: Wilson for shares, Student t for means.</p>
<div class="plots">${plots.join('\n')}</div>
<table><thead><tr><th>hook</th><th>n</th><th>top-1 = prediction</th><th>top-1 = target</th><th>target rank</th><th>target prob</th><th>entropy</th><th>KL</th></tr></thead>
<tbody>
${rows}
</tbody></table>
</body></html>
`;
}
