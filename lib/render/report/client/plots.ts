// "Across layers": the target's probability and rank (or the top-1 probability without a target) and the
// KL at the selected position, one point per layer row; on a before/after page both runs, else with both
// lenses side by side the logit lens (solid) and the tuned lens (dashed).

import type { PageHook } from '../page-data.js';
import { byId, el } from './dom.js';
import { compactToken } from './helpers.js';
import { linePlot, PLOT_COLORS } from './line-plot.js';
import { lensLabel, runLabel, type ShownState } from './state.js';

const twoDecimals = (v: number): string => v.toFixed(2);

export function renderPlots(s: ShownState): void {
  const box = byId('ll-plots');
  box.textContent = '';
  if (!s.sel) return;
  const { data: d, main, idx, idxA, idxB, second } = s.shown;
  const sel = s.sel;
  const pos = sel.pos;
  const rows = idx.rows(s.kind);
  const labels = rows.map((r) => (r.layer === null ? 'emb' : String(r.layer)));
  // on a before/after page: the after-run solid, the before-run dashed, whichever is shown; else with
  // both lenses: the logit lens solid, the tuned lens dashed
  const hooks = rows.map((r) => (idxB ? idxA.at(r.name, pos) : r.cells[pos]));
  const hooksB = idxB ? rows.map((r) => idxB.at(r.name, pos)) : second ? rows.map((r) => second.idx.at(r.name, pos)) : null;
  const names = !idxB && second ? { main: 'logit', also: 'tuned' } : undefined;
  const also = (f: (h: PageHook) => number | undefined): number[] | undefined => (hooksB ? hooksB.map((h) => (h ? (f(h) ?? NaN) : NaN)) : undefined);
  const series = (f: (h: PageHook) => number | undefined): number[] => hooks.map((h) => (h ? (f(h) ?? NaN) : NaN));
  const selIndex = rows.findIndex((r) => r.name === sel.name);
  const tok = d.tokens[pos] ? compactToken(d.tokens[pos].token) : '?';
  const where = ' at position ' + pos + ' ' + tok + ' (' + s.kind + ')';
  const plots = el('div', { class: 'll-plots' });
  const nVocab = d.model.n_vocab;
  if (idx.has.target && d.target) {
    const tname = compactToken(d.target.token);
    const prob = (h: PageHook): number => (h.target ? h.target.prob : NaN);
    const rank = (h: PageHook): number => (h.target ? h.target.rank : NaN);
    plots.appendChild(
      linePlot(labels, series(prob), {
        title: 'p(' + tname + ')' + where,
        min: 0,
        max: 1,
        ticks: [0, 0.25, 0.5, 0.75, 1],
        fmt: twoDecimals,
        sel: selIndex,
        also: also(prob),
        names,
      }),
    );
    const ticks = [1];
    for (let t = 10; t < nVocab; t *= 10) ticks.push(t);
    ticks.push(nVocab);
    plots.appendChild(
      linePlot(labels, series(rank), {
        title: 'rank of ' + tname + ' (log scale)',
        min: 1,
        max: nVocab,
        log: true,
        invert: true,
        ticks,
        fmt: (v) => String(Math.round(v)),
        sel: selIndex,
        also: also(rank),
        names,
      }),
    );
  } else {
    const top1 = (h: PageHook): number => (h.top ? h.top[0].prob : NaN);
    plots.appendChild(
      linePlot(labels, series(top1), {
        title: 'top-1 probability' + where,
        min: 0,
        max: 1,
        ticks: [0, 0.25, 0.5, 0.75, 1],
        fmt: twoDecimals,
        sel: selIndex,
        also: also(top1),
        names,
      }),
    );
  }
  if (idx.has.kl) {
    const kl = (h: PageHook): number | undefined => h.kl;
    const kls = series(kl);
    const klsB = also(kl);
    const max = Math.max(...kls.concat(klsB ?? []).filter((v) => isFinite(v)), 1e-9);
    plots.appendChild(
      linePlot(labels, kls, {
        title: 'KL(final \u2016 layer), nats',
        min: 0,
        max,
        ticks: [0, max / 2, max],
        fmt: twoDecimals,
        sel: selIndex,
        also: klsB,
        names,
      }),
    );
  }
  box.appendChild(plots);
  if (idxB || second) {
    const lg = el('div', { class: 'll-plot-legend' });
    const sw1 = el('span', { class: 'll-swatch' });
    sw1.style.borderTopColor = PLOT_COLORS.main;
    const sw2 = el('span', { class: 'll-swatch' });
    sw2.style.borderTopColor = PLOT_COLORS.also;
    sw2.style.borderTopStyle = 'dashed';
    lg.appendChild(sw1);
    lg.appendChild(document.createTextNode(idxB ? runLabel(main, 'after') : lensLabel('logit')));
    lg.appendChild(sw2);
    lg.appendChild(document.createTextNode(idxB ? runLabel(main.compare, 'before') : lensLabel('tuned')));
    box.appendChild(lg);
  }
  if (!idx.has.target) {
    const hint =
      s.config.mode === 'server'
        ? 'Give a target token to plot its probability and rank across layers.'
        : 'No target token was given (layerlens --target " Paris" \u2026): showing the top-1 probability.';
    box.appendChild(el('p', { class: 'll-muted' }, hint));
  }
}
