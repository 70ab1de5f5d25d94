// A lens row's card (top-k with bars, target and metrics, the other run on a before/after page), shown in
// the tooltip on hover and pinned under "Selected cell" on click.

import type { PageHook } from '../page-data.js';
import { byId, el, quote } from './dom.js';
import { compactToken, diffValue, formatNats, formatProb } from './helpers.js';
import { hookAt, lensLabel, runLabel, type RunView, type ShownState } from './state.js';

/** h's card; `view` is the heatmap it belongs to (default the main one). */
export function hookCard(s: ShownState, h: PageHook, view: RunView = s.shown): HTMLElement {
  const { data: d, idxA, idxB } = view;
  const main = s.shown.main;
  const card = el('div', { class: 'll-card', 'data-hook': h.name, 'data-pos': h.position });
  if (view.lens) card.setAttribute('data-lens', view.lens);
  const tok = d.tokens[h.position] ? d.tokens[h.position].token : '?';
  const title = el('div', { class: 'll-card-title' });
  title.appendChild(document.createTextNode(h.name + ' \u00b7 position ' + h.position + ' '));
  title.appendChild(el('span', { class: 'll-tok' }, compactToken(tok)));
  card.appendChild(title);
  if (view.lens) {
    const how =
      view.lens === 'logit'
        ? ''
        : h.lens === 'tuned'
          ? ': translated (h + A\u00b7h + b) before ln_f and the unembedding'
          : ': no translator here, the logit lens';
    card.appendChild(el('div', { class: 'll-lens-note' }, lensLabel(view.lens) + how));
  }
  const table = el('table', { class: 'll-topk' });
  (h.top ?? []).forEach((t, j) => {
    const tr = el('tr');
    tr.appendChild(el('td', { class: 'll-muted' }, j + 1));
    tr.appendChild(el('td', { class: 'll-tok', 'data-id': t.id, title: quote(t.token) + ' (id ' + t.id + ')' }, compactToken(t.token)));
    tr.appendChild(el('td', { class: 'll-prob' }, formatProb(t.prob)));
    const bar = el('td', { class: 'll-bar' });
    const span = el('span');
    span.style.width = Math.max(1, Math.round(t.prob * 100)) + '%';
    bar.appendChild(span);
    tr.appendChild(bar);
    table.appendChild(tr);
  });
  card.appendChild(table);
  const parts: string[] = [];
  if (h.target)
    parts.push(
      'target ' + compactToken(h.target.token) + ': rank ' + h.target.rank + ', p ' + formatProb(h.target.prob) + ', logit ' + h.target.logit.toFixed(3),
    );
  if (typeof h.entropy === 'number') parts.push('entropy ' + formatNats(h.entropy) + ' nats');
  if (typeof h.kl === 'number') parts.push('KL(final \u2016 this) ' + formatNats(h.kl) + ' nats');
  if (parts.length) card.appendChild(el('div', { class: 'll-metrics' }, parts.join(' \u00b7 ')));
  if (idxB) {
    const otherWhich = s.which === 'before' ? 'after' : 'before';
    const o = (otherWhich === 'after' ? idxA : idxB).at(h.name, h.position);
    const line = el('div', { class: 'll-other' });
    if (o && o.top && o.top.length) {
      line.appendChild(document.createTextNode(runLabel(otherWhich === 'after' ? main : main.compare, otherWhich) + ': top-1 '));
      line.appendChild(el('span', { class: 'll-tok' }, compactToken(o.top[0].token)));
      const change = diffValue(idxA.at(h.name, h.position), idxB.at(h.name, h.position)).text;
      line.appendChild(document.createTextNode(' p ' + formatProb(o.top[0].prob) + ' \u00b7 after \u2212 before: ' + change));
    }
    card.appendChild(line);
  }
  return card;
}

/** The tooltip with h's card, next to the pointer and inside the window. */
export function showTip(s: ShownState, h: PageHook, ev: MouseEvent, view: RunView = s.shown): void {
  const tip = byId('ll-tip');
  tip.textContent = '';
  tip.appendChild(hookCard(s, h, view));
  tip.hidden = false;
  const pad = 14;
  const w = tip.offsetWidth;
  const hgt = tip.offsetHeight;
  let x = ev.clientX + pad;
  let y = ev.clientY + pad;
  if (x + w > window.innerWidth - 4) x = Math.max(4, ev.clientX - w - pad);
  if (y + hgt > window.innerHeight - 4) y = Math.max(4, ev.clientY - hgt - pad);
  tip.style.left = x + 'px';
  tip.style.top = y + 'px';
}

export function hideTip(): void {
  byId('ll-tip').hidden = true;
}

export function renderDetails(s: ShownState): void {
  const box = byId('ll-details');
  box.textContent = '';
  const h = s.sel && hookAt(s, s.sel.name, s.sel.pos);
  if (!h) {
    box.appendChild(el('p', { class: 'll-muted' }, 'Click a cell to pin its top-k here.'));
    return;
  }
  const second = s.shown.second;
  const h2 = second && s.sel && hookAt(s, s.sel.name, s.sel.pos, second);
  if (!second || !h2) {
    box.appendChild(hookCard(s, h));
    return;
  }
  // both lenses: their cards side by side
  const pair = el('div', { class: 'll-card-pair' });
  pair.appendChild(hookCard(s, h));
  pair.appendChild(hookCard(s, h2, second));
  box.appendChild(pair);
}
