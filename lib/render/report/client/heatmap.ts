// The heatmap (one row per layer, one column per prompt position, each cell the top-1 token coloured by
// the chosen metric) and its legend; with the lens switch on 'both', a second heatmap of the tuned lens
// beside the logit lens's, on the same colour scale.

import { byId, el, quote, rampCanvas } from './dom.js';
import { cellValue, color, compactToken, diffValue, divColor, divTextColor, formatNats, formatSigned, METRICS, textColor, type DiffValue } from './helpers.js';
import type { RunView, ShownState } from './state.js';

/** Every heatmap shown: the main one and, side by side, the tuned lens's. */
export function renderHeatmap(s: ShownState): void {
  const views: [RunView, string][] = [[s.shown, 'll-heatmap']];
  if (s.shown.second) views.push([s.shown.second, 'll-heatmap-tuned']);
  else byId('ll-heatmap-tuned').textContent = '';
  const diffs = views.map(([view]) => (s.metric === 'diff' && view.idxB !== null ? diffsOf(s, view) : null));
  // one scale for every heatmap: the largest |after − before|
  s.diffScale = 0;
  for (const d of diffs) if (d) for (const dv of d.values()) if (isFinite(dv.d) && Math.abs(dv.d) > s.diffScale) s.diffScale = Math.abs(dv.d);
  views.forEach(([view, id], i) => drawHeatmap(s, view, byId<HTMLTableElement>(id), diffs[i]));
}

/** after − before of every cell of a view, by "name@pos". */
function diffsOf(s: ShownState, view: RunView): Map<string, DiffValue> {
  const diffs = new Map<string, DiffValue>();
  for (const row of view.idx.rows(s.kind)) {
    for (const p of view.data.positions) diffs.set(row.name + '@' + p, diffValue(view.idxA.at(row.name, p), view.idxB!.at(row.name, p)));
  }
  return diffs;
}

function drawHeatmap(s: ShownState, view: RunView, table: HTMLTableElement, diffs: Map<string, DiffValue> | null): void {
  const d = view.data;
  const idx = view.idx;
  table.textContent = '';
  const rows = idx.rows(s.kind);
  const thead = el('thead');
  const hr = el('tr');
  hr.appendChild(el('th', { class: 'll-corner ll-row', scope: 'col' }, s.kind));
  for (const p of d.positions) {
    const tok = d.tokens[p] ? d.tokens[p].token : '?';
    const th = el('th', { class: 'll-col', scope: 'col', 'data-pos': p, 'data-token': tok, title: 'position ' + p + ': ' + quote(tok) }, compactToken(tok));
    if (s.sel && s.sel.pos === p) th.classList.add('ll-sel');
    hr.appendChild(th);
  }
  thead.appendChild(hr);
  table.appendChild(thead);
  const tbody = el('tbody');
  const targetId = d.target ? d.target.id : -1;
  for (const row of rows) {
    const tr = el('tr', { 'data-hook': row.name });
    tr.appendChild(el('th', { class: 'll-row', scope: 'row', title: row.name }, row.label));
    for (const p of d.positions) {
      const h = row.cells[p];
      if (!h || !h.top) {
        tr.appendChild(el('td', { 'data-pos': p }));
        continue;
      }
      const td = el('td', { 'data-hook': row.name, 'data-pos': p }, compactToken(h.top[0].token));
      // in tuned-lens data: which cells a translator acted on
      if (h.lens) td.setAttribute('data-lens', h.lens);
      if (diffs) {
        const dv = diffs.get(row.name + '@' + p)!;
        const v = s.diffScale > 0 ? dv.d / s.diffScale : 0;
        td.setAttribute('data-diff', isFinite(dv.d) ? String(dv.d) : 'NaN');
        td.style.background = divColor(v);
        td.style.color = divTextColor(v);
      } else {
        const val = cellValue(h, s.metric, idx.ctx);
        td.style.background = color(val.v);
        td.style.color = textColor(val.v);
      }
      if (h.top[0].id === targetId) td.classList.add('ll-hit');
      if (s.sel && s.sel.name === row.name && s.sel.pos === p) td.classList.add('ll-sel');
      tr.appendChild(td);
    }
    tbody.appendChild(tr);
  }
  table.appendChild(tbody);
}

/** The heatmap cell an event happened in (null: a header or outside the cells). */
export function cellFromEvent(ev: Event): { name: string; pos: number } | null {
  let t = ev.target instanceof Element ? ev.target : null;
  while (t && t.tagName !== 'TD') {
    if (t === ev.currentTarget) return null;
    t = t.parentElement;
  }
  const name = t ? t.getAttribute('data-hook') : null;
  if (!t || !name) return null;
  return { name, pos: Number(t.getAttribute('data-pos')) };
}

export function renderLegend(s: ShownState): void {
  const box = byId('ll-legend');
  box.textContent = '';
  const m = s.metric;
  const ctx = s.shown.idx.ctx;
  if (m === 'diff') {
    const what = s.shown.idx.has.target
      ? 'the target\u2019s probability'
      : 'the probability of the after-run\u2019s top-1 token (\u2265: a bound, that token is not in the before-run\u2019s top-k)';
    box.appendChild(
      el('span', null, 'colour: after \u2212 before, ' + what + ' \u2014 red: lower after, blue: higher after; cell text: top-1 token of the run shown'),
    );
    box.appendChild(el('span', null, formatSigned(-s.diffScale)));
    box.appendChild(rampCanvas((x) => divColor(x * 2 - 1)));
    box.appendChild(el('span', null, formatSigned(s.diffScale)));
    return;
  }
  box.appendChild(el('span', null, 'colour: ' + METRICS[m].label + ' \u2014 cell text: top-1 token (\u00b7 = space); underlined: the target'));
  let lo = '0';
  let hi: string;
  if (m === 'prob') hi = '1';
  else if (m === 'rank') {
    lo = 'rank ' + ctx.nVocab;
    hi = 'rank 1';
  } else if (m === 'kl') hi = formatNats(ctx.maxKL) + ' nats';
  else hi = 'ln ' + ctx.nVocab + ' = ' + Math.log(ctx.nVocab).toFixed(2) + ' nats';
  box.appendChild(el('span', null, lo));
  box.appendChild(rampCanvas(color));
  box.appendChild(el('span', null, hi));
}
