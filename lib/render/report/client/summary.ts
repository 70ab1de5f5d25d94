// The line above the heatmap (model, prompt size, prediction, target; both runs on a before/after page)
// and the controls that depend on the data (run switch, hook kinds, colourings the data allows).

import type { HookKind } from '../../../types.js';
import { byId, el } from './dom.js';
import { compactToken, formatProb, isColorBy, METRICS } from './helpers.js';
import { runLabel, type ShownState, type Which } from './state.js';

export function renderSummary(s: ShownState): void {
  const { data: d, main, idxB } = s.shown;
  const m = d.model;
  const box = byId('ll-summary');
  box.textContent = '';
  const p1 = el('div');
  p1.appendChild(el('strong', null, m.name));
  p1.appendChild(
    document.createTextNode(
      ' \u2014 ' +
        m.n_layer +
        ' layers, n_embd ' +
        m.n_embd +
        ', ' +
        m.n_head +
        ' heads, ' +
        m.dtype +
        '; prompt of ' +
        d.tokens.length +
        ' tokens; prediction after the last position: ',
    ),
  );
  p1.appendChild(el('span', { class: 'll-tok' }, compactToken(d.prediction.token)));
  p1.appendChild(document.createTextNode(' (p ' + formatProb(d.prediction.prob) + ')'));
  if (d.target) {
    p1.appendChild(document.createTextNode('; target '));
    p1.appendChild(el('span', { class: 'll-tok' }, compactToken(d.target.token)));
    p1.appendChild(document.createTextNode(' (id ' + d.target.id + ')'));
  }
  box.appendChild(p1);
  if (idxB && main.compare) {
    const p2 = el('div', { class: 'll-compare-summary' });
    p2.appendChild(el('strong', null, 'Showing: ' + runLabel(d, s.which) + '.'));
    const runs: [typeof main, Which][] = [
      [main, 'after'],
      [main.compare, 'before'],
    ];
    for (const [run, which] of runs) {
      p2.appendChild(document.createTextNode(' ' + runLabel(run, which) + ': prediction '));
      p2.appendChild(el('span', { class: 'll-tok' }, compactToken(run.prediction.token)));
      p2.appendChild(document.createTextNode(' (p ' + formatProb(run.prediction.prob) + ').'));
    }
    box.appendChild(p2);
  }
  if (main.tuned) {
    box.appendChild(
      el(
        'div',
        { class: 'll-lens-summary' },
        'Logit lens and tuned lens of the same run: the tuned lens translates embed and every block\u2019s resid_post but the last ' +
          '(h + A\u00b7h + b) before the same ln_f and unembedding; every other row, and the last block, is the logit lens in both.',
      ),
    );
  }
  if (s.config.mode === 'report') box.appendChild(el('div', { class: 'll-prompt' }, d.prompt));
}

/** The kinds the menu offers: the viewer asks the server for any lensed kind, the report has its own. */
export function menuKinds(s: ShownState): readonly HookKind[] {
  return s.config.mode === 'server' ? s.config.kinds.filter((k) => k !== 'embed') : s.shown.idx.kinds;
}

export function renderControls(s: ShownState): void {
  const { main, idx, idxB } = s.shown;
  const which = byId<HTMLSelectElement>('ll-which');
  byId('ll-which-wrap').hidden = !idxB;
  if (idxB) {
    which.options[0].textContent = runLabel(main, 'after');
    which.options[1].textContent = runLabel(main.compare, 'before');
    which.value = s.which;
  }
  if (main.tuned) byId<HTMLSelectElement>('ll-lens').value = s.lens;
  const kind = byId<HTMLSelectElement>('ll-kind');
  kind.textContent = '';
  for (const k of menuKinds(s)) kind.appendChild(el('option', { value: k }, k));
  kind.value = s.kind;
  const metric = byId<HTMLSelectElement>('ll-metric');
  for (const o of Array.from(metric.options)) {
    const need = isColorBy(o.value) ? METRICS[o.value].needs : null;
    o.disabled = !!need && !idx.has[need];
  }
  metric.value = s.metric;
}
