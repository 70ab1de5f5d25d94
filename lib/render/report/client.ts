// The browser side of the HTML report and the web viewer, as source text: ONE renderer for both.
// lib/render/report/page.ts inlines CLIENT_CSS and CLIENT_JS into the page; the report embeds its data as JSON
// in <script type="application/json" id="ll-data">, the viewer (lib/server/server.ts) fetches the same JSON
// from POST /api/lens. Plain DOM code, no framework, no network at view time except the viewer's own
// /api/lens. Token text only ever reaches the page through textContent / setAttribute, never as HTML.
//
// The script is written without template literals (it lives inside one) and must never contain the
// characters "</script" (page.ts checks). Its pure helpers are exposed as window.layerlens so that tests
// can run them in node:vm without a DOM; the DOM part starts only when `document` exists.

export const CLIENT_CSS = String.raw`
:root { --fg: #1b1f24; --muted: #5b6470; --line: #d8dee4; --bg: #fff; --accent: #c2410c; --sel: #111; }
* { box-sizing: border-box; }
[hidden] { display: none !important; }
body { margin: 0; padding: 16px 20px 40px; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
h1 { font-size: 18px; margin: 0 0 4px; }
h2 { font-size: 15px; margin: 22px 0 8px; }
.ll-banner { margin: 8px 0; padding: 8px 12px; border: 2px solid #b91c1c; background: #fef2f2; color: #7f1d1d; font-weight: 600; border-radius: 4px; }
.ll-muted { color: var(--muted); }
.ll-mono, .ll-tok, .ll-heatmap td, .ll-heatmap th.ll-col, #ll-prompt, .ll-prompt { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
#ll-form { display: grid; grid-template-columns: 1fr auto; gap: 8px 12px; max-width: 980px; margin: 10px 0; }
#ll-prompt { width: 100%; min-height: 84px; font-size: 13px; padding: 6px; resize: vertical; }
.ll-form-side { display: flex; flex-direction: column; gap: 6px; min-width: 200px; }
.ll-form-side label, .ll-controls label { font-size: 12px; color: var(--muted); display: flex; flex-direction: column; gap: 2px; }
.ll-controls { display: flex; flex-wrap: wrap; gap: 14px; align-items: end; margin: 10px 0; }
.ll-controls select { align-self: flex-start; min-width: 11em; }
input, select, button, textarea { font: inherit; }
button { padding: 6px 14px; cursor: pointer; }
#ll-status { min-height: 20px; color: var(--muted); }
#ll-status.ll-error { color: #b91c1c; font-weight: 600; }
.ll-prompt { white-space: pre-wrap; background: #f6f8fa; border: 1px solid var(--line); padding: 6px 8px; border-radius: 4px; max-width: 980px; margin: 6px 0; }
#ll-summary { margin: 6px 0; }
.ll-heatmap-wrap { overflow: auto; max-width: 100%; border: 1px solid var(--line); border-radius: 4px; }
.ll-heatmap { border-collapse: collapse; font-size: 12px; }
.ll-heatmap th, .ll-heatmap td { border: 1px solid #fff; padding: 2px 3px; max-width: 80px; min-width: 24px; overflow: hidden; text-overflow: ellipsis; white-space: pre; }
.ll-heatmap thead th { position: sticky; top: 0; background: #f6f8fa; z-index: 1; font-weight: 600; }
.ll-heatmap th.ll-row { position: sticky; left: 0; background: #f6f8fa; text-align: right; font-weight: 600; z-index: 1; }
.ll-heatmap th.ll-corner { left: 0; z-index: 2; color: var(--muted); font-weight: 500; }
.ll-heatmap td { cursor: pointer; text-align: center; }
.ll-heatmap td.ll-hit { text-decoration: underline; text-decoration-thickness: 2px; font-weight: 700; }
.ll-heatmap td.ll-sel { outline: 2px solid var(--accent); outline-offset: -2px; }
.ll-heatmap th.ll-col.ll-sel { color: var(--accent); }
.ll-legend { display: flex; align-items: center; gap: 8px; margin: 8px 0; font-size: 12px; color: var(--muted); }
.ll-legend .ll-ramp { width: 220px; height: 12px; border: 1px solid var(--line); }
.ll-panels { display: flex; flex-wrap: wrap; gap: 28px; align-items: flex-start; }
.ll-card { min-width: 260px; }
.ll-card-title { font-weight: 600; margin-bottom: 4px; }
.ll-topk { border-collapse: collapse; font-size: 12px; }
.ll-topk td { padding: 1px 6px 1px 0; white-space: pre; }
.ll-topk td.ll-prob { text-align: right; font-variant-numeric: tabular-nums; }
.ll-bar { width: 80px; }
.ll-bar span { display: block; height: 8px; background: #2171b5; }
.ll-metrics, .ll-other { margin-top: 4px; font-size: 12px; color: var(--muted); }
#ll-tip { position: fixed; z-index: 10; background: #fff; border: 1px solid #8c959f; box-shadow: 0 4px 14px rgba(0,0,0,.18); padding: 8px 10px; border-radius: 4px; pointer-events: none; max-width: 420px; }
.ll-plots { display: flex; flex-wrap: wrap; gap: 16px; }
.ll-plot-legend { font-size: 12px; margin: 4px 0; }
.ll-plot-legend .ll-swatch { display: inline-block; width: 22px; height: 0; border-top: 2px solid; vertical-align: middle; margin: 0 4px 0 10px; }
#ll-which-wrap select { font-weight: 600; }
.ll-plot text { font-size: 10px; fill: var(--muted); font-family: system-ui, sans-serif; }
.ll-plot .ll-plot-title { font-size: 12px; fill: var(--fg); font-weight: 600; }
.ll-heads { display: flex; flex-wrap: wrap; gap: 14px; }
.ll-head figcaption { font-size: 12px; color: var(--muted); }
.ll-head canvas { border: 1px solid var(--line); image-rendering: pixelated; display: block; }
#ll-attn-readout { min-height: 20px; font-size: 12px; }
`;

export const CLIENT_JS = String.raw`
(function () {
  'use strict';
  var LL = {};

  // ---- pure helpers (also used by the tests through window.layerlens) ----

  // Same rule as compactToken in lib/render/view.ts: spaces as a middle dot, control characters escaped.
  LL.compactToken = function (token) {
    var out = '';
    for (var ch of String(token)) {
      var c = ch.codePointAt(0);
      if (ch === ' ') out += '\u00b7';
      else if (ch === '\n') out += '\\n';
      else if (ch === '\r') out += '\\r';
      else if (ch === '\t') out += '\\t';
      else if (c < 0x20 || (c >= 0x7f && c <= 0xa0) || c === 0xad || c === 0x2028 || c === 0x2029 || (c >= 0x200b && c <= 0x200f) || c === 0xfeff) {
        out += '\\u' + c.toString(16).padStart(4, '0');
      } else out += ch;
    }
    return out;
  };

  // Same as formatProb in lib/render/format.ts.
  LL.formatProb = function (p) {
    if (typeof p !== 'number' || !isFinite(p)) return String(p);
    if (p >= 0.0005 || p === 0) return p.toFixed(3);
    var parts = p.toExponential(0).split('e');
    var e = Number(parts[1]);
    return parts[0] + 'e' + (e < 0 ? '-' : '+') + String(Math.abs(e)).padStart(2, '0');
  };

  LL.formatNats = function (x) {
    return typeof x === 'number' && isFinite(x) ? x.toFixed(3) : 'n/a';
  };

  // ColorBrewer "Blues": light = low, dark = high.
  var RAMP = [[247, 251, 255], [222, 235, 247], [198, 219, 239], [158, 202, 225], [107, 174, 214], [66, 146, 198], [33, 113, 181], [8, 81, 156], [8, 48, 107]];
  LL.color = function (v) {
    if (typeof v !== 'number' || !isFinite(v)) return 'rgb(238, 238, 238)';
    v = Math.min(1, Math.max(0, v));
    var x = v * (RAMP.length - 1);
    var i = Math.min(RAMP.length - 2, Math.floor(x));
    var f = x - i;
    var a = RAMP[i], b = RAMP[i + 1];
    var c = [0, 1, 2].map(function (k) { return Math.round(a[k] + (b[k] - a[k]) * f); });
    return 'rgb(' + c[0] + ', ' + c[1] + ', ' + c[2] + ')';
  };
  LL.textColor = function (v) { return typeof v === 'number' && v > 0.55 ? '#ffffff' : '#111111'; };

  // ColorBrewer "RdBu" for differences, v in -1..1: red = lower after the intervention, blue = higher.
  var DIV = [[103, 0, 31], [178, 24, 43], [214, 96, 77], [244, 165, 130], [253, 219, 199], [247, 247, 247], [209, 229, 240], [146, 197, 222], [67, 147, 195], [33, 102, 172], [5, 48, 97]];
  LL.divColor = function (v) {
    if (typeof v !== 'number' || !isFinite(v)) return 'rgb(238, 238, 238)';
    var x = (Math.min(1, Math.max(-1, v)) + 1) / 2 * (DIV.length - 1);
    var i = Math.min(DIV.length - 2, Math.floor(x));
    var f = x - i;
    var a = DIV[i], b = DIV[i + 1];
    var c = [0, 1, 2].map(function (k) { return Math.round(a[k] + (b[k] - a[k]) * f); });
    return 'rgb(' + c[0] + ', ' + c[1] + ', ' + c[2] + ')';
  };
  LL.divTextColor = function (v) { return typeof v === 'number' && Math.abs(v) > 0.6 ? '#ffffff' : '#111111'; };

  LL.formatSigned = function (d) {
    if (typeof d !== 'number' || !isFinite(d)) return 'n/a';
    return (d < 0 ? '\u2212' : '+') + LL.formatProb(Math.abs(d));
  };

  // The change of one lens row from the run before an intervention (b) to the run after it (a):
  // with a tracked target, p_after(target) - p_before(target), exactly; otherwise the change in the
  // probability of the after-run's top-1 token t, p_after(t) - p_before(t). When t is not in the
  // before-run's top-k, p_before(t) is only known to be below the k-th probability, so d is a lower
  // bound (exact: false). {d: NaN} when either row is missing.
  LL.diffValue = function (a, b) {
    if (!a || !b || !a.top || !b.top || !a.top.length || !b.top.length) return { d: NaN, exact: false, text: 'n/a' };
    if (a.target && b.target) {
      var dt = a.target.prob - b.target.prob;
      return { d: dt, exact: true, text: 'p(target) ' + LL.formatSigned(dt) };
    }
    var t = a.top[0];
    for (var i = 0; i < b.top.length; i++) {
      if (b.top[i].id === t.id) {
        var d = t.prob - b.top[i].prob;
        return { d: d, exact: true, text: 'p(' + LL.compactToken(t.token) + ') ' + LL.formatSigned(d) };
      }
    }
    var lo = t.prob - b.top[b.top.length - 1].prob;
    return { d: lo, exact: false, text: 'p(' + LL.compactToken(t.token) + ') \u2265 ' + LL.formatSigned(lo) + ' (not in the other top-' + b.top.length + ')' };
  };

  // What a heatmap cell can be coloured by.
  LL.METRICS = {
    prob: { label: 'top-1 probability', needs: null },
    rank: { label: 'target rank (log scale)', needs: 'target' },
    kl: { label: 'KL(final \u2016 layer), nats', needs: 'kl' },
    entropy: { label: 'entropy, nats', needs: 'entropy' },
    diff: { label: 'difference after \u2212 before', needs: 'compare' }
  };

  // {v: 0..1 for the colour (NaN: none), text: the value in words} of a lens row under a metric.
  LL.cellValue = function (hook, metric, ctx) {
    if (!hook || !hook.top || !hook.top.length) return { v: NaN, text: 'n/a' };
    if (metric === 'rank') {
      if (!hook.target) return { v: NaN, text: 'no target' };
      return { v: 1 - Math.log(hook.target.rank) / Math.log(ctx.nVocab), text: 'rank ' + hook.target.rank };
    }
    if (metric === 'kl') {
      if (typeof hook.kl !== 'number') return { v: NaN, text: 'n/a' };
      return { v: ctx.maxKL > 0 ? hook.kl / ctx.maxKL : 0, text: 'KL ' + LL.formatNats(hook.kl) };
    }
    if (metric === 'entropy') {
      if (typeof hook.entropy !== 'number') return { v: NaN, text: 'n/a' };
      return { v: hook.entropy / Math.log(ctx.nVocab), text: 'entropy ' + LL.formatNats(hook.entropy) };
    }
    return { v: hook.top[0].prob, text: 'p ' + LL.formatProb(hook.top[0].prob) };
  };

  var KIND_ORDER = ['resid_post', 'resid_mid', 'mlp_out', 'attn_out', 'embed'];

  // Lookup structure over a report's data: lensed rows by kind, layer and position; attention by position.
  LL.index = function (data) {
    var byKind = {};
    var maxKL = 0;
    var hasTarget = false, hasKL = false, hasEntropy = false;
    data.hooks.forEach(function (h) {
      if (!h.top) return;
      var k = byKind[h.kind] || (byKind[h.kind] = {});
      var row = k[h.name] || (k[h.name] = { name: h.name, layer: h.layer, label: h.layer === null ? 'embed' : 'block ' + h.layer, cells: {} });
      row.cells[h.position] = h;
      if (h.target) hasTarget = true;
      if (typeof h.kl === 'number') { hasKL = true; if (h.kl > maxKL) maxKL = h.kl; }
      if (typeof h.entropy === 'number') hasEntropy = true;
    });
    var kinds = KIND_ORDER.filter(function (k) { return k !== 'embed' && byKind[k]; });
    if (!kinds.length && byKind.embed) kinds = ['embed'];
    var byName = {};
    Object.keys(byKind).forEach(function (k) { Object.keys(byKind[k]).forEach(function (n) { byName[n] = byKind[k][n]; }); });
    var attnAt = {};
    if (data.attention) data.attention.positions.forEach(function (p, i) { attnAt[p] = i; });
    return {
      kinds: kinds,
      has: { target: hasTarget, kl: hasKL, entropy: hasEntropy, compare: !!data.compare },
      // the lens row of hook "name" at position "pos", of any kind
      at: function (name, pos) { var r = byName[name]; return r ? r.cells[pos] : undefined; },
      ctx: { nVocab: data.model.n_vocab, maxKL: maxKL },
      // embed first, then the kind's rows by layer
      rows: function (kind) {
        var out = [];
        if (byKind.embed && kind !== 'embed') out.push(byKind.embed.embed);
        var k = byKind[kind] || {};
        Object.keys(k).map(function (n) { return k[n]; }).sort(function (a, b) { return (a.layer === null ? -1 : a.layer) - (b.layer === null ? -1 : b.layer); }).forEach(function (r) { out.push(r); });
        return out;
      },
      attention: function (pos) {
        if (!data.attention || attnAt[pos] === undefined) return null;
        var i = attnAt[pos];
        return data.attention.layers.map(function (l) { return { layer: l.layer, heads: l.weights[i] }; });
      }
    };
  };

  if (typeof window !== 'undefined') window.layerlens = LL;
  if (typeof document === 'undefined') return;

  // ---- DOM ----

  function $(id) { return document.getElementById(id); }
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (k) { if (attrs[k] !== undefined && attrs[k] !== null) e.setAttribute(k, String(attrs[k])); });
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  var SVG = 'http://www.w3.org/2000/svg';
  function svg(tag, attrs, text) {
    var e = document.createElementNS(SVG, tag);
    if (attrs) Object.keys(attrs).forEach(function (k) { e.setAttribute(k, String(attrs[k])); });
    if (text !== undefined) e.textContent = String(text);
    return e;
  }
  function readJSON(id) {
    var s = $(id);
    if (!s || !s.textContent || !s.textContent.trim()) return null;
    return JSON.parse(s.textContent);
  }
  function quote(t) { return JSON.stringify(t); }

  var config = readJSON('ll-config') || { mode: 'report' };
  // main: the data as given (the after-run when it has a "compare"); data/idx: the run shown; which: 'after'
  // or 'before' (the compare run); idxA/idxB: the after- and before-runs' indexes (idxB null without compare).
  var state = { main: null, data: null, idx: null, idxA: null, idxB: null, which: 'after', kind: config.kind || null, metric: LL.METRICS[config.colorBy] ? config.colorBy : 'prob', sel: null, diffScale: 0 };

  function setStatus(text, isError) {
    var s = $('ll-status');
    s.textContent = text || '';
    s.className = isError ? 'll-error' : '';
  }

  function runLabel(d, which) { return d && d.label ? d.label : which; }

  function showRun() {
    var before = state.which === 'before' && state.idxB;
    state.data = before ? state.main.compare : state.main;
    state.idx = before ? state.idxB : state.idxA;
    $('ll-heatmap').setAttribute('data-run', state.idxB ? state.which : 'main');
  }

  function setData(data) {
    state.main = data;
    state.idxA = LL.index(data);
    state.idxB = data.compare ? LL.index(data.compare) : null;
    if (state.idxB) state.idxB.has.compare = true;
    else state.which = 'after';
    showRun();
    if (state.idx.kinds.indexOf(state.kind) < 0) state.kind = state.idx.kinds[0] || 'resid_post';
    var need = LL.METRICS[state.metric].needs;
    if (need && !state.idx.has[need]) state.metric = 'prob';
    var rows = state.idx.rows(state.kind);
    var last = data.positions[data.positions.length - 1];
    state.sel = rows.length ? { name: rows[rows.length - 1].name, pos: last } : null;
    document.body.setAttribute('data-ready', 'false');
    renderAll();
    document.body.setAttribute('data-ready', 'true');
  }

  function renderAll() {
    renderSummary();
    renderControls();
    renderHeatmap();
    renderLegend();
    renderSelection();
  }

  function renderSummary() {
    var d = state.data, m = d.model;
    var box = $('ll-summary');
    box.textContent = '';
    var p1 = el('div');
    p1.appendChild(el('strong', null, m.name));
    p1.appendChild(document.createTextNode(' \u2014 ' + m.n_layer + ' layers, n_embd ' + m.n_embd + ', ' + m.n_head + ' heads, ' + m.dtype + '; prompt of ' + d.tokens.length + ' tokens; prediction after the last position: '));
    p1.appendChild(el('span', { class: 'll-tok' }, LL.compactToken(d.prediction.token)));
    p1.appendChild(document.createTextNode(' (p ' + LL.formatProb(d.prediction.prob) + ')'));
    if (d.target) {
      p1.appendChild(document.createTextNode('; target '));
      p1.appendChild(el('span', { class: 'll-tok' }, LL.compactToken(d.target.token)));
      p1.appendChild(document.createTextNode(' (id ' + d.target.id + ')'));
    }
    box.appendChild(p1);
    if (state.idxB) {
      var p2 = el('div', { class: 'll-compare-summary' });
      p2.appendChild(el('strong', null, 'Showing: ' + runLabel(d, state.which) + '.'));
      [[state.main, 'after'], [state.main.compare, 'before']].forEach(function (r) {
        p2.appendChild(document.createTextNode(' ' + runLabel(r[0], r[1]) + ': prediction '));
        p2.appendChild(el('span', { class: 'll-tok' }, LL.compactToken(r[0].prediction.token)));
        p2.appendChild(document.createTextNode(' (p ' + LL.formatProb(r[0].prediction.prob) + ').'));
      });
      box.appendChild(p2);
    }
    if (config.mode === 'report') {
      box.appendChild(el('div', { class: 'll-prompt' }, d.prompt));
    }
  }

  function renderControls() {
    var wrap = $('ll-which');
    $('ll-which-wrap').hidden = !state.idxB;
    if (state.idxB) {
      wrap.options[0].textContent = runLabel(state.main, 'after');
      wrap.options[1].textContent = runLabel(state.main.compare, 'before');
      wrap.value = state.which;
    }
    var kind = $('ll-kind');
    kind.textContent = '';
    var kinds = config.mode === 'server' ? ['resid_post', 'resid_mid', 'mlp_out', 'attn_out'] : state.idx.kinds;
    kinds.forEach(function (k) { kind.appendChild(el('option', { value: k }, k)); });
    kind.value = state.kind;
    var metric = $('ll-metric');
    Array.prototype.forEach.call(metric.options, function (o) {
      var need = LL.METRICS[o.value].needs;
      o.disabled = !!need && !state.idx.has[need];
    });
    metric.value = state.metric;
  }

  function hookAt(name, pos) {
    var rows = state.idx.rows(state.kind);
    for (var i = 0; i < rows.length; i++) if (rows[i].name === name) return rows[i].cells[pos];
    return undefined;
  }

  function renderHeatmap() {
    var d = state.data;
    var table = $('ll-heatmap');
    table.textContent = '';
    var rows = state.idx.rows(state.kind);
    var thead = el('thead');
    var hr = el('tr');
    hr.appendChild(el('th', { class: 'll-corner ll-row', scope: 'col' }, state.kind));
    d.positions.forEach(function (p) {
      var tok = d.tokens[p] ? d.tokens[p].token : '?';
      var th = el('th', { class: 'll-col', scope: 'col', 'data-pos': p, 'data-token': tok, title: 'position ' + p + ': ' + quote(tok) }, LL.compactToken(tok));
      if (state.sel && state.sel.pos === p) th.classList.add('ll-sel');
      hr.appendChild(th);
    });
    thead.appendChild(hr);
    table.appendChild(thead);
    var tbody = el('tbody');
    var targetId = d.target ? d.target.id : -1;
    var diff = state.metric === 'diff' && state.idxB;
    var diffs = {};
    if (diff) {
      // one scale for the whole heatmap: the largest |after - before|
      var scale = 0;
      rows.forEach(function (row) {
        d.positions.forEach(function (p) {
          var dv = LL.diffValue(state.idxA.at(row.name, p), state.idxB.at(row.name, p));
          diffs[row.name + '@' + p] = dv;
          if (isFinite(dv.d) && Math.abs(dv.d) > scale) scale = Math.abs(dv.d);
        });
      });
      state.diffScale = scale;
    }
    rows.forEach(function (row) {
      var tr = el('tr', { 'data-hook': row.name });
      tr.appendChild(el('th', { class: 'll-row', scope: 'row', title: row.name }, row.label));
      d.positions.forEach(function (p) {
        var h = row.cells[p];
        if (!h) { tr.appendChild(el('td', { 'data-pos': p })); return; }
        var td = el('td', { 'data-hook': row.name, 'data-pos': p }, LL.compactToken(h.top[0].token));
        if (diff) {
          var dv = diffs[row.name + '@' + p];
          var v = state.diffScale > 0 ? dv.d / state.diffScale : 0;
          td.setAttribute('data-diff', isFinite(dv.d) ? String(dv.d) : 'NaN');
          td.style.background = LL.divColor(v);
          td.style.color = LL.divTextColor(v);
        } else {
          var val = LL.cellValue(h, state.metric, state.idx.ctx);
          td.style.background = LL.color(val.v);
          td.style.color = LL.textColor(val.v);
        }
        if (h.top[0].id === targetId) td.classList.add('ll-hit');
        if (state.sel && state.sel.name === row.name && state.sel.pos === p) td.classList.add('ll-sel');
        tr.appendChild(td);
      });
      tbody.appendChild(tr);
    });
    table.appendChild(tbody);
  }

  function cellFromEvent(ev) {
    var t = ev.target;
    while (t && t.tagName !== 'TD') { if (t === ev.currentTarget) return null; t = t.parentNode; }
    if (!t || !t.getAttribute('data-hook')) return null;
    return { name: t.getAttribute('data-hook'), pos: Number(t.getAttribute('data-pos')), td: t };
  }

  function hookCard(h) {
    var d = state.data;
    var card = el('div', { class: 'll-card', 'data-hook': h.name, 'data-pos': h.position });
    var tok = d.tokens[h.position] ? d.tokens[h.position].token : '?';
    var title = el('div', { class: 'll-card-title' });
    title.appendChild(document.createTextNode(h.name + ' \u00b7 position ' + h.position + ' '));
    title.appendChild(el('span', { class: 'll-tok' }, LL.compactToken(tok)));
    card.appendChild(title);
    var table = el('table', { class: 'll-topk' });
    h.top.forEach(function (t, j) {
      var tr = el('tr');
      tr.appendChild(el('td', { class: 'll-muted' }, j + 1));
      tr.appendChild(el('td', { class: 'll-tok', 'data-id': t.id, title: quote(t.token) + ' (id ' + t.id + ')' }, LL.compactToken(t.token)));
      tr.appendChild(el('td', { class: 'll-prob' }, LL.formatProb(t.prob)));
      var bar = el('td', { class: 'll-bar' });
      var span = el('span');
      span.style.width = Math.max(1, Math.round(t.prob * 100)) + '%';
      bar.appendChild(span);
      tr.appendChild(bar);
      table.appendChild(tr);
    });
    card.appendChild(table);
    var parts = [];
    if (h.target) parts.push('target ' + LL.compactToken(h.target.token) + ': rank ' + h.target.rank + ', p ' + LL.formatProb(h.target.prob) + ', logit ' + h.target.logit.toFixed(3));
    if (typeof h.entropy === 'number') parts.push('entropy ' + LL.formatNats(h.entropy) + ' nats');
    if (typeof h.kl === 'number') parts.push('KL(final \u2016 this) ' + LL.formatNats(h.kl) + ' nats');
    if (parts.length) card.appendChild(el('div', { class: 'll-metrics' }, parts.join(' \u00b7 ')));
    if (state.idxB) {
      var otherWhich = state.which === 'before' ? 'after' : 'before';
      var o = (otherWhich === 'after' ? state.idxA : state.idxB).at(h.name, h.position);
      var line = el('div', { class: 'll-other' });
      if (o && o.top && o.top.length) {
        line.appendChild(document.createTextNode(runLabel(otherWhich === 'after' ? state.main : state.main.compare, otherWhich) + ': top-1 '));
        line.appendChild(el('span', { class: 'll-tok' }, LL.compactToken(o.top[0].token)));
        line.appendChild(document.createTextNode(' p ' + LL.formatProb(o.top[0].prob) + ' \u00b7 after \u2212 before: ' + LL.diffValue(state.idxA.at(h.name, h.position), state.idxB.at(h.name, h.position)).text));
      }
      card.appendChild(line);
    }
    return card;
  }

  function showTip(h, ev) {
    var tip = $('ll-tip');
    tip.textContent = '';
    tip.appendChild(hookCard(h));
    tip.hidden = false;
    var pad = 14, w = tip.offsetWidth, hgt = tip.offsetHeight;
    var x = ev.clientX + pad, y = ev.clientY + pad;
    if (x + w > window.innerWidth - 4) x = Math.max(4, ev.clientX - w - pad);
    if (y + hgt > window.innerHeight - 4) y = Math.max(4, ev.clientY - hgt - pad);
    tip.style.left = x + 'px';
    tip.style.top = y + 'px';
  }
  function hideTip() { $('ll-tip').hidden = true; }

  function renderLegend() {
    var box = $('ll-legend');
    box.textContent = '';
    var m = state.metric, ctx = state.idx.ctx;
    box.appendChild(el('span', null, 'colour: ' + LL.METRICS[m].label + ' \u2014 cell text: top-1 token (\u00b7 = space); underlined: the target'));
    var lo, hi;
    if (m === 'diff') {
      box.textContent = '';
      box.appendChild(el('span', null, 'colour: after \u2212 before, ' + (state.idx.has.target ? 'the target\u2019s probability' : 'the probability of the after-run\u2019s top-1 token (\u2265: a bound, that token is not in the before-run\u2019s top-k)') + ' \u2014 red: lower after, blue: higher after; cell text: top-1 token of the run shown'));
      var s = state.diffScale;
      var dc = document.createElement('canvas');
      dc.width = 220; dc.height = 12; dc.className = 'll-ramp';
      var dg = dc.getContext('2d');
      if (dg) for (var dx = 0; dx < 220; dx++) { dg.fillStyle = LL.divColor(dx / 219 * 2 - 1); dg.fillRect(dx, 0, 1, 12); }
      box.appendChild(el('span', null, LL.formatSigned(-s)));
      box.appendChild(dc);
      box.appendChild(el('span', null, LL.formatSigned(s)));
      return;
    }
    if (m === 'prob') { lo = '0'; hi = '1'; }
    else if (m === 'rank') { lo = 'rank ' + ctx.nVocab; hi = 'rank 1'; }
    else if (m === 'kl') { lo = '0'; hi = LL.formatNats(ctx.maxKL) + ' nats'; }
    else { lo = '0'; hi = 'ln ' + ctx.nVocab + ' = ' + Math.log(ctx.nVocab).toFixed(2) + ' nats'; }
    var c = document.createElement('canvas');
    c.width = 220; c.height = 12; c.className = 'll-ramp';
    var g = c.getContext('2d');
    if (g) for (var x = 0; x < 220; x++) { g.fillStyle = LL.color(x / 219); g.fillRect(x, 0, 1, 12); }
    box.appendChild(el('span', null, lo));
    box.appendChild(c);
    box.appendChild(el('span', null, hi));
  }

  function renderSelection() {
    renderDetails();
    renderPlots();
    renderAttention();
  }

  function renderDetails() {
    var box = $('ll-details');
    box.textContent = '';
    var h = state.sel && hookAt(state.sel.name, state.sel.pos);
    if (!h) { box.appendChild(el('p', { class: 'll-muted' }, 'Click a cell to pin its top-k here.')); return; }
    box.appendChild(hookCard(h));
  }

  // A small line plot: values per layer row; opts: {title, log, min, max, fmt, sel, also}; opts.also: a
  // second series (the before-run on a before/after page), drawn dashed in another colour.
  function linePlot(labels, values, opts) {
    var W = 340, H = 180, L = 52, R = 10, T = 22, B = 34;
    var s = svg('svg', { class: 'll-plot', width: W, height: H, viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': opts.title });
    s.appendChild(svg('text', { x: 4, y: 14, class: 'll-plot-title' }, opts.title));
    var tr = function (v) { return opts.log ? Math.log10(Math.max(v, 1)) : v; };
    var lo = tr(opts.min), hi = tr(opts.max);
    if (!(hi > lo)) hi = lo + 1;
    var n = values.length;
    var X = function (i) { return L + (n <= 1 ? 0 : (i * (W - L - R)) / (n - 1)); };
    var Y = function (v) { var t = (tr(v) - lo) / (hi - lo); if (opts.invert) t = 1 - t; return T + (1 - t) * (H - T - B); };
    s.appendChild(svg('line', { x1: L, y1: T, x2: L, y2: H - B, stroke: '#8c959f' }));
    s.appendChild(svg('line', { x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: '#8c959f' }));
    (opts.ticks || [opts.min, opts.max]).forEach(function (v) {
      var y = Y(v);
      s.appendChild(svg('line', { x1: L - 3, y1: y, x2: W - R, y2: y, stroke: '#eef1f4' }));
      s.appendChild(svg('text', { x: L - 5, y: y + 3, 'text-anchor': 'end' }, opts.fmt(v)));
    });
    var step = Math.max(1, Math.ceil(n / 8));
    labels.forEach(function (lab, i) {
      if (i % step && i !== n - 1) return;
      s.appendChild(svg('text', { x: X(i), y: H - B + 12, 'text-anchor': 'middle' }, lab));
    });
    s.appendChild(svg('text', { x: (L + W - R) / 2, y: H - 4, 'text-anchor': 'middle' }, 'layer (embed, then block 0, 1, \u2026)'));
    var line = function (vals, attrs) {
      var pts = [];
      vals.forEach(function (v, i) { if (typeof v === 'number' && isFinite(v)) pts.push(X(i).toFixed(1) + ',' + Y(v).toFixed(1)); });
      var a = { points: pts.join(' '), fill: 'none', 'stroke-width': 2 };
      Object.keys(attrs).forEach(function (k) { a[k] = attrs[k]; });
      s.appendChild(svg('polyline', a));
    };
    if (opts.also) {
      line(opts.also, { stroke: '#e08214', 'stroke-dasharray': '5 3', 'data-run': 'before' });
      opts.also.forEach(function (v, i) {
        if (typeof v !== 'number' || !isFinite(v)) return;
        var c = svg('circle', { cx: X(i), cy: Y(v), r: 2, fill: '#e08214' });
        c.appendChild(svg('title', {}, labels[i] + ' (before): ' + opts.fmt(v)));
        s.appendChild(c);
      });
    }
    line(values, { stroke: '#2171b5', 'data-run': opts.also ? 'after' : 'main' });
    values.forEach(function (v, i) {
      if (typeof v !== 'number' || !isFinite(v)) return;
      var c = svg('circle', { cx: X(i), cy: Y(v), r: i === opts.sel ? 4.5 : 2.5, fill: i === opts.sel ? '#c2410c' : '#2171b5' });
      c.appendChild(svg('title', {}, labels[i] + ': ' + opts.fmt(v)));
      s.appendChild(c);
    });
    return s;
  }

  function renderPlots() {
    var box = $('ll-plots');
    box.textContent = '';
    var d = state.data;
    if (!state.sel) return;
    var pos = state.sel.pos;
    var rows = state.idx.rows(state.kind);
    var labels = rows.map(function (r) { return r.layer === null ? 'emb' : String(r.layer); });
    // on a before/after page: the after-run solid, the before-run dashed, whichever is shown
    var hooks = rows.map(function (r) { return state.idxB ? state.idxA.at(r.name, pos) : r.cells[pos]; });
    var hooksB = state.idxB ? rows.map(function (r) { return state.idxB.at(r.name, pos); }) : null;
    var also = function (f) { return hooksB ? hooksB.map(function (h) { return h ? f(h) : NaN; }) : undefined; };
    var selIndex = -1;
    rows.forEach(function (r, i) { if (r.name === state.sel.name) selIndex = i; });
    var tok = d.tokens[pos] ? LL.compactToken(d.tokens[pos].token) : '?';
    var where = ' at position ' + pos + ' ' + tok + ' (' + state.kind + ')';
    var plots = el('div', { class: 'll-plots' });
    if (state.idx.has.target) {
      var tname = LL.compactToken(d.target.token);
      plots.appendChild(linePlot(labels, hooks.map(function (h) { return h && h.target ? h.target.prob : NaN; }),
        { title: 'p(' + tname + ')' + where, min: 0, max: 1, ticks: [0, 0.25, 0.5, 0.75, 1], fmt: function (v) { return v.toFixed(2); }, sel: selIndex, also: also(function (h) { return h.target ? h.target.prob : NaN; }) }));
      var ticks = [1];
      for (var t = 10; t < d.model.n_vocab; t *= 10) ticks.push(t);
      ticks.push(d.model.n_vocab);
      plots.appendChild(linePlot(labels, hooks.map(function (h) { return h && h.target ? h.target.rank : NaN; }),
        { title: 'rank of ' + tname + ' (log scale)', min: 1, max: d.model.n_vocab, log: true, invert: true, ticks: ticks, fmt: function (v) { return String(Math.round(v)); }, sel: selIndex, also: also(function (h) { return h.target ? h.target.rank : NaN; }) }));
    } else {
      plots.appendChild(linePlot(labels, hooks.map(function (h) { return h ? h.top[0].prob : NaN; }),
        { title: 'top-1 probability' + where, min: 0, max: 1, ticks: [0, 0.25, 0.5, 0.75, 1], fmt: function (v) { return v.toFixed(2); }, sel: selIndex, also: also(function (h) { return h.top[0].prob; }) }));
    }
    if (state.idx.has.kl) {
      var kls = hooks.map(function (h) { return h ? h.kl : NaN; });
      var klsB = also(function (h) { return h.kl; });
      var max = Math.max.apply(null, kls.concat(klsB || []).filter(function (v) { return isFinite(v); }).concat([1e-9]));
      plots.appendChild(linePlot(labels, kls, { title: 'KL(final \u2016 layer), nats', min: 0, max: max, ticks: [0, max / 2, max], fmt: function (v) { return v.toFixed(2); }, sel: selIndex, also: klsB }));
    }
    box.appendChild(plots);
    if (state.idxB) {
      var lg = el('div', { class: 'll-plot-legend' });
      var sw1 = el('span', { class: 'll-swatch' }); sw1.style.borderTopColor = '#2171b5';
      var sw2 = el('span', { class: 'll-swatch' }); sw2.style.borderTopColor = '#e08214'; sw2.style.borderTopStyle = 'dashed';
      lg.appendChild(sw1); lg.appendChild(document.createTextNode(runLabel(state.main, 'after')));
      lg.appendChild(sw2); lg.appendChild(document.createTextNode(runLabel(state.main.compare, 'before')));
      box.appendChild(lg);
    }
    if (!state.idx.has.target) box.appendChild(el('p', { class: 'll-muted' }, config.mode === 'server' ? 'Give a target token to plot its probability and rank across layers.' : 'No target token was given (layerlens --target " Paris" \u2026): showing the top-1 probability.'));
  }

  function renderAttention() {
    var box = $('ll-attention');
    box.textContent = '';
    var d = state.data;
    if (!state.sel) return;
    var pos = state.sel.pos;
    var selLayer = -1;
    var h0 = hookAt(state.sel.name, pos);
    if (h0 && h0.layer !== null) selLayer = h0.layer;
    var tok = d.tokens[pos] ? LL.compactToken(d.tokens[pos].token) : '?';
    var title = el('p', null, 'Attention of the query at position ' + pos + ' ' + tok + ' over keys 0\u2013' + pos + ', one small heatmap per head: rows = blocks 0\u2013' + (d.model.n_layer - 1) + ' (top to bottom), columns = keys; colour = weight (0\u20131).');
    box.appendChild(title);
    if (!d.attention) { box.appendChild(el('p', { class: 'll-muted' }, 'No attention patterns in this data (capture the attn_pattern hooks).')); return; }
    var layers = state.idx.attention(pos);
    if (!layers) { box.appendChild(el('p', { class: 'll-muted' }, 'No attention for this position: ' + (d.attention.note || 'not captured') + '.')); return; }
    var nHead = d.attention.n_head, nKeys = pos + 1, nL = layers.length;
    var cw = Math.max(2, Math.min(14, Math.floor(224 / nKeys))), ch = Math.max(3, Math.min(18, Math.floor(160 / nL)));
    var heads = el('div', { class: 'll-heads', 'data-pos': pos });
    var readout = el('div', { id: 'll-attn-readout', class: 'll-muted' }, 'Hover a head to read a weight.');
    for (var h = 0; h < nHead; h++) {
      var fig = el('figure', { class: 'll-head', 'data-head': h });
      fig.style.margin = '0';
      var c = document.createElement('canvas');
      c.width = nKeys * cw; c.height = nL * ch;
      c.setAttribute('data-head', h);
      var g = c.getContext('2d');
      if (g) {
        layers.forEach(function (l, li) {
          var row = l.heads[h];
          for (var k = 0; k < nKeys; k++) { g.fillStyle = LL.color(row[k]); g.fillRect(k * cw, li * ch, cw, ch); }
          if (l.layer === selLayer) { g.strokeStyle = '#c2410c'; g.lineWidth = 2; g.strokeRect(1, li * ch + 1, nKeys * cw - 2, ch - 2); }
        });
      }
      (function (hh, canvas) {
        canvas.addEventListener('mousemove', function (ev) {
          var r = canvas.getBoundingClientRect();
          var k = Math.floor((ev.clientX - r.left) / cw), li = Math.floor((ev.clientY - r.top) / ch);
          if (k < 0 || k >= nKeys || li < 0 || li >= nL) return;
          var w = layers[li].heads[hh][k];
          readout.textContent = 'head ' + hh + ', block ' + layers[li].layer + ': key ' + k + ' ' + LL.compactToken(d.tokens[k].token) + ' \u2190 weight ' + w.toFixed(4);
        });
      })(h, c);
      fig.appendChild(c);
      fig.appendChild(el('figcaption', null, 'head ' + h));
      heads.appendChild(fig);
    }
    box.appendChild(heads);
    box.appendChild(readout);
  }

  function select(name, pos) {
    state.sel = { name: name, pos: pos };
    renderHeatmap();
    renderSelection();
  }

  // ---- wiring ----

  function init() {
    var table = $('ll-heatmap');
    table.addEventListener('mouseover', function (ev) {
      var c = cellFromEvent(ev);
      if (!c) { hideTip(); return; }
      var h = hookAt(c.name, c.pos);
      if (h) showTip(h, ev);
    });
    table.addEventListener('mousemove', function (ev) {
      var tip = $('ll-tip');
      if (tip.hidden) return;
      var c = cellFromEvent(ev);
      if (!c) return;
      var h = hookAt(c.name, c.pos);
      if (h) showTip(h, ev);
    });
    table.addEventListener('mouseleave', hideTip);
    table.addEventListener('click', function (ev) {
      var c = cellFromEvent(ev);
      if (c) select(c.name, c.pos);
    });
    $('ll-metric').addEventListener('change', function (ev) {
      state.metric = ev.target.value;
      if (!state.data) return;
      renderHeatmap();
      renderLegend();
    });
    $('ll-kind').addEventListener('change', function (ev) {
      state.kind = ev.target.value;
      if (config.mode === 'server') { if (state.data) run(); return; }
      if (state.main) setData(state.main);
    });
    $('ll-which').addEventListener('change', function (ev) {
      state.which = ev.target.value === 'before' ? 'before' : 'after';
      if (!state.main) return;
      document.body.setAttribute('data-ready', 'false');
      showRun();
      renderAll();
      document.body.setAttribute('data-ready', 'true');
    });
    if (config.mode === 'server') {
      $('ll-form').addEventListener('submit', function (ev) { ev.preventDefault(); run(); });
      $('ll-kind').value = state.kind = state.kind || 'resid_post';
    }
    var data = readJSON('ll-data');
    if (data) setData(data);
    else document.body.setAttribute('data-ready', 'idle');
  }

  var inflight = 0;
  function run() {
    var prompt = $('ll-prompt').value;
    if (!prompt) { setStatus('Enter a prompt.', true); return; }
    var body = { prompt: prompt, hooks: ['embed', state.kind || 'resid_post', 'attn_pattern'], positions: 'all', topK: Number($('ll-topk').value) || 10 };
    var t = $('ll-target').value;
    if (t !== '') body.target = /^id:[0-9]+$/.test(t) ? Number(t.slice(3)) : t;
    var ablate = $('ll-ablate').value.split(',').map(function (x) { return x.trim(); }).filter(function (x) { return x !== ''; });
    if (ablate.length) body.ablate = ablate;
    var mine = ++inflight;
    setStatus('Running\u2026');
    document.body.setAttribute('data-ready', 'false');
    var t0 = Date.now();
    fetch('api/lens', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
      .then(function (res) { return res.json().then(function (j) { return { ok: res.ok, status: res.status, json: j }; }); })
      .then(function (r) {
        if (mine !== inflight) return;
        if (!r.ok) { setStatus('Error ' + r.status + ': ' + (r.json && r.json.error ? r.json.error : 'request failed'), true); document.body.setAttribute('data-ready', 'error'); return; }
        setStatus('Done in ' + (Date.now() - t0) + ' ms.');
        setData(r.json);
      })
      .catch(function (err) {
        if (mine !== inflight) return;
        setStatus('Error: ' + err.message, true);
        document.body.setAttribute('data-ready', 'error');
      });
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
`;
