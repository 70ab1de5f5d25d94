// The page's life: read the config and (report) the embedded data or (viewer) ask POST api/lens for it,
// keep the state, re-render on every control, and set body[data-ready] ('loading', 'idle', 'false' while
// drawing, 'true' when drawn, 'error') so that tests and scripts know when the page is done.

import type { PageConfig, PageData } from '../page-data.js';
import { renderAttention } from './attention.js';
import { hideTip, renderDetails, showTip } from './cards.js';
import { indexData, type DataIndex } from './data-index.js';
import { byId, readJSON } from './dom.js';
import { cellFromEvent, renderHeatmap, renderLegend } from './heatmap.js';
import { isColorBy, METRICS } from './helpers.js';
import { renderPlots } from './plots.js';
import { hasData, hookAt, lensLabel, setStatus, type LensView, type RunView, type ShownState, type State } from './state.js';
import { renderControls, renderSummary } from './summary.js';

function setReady(value: 'idle' | 'false' | 'true' | 'error'): void {
  document.body.setAttribute('data-ready', value);
}

function initialState(): State {
  const config = (readJSON('ll-config') as PageConfig | null) ?? { mode: 'report', kinds: [] };
  return {
    config,
    shown: null,
    which: 'after',
    lens: isLensView(config.lens) ? config.lens : 'both',
    kind: config.kind ?? null,
    metric: isColorBy(config.colorBy) ? config.colorBy : 'prob',
    sel: null,
    diffScale: 0,
  };
}

function isLensView(v: unknown): v is LensView {
  return v === 'logit' || v === 'tuned' || v === 'both';
}

/** Each run's index, built once per data object (the lens switch flips between indexes, it rebuilds none). */
const indexes = new WeakMap<PageData, DataIndex>();
function indexOf(s: State, data: PageData, isCompare: boolean): DataIndex {
  let idx = indexes.get(data);
  if (!idx) {
    idx = indexData(data, s.config.kinds);
    // the difference colouring needs both runs, whichever of them (and whichever lens) is shown
    if (isCompare) idx.has.compare = true;
    indexes.set(data, idx);
  }
  return idx;
}

/** The run chosen by `which` under one lens, with both runs' indexes under that lens. */
function runView(s: State, main: PageData, lens: 'logit' | 'tuned'): RunView {
  const after = lens === 'tuned' && main.tuned ? main.tuned : main;
  const beforeRaw = main.compare ? (lens === 'tuned' ? main.compare.tuned : main.compare) : undefined;
  const idxA = indexOf(s, after, !!beforeRaw);
  const idxB = beforeRaw ? indexOf(s, beforeRaw, true) : null;
  const before = s.which === 'before' && idxB && beforeRaw ? { data: beforeRaw, idx: idxB } : null;
  return { data: before ? before.data : after, idx: before ? before.idx : idxA, idxA, idxB, lens: main.tuned ? lens : null };
}

/** Points the views at the run chosen by `which` and the lens(es) chosen by `lens`. */
function showRun(s: State): void {
  const shown = s.shown;
  if (!shown) return;
  const hasTuned = !!shown.main.tuned;
  Object.assign(shown, runView(s, shown.main, hasTuned && s.lens === 'tuned' ? 'tuned' : 'logit'));
  shown.second = hasTuned && s.lens === 'both' ? runView(s, shown.main, 'tuned') : null;
  const table = byId('ll-heatmap');
  table.setAttribute('data-run', shown.idxB ? s.which : 'main');
  if (shown.lens) table.setAttribute('data-lens', shown.lens);
  else table.removeAttribute('data-lens');
  byId('ll-heatmap-tuned').setAttribute('data-run', shown.idxB ? s.which : 'main');
  const caption = byId('ll-heatmap-caption');
  caption.hidden = !shown.lens;
  caption.textContent = shown.lens ? lensLabel(shown.lens) : '';
  byId('ll-heatmap-tuned-fig').hidden = !shown.second;
  byId('ll-lens-wrap').hidden = !hasTuned;
  document.body.setAttribute('data-lens', hasTuned ? s.lens : 'logit');
}

function renderSelection(s: ShownState): void {
  renderDetails(s);
  renderPlots(s);
  renderAttention(s);
}

function renderAll(s: ShownState): void {
  renderSummary(s);
  renderControls(s);
  renderHeatmap(s);
  renderLegend(s);
  renderSelection(s);
}

function setData(s: State, data: PageData): void {
  if (!data.compare) s.which = 'after';
  const idxA = indexOf(s, data, !!data.compare);
  s.shown = { main: data, data, idx: idxA, idxA, idxB: null, lens: null, second: null };
  showRun(s);
  const idx = s.shown.idx;
  if (s.kind === null || !idx.kinds.includes(s.kind)) s.kind = idx.kinds[0] ?? s.config.kinds[0];
  const need = METRICS[s.metric].needs;
  if (need && !idx.has[need]) s.metric = 'prob';
  if (!hasData(s)) return;
  const rows = idx.rows(s.kind);
  const last = data.positions[data.positions.length - 1];
  s.sel = rows.length ? { name: rows[rows.length - 1].name, pos: last } : null;
  setReady('false');
  renderAll(s);
  setReady('true');
}

function select(s: ShownState, name: string, pos: number): void {
  s.sel = { name, pos };
  renderHeatmap(s);
  renderSelection(s);
}

/** Redraws everything after a switch (run or lens) that changes what is shown but not the data. */
function redraw(s: State): void {
  if (!hasData(s)) return;
  setReady('false');
  showRun(s);
  renderAll(s);
  setReady('true');
}

/** Viewer: asks the server for the lens of the prompt in the form; only the latest answer is shown. */
function makeRunner(s: State): () => void {
  let inflight = 0;
  return () => {
    const prompt = byId<HTMLTextAreaElement>('ll-prompt').value;
    if (!prompt) {
      setStatus('Enter a prompt.', true);
      return;
    }
    const kind = s.kind ?? s.config.kinds[0];
    const body: Record<string, unknown> = {
      prompt,
      hooks: ['embed', kind, 'attn_pattern'],
      positions: 'all',
      topK: Number(byId<HTMLInputElement>('ll-topk').value) || 10,
    };
    // with a tuned lens loaded, the server answers both lenses: the switch then works without asking again
    if (s.config.tunedLens) body.lens = 'both';
    const t = byId<HTMLInputElement>('ll-target').value;
    if (t !== '') body.target = /^id:[0-9]+$/.test(t) ? Number(t.slice(3)) : t;
    const ablate = byId<HTMLInputElement>('ll-ablate')
      .value.split(',')
      .map((x) => x.trim())
      .filter((x) => x !== '');
    if (ablate.length) body.ablate = ablate;
    // the switch exists only when the server has control vectors; unchecked asks for the unsteered run alone
    if (s.config.steering !== undefined) body.steer = byId<HTMLInputElement>('ll-steer').checked;
    const mine = ++inflight;
    setStatus('Running\u2026');
    setReady('false');
    const t0 = Date.now();
    fetch('api/lens', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
      .then((res) => res.json().then((json: unknown) => ({ ok: res.ok, status: res.status, json })))
      .then((r) => {
        if (mine !== inflight) return;
        if (!r.ok) {
          const error = r.json && typeof r.json === 'object' && 'error' in r.json ? (r.json as { error: unknown }).error : undefined;
          setStatus('Error ' + r.status + ': ' + (error ? String(error) : 'request failed'), true);
          setReady('error');
          return;
        }
        setStatus('Done in ' + (Date.now() - t0) + ' ms.');
        setData(s, r.json as PageData);
      })
      .catch((err: unknown) => {
        if (mine !== inflight) return;
        setStatus('Error: ' + (err instanceof Error ? err.message : String(err)), true);
        setReady('error');
      });
  };
}

/** Wires the controls and draws the embedded data, if any. */
export function startPage(): void {
  const s = initialState();
  const run = makeRunner(s);
  // the main heatmap and, with the lens switch on 'both', the tuned lens's beside it
  const tables: [HTMLElement, (st: ShownState) => RunView | null][] = [
    [byId('ll-heatmap'), (st) => st.shown],
    [byId('ll-heatmap-tuned'), (st) => st.shown.second],
  ];
  for (const [table, viewOf] of tables) {
    const tipAt = (ev: MouseEvent, cell: { name: string; pos: number }): void => {
      if (!hasData(s)) return;
      const view = viewOf(s);
      const h = view && hookAt(s, cell.name, cell.pos, view);
      if (view && h) showTip(s, h, ev, view);
    };
    table.addEventListener('mouseover', (ev) => {
      const c = cellFromEvent(ev);
      if (c) tipAt(ev, c);
      else hideTip();
    });
    table.addEventListener('mousemove', (ev) => {
      const c = cellFromEvent(ev);
      if (c && !byId('ll-tip').hidden) tipAt(ev, c);
    });
    table.addEventListener('mouseleave', hideTip);
    table.addEventListener('click', (ev) => {
      const c = cellFromEvent(ev);
      if (c && hasData(s)) select(s, c.name, c.pos);
    });
  }
  // side by side, the two heatmaps scroll together, so the same positions stay next to each other
  const wraps = tables.map(([t]) => t.parentElement).filter((w): w is HTMLElement => w !== null);
  for (const w of wraps) {
    w.addEventListener('scroll', () => {
      for (const o of wraps) if (o !== w && o.scrollLeft !== w.scrollLeft) o.scrollLeft = w.scrollLeft;
    });
  }
  byId<HTMLSelectElement>('ll-metric').addEventListener('change', (ev) => {
    const value = (ev.target as HTMLSelectElement).value;
    if (isColorBy(value)) s.metric = value;
    if (!hasData(s)) return;
    renderHeatmap(s);
    renderLegend(s);
  });
  byId<HTMLSelectElement>('ll-kind').addEventListener('change', (ev) => {
    s.kind = (ev.target as HTMLSelectElement).value as State['kind'];
    if (s.config.mode === 'server') {
      if (s.shown) run();
      return;
    }
    if (s.shown) setData(s, s.shown.main);
  });
  byId<HTMLSelectElement>('ll-which').addEventListener('change', (ev) => {
    s.which = (ev.target as HTMLSelectElement).value === 'before' ? 'before' : 'after';
    redraw(s);
  });
  byId<HTMLSelectElement>('ll-lens').addEventListener('change', (ev) => {
    const value = (ev.target as HTMLSelectElement).value;
    if (isLensView(value)) s.lens = value;
    redraw(s);
  });
  if (s.config.mode === 'server') {
    byId('ll-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      run();
    });
    s.kind = s.kind ?? s.config.kinds[0];
    byId<HTMLSelectElement>('ll-kind').value = s.kind;
  }
  const data = readJSON('ll-data') as PageData | null;
  if (data) setData(s, data);
  else setReady('idle');
}
