// "Attention per head": for the selected query position, one small heatmap per head with a row per block
// and a column per key; hovering reads a weight.

import { byId, el } from './dom.js';
import { color, compactToken } from './helpers.js';
import { hookAt, type ShownState } from './state.js';

const SELECTED_LAYER_COLOR = '#c2410c';

export function renderAttention(s: ShownState): void {
  const box = byId('ll-attention');
  box.textContent = '';
  if (!s.sel) return;
  const d = s.shown.data;
  const pos = s.sel.pos;
  const h0 = hookAt(s, s.sel.name, pos);
  const selLayer = h0 && h0.layer !== null ? h0.layer : -1;
  const tok = d.tokens[pos] ? compactToken(d.tokens[pos].token) : '?';
  box.appendChild(
    el(
      'p',
      null,
      'Attention of the query at position ' +
        pos +
        ' ' +
        tok +
        ' over keys 0\u2013' +
        pos +
        ', one small heatmap per head: rows = blocks 0\u2013' +
        (d.model.n_layer - 1) +
        ' (top to bottom), columns = keys; colour = weight (0\u20131).',
    ),
  );
  if (!d.attention) {
    box.appendChild(el('p', { class: 'll-muted' }, 'No attention patterns in this data (capture the attn_pattern hooks).'));
    return;
  }
  const layers = s.shown.idx.attention(pos);
  if (!layers) {
    box.appendChild(el('p', { class: 'll-muted' }, 'No attention for this position: ' + (d.attention.note || 'not captured') + '.'));
    return;
  }
  const nHead = d.attention.n_head;
  const nKeys = pos + 1;
  const nL = layers.length;
  // cell sizes that keep each head's picture about 224 × 160 pixels
  const cw = Math.max(2, Math.min(14, Math.floor(224 / nKeys)));
  const ch = Math.max(3, Math.min(18, Math.floor(160 / nL)));
  const heads = el('div', { class: 'll-heads', 'data-pos': pos });
  const readout = el('div', { id: 'll-attn-readout', class: 'll-muted' }, 'Hover a head to read a weight.');
  for (let h = 0; h < nHead; h++) {
    const fig = el('figure', { class: 'll-head', 'data-head': h });
    fig.style.margin = '0';
    const c = el('canvas');
    c.width = nKeys * cw;
    c.height = nL * ch;
    c.setAttribute('data-head', String(h));
    const g = c.getContext('2d');
    if (g) {
      layers.forEach((l, li) => {
        const row = l.heads[h];
        for (let k = 0; k < nKeys; k++) {
          g.fillStyle = color(row[k]);
          g.fillRect(k * cw, li * ch, cw, ch);
        }
        if (l.layer === selLayer) {
          g.strokeStyle = SELECTED_LAYER_COLOR;
          g.lineWidth = 2;
          g.strokeRect(1, li * ch + 1, nKeys * cw - 2, ch - 2);
        }
      });
    }
    c.addEventListener('mousemove', (ev) => {
      const r = c.getBoundingClientRect();
      const k = Math.floor((ev.clientX - r.left) / cw);
      const li = Math.floor((ev.clientY - r.top) / ch);
      if (k < 0 || k >= nKeys || li < 0 || li >= nL) return;
      const w = layers[li].heads[h][k];
      readout.textContent =
        'head ' + h + ', block ' + layers[li].layer + ': key ' + k + ' ' + compactToken(d.tokens[k].token) + ' \u2190 weight ' + w.toFixed(4);
    });
    fig.appendChild(c);
    fig.appendChild(el('figcaption', null, 'head ' + h));
    heads.appendChild(fig);
  }
  box.appendChild(heads);
  box.appendChild(readout);
}
