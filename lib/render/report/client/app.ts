// The page's life: read the config and (report) the embedded data or (viewer) ask POST api/lens for it,
// keep the state, re-render on every control, and set body[data-ready] ('loading', 'idle', 'false' while
// drawing, 'true' when drawn, 'error') so that tests and scripts know when the page is done.

import type { PageConfig, PageData } from '../page-data.js';
import { renderAttention } from './attention.js';
import { hideTip, renderDetails, showTip } from './cards.js';
import { indexData } from './data-index.js';
import { byId, readJSON } from './dom.js';
import { cellFromEvent, renderHeatmap, renderLegend } from './heatmap.js';
import { isColorBy, METRICS } from './helpers.js';
import { renderPlots } from './plots.js';
import { hasData, hookAt, setStatus, type ShownState, type State } from './state.js';
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
    kind: config.kind ?? null,
    metric: isColorBy(config.colorBy) ? config.colorBy : 'prob',
    sel: null,
    diffScale: 0,
  };
}

/** Points `data` and `idx` at the run chosen by `which`. */
function showRun(s: State): void {
  const shown = s.shown;
  if (!shown) return;
  const before = s.which === 'before' && shown.idxB && shown.main.compare ? { data: shown.main.compare, idx: shown.idxB } : null;
  shown.data = before ? before.data : shown.main;
  shown.idx = before ? before.idx : shown.idxA;
  byId('ll-heatmap').setAttribute('data-run', shown.idxB ? s.which : 'main');
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
  const idxA = indexData(data, s.config.kinds);
  const idxB = data.compare ? indexData(data.compare, s.config.kinds) : null;
  if (idxB) idxB.has.compare = true;
  else s.which = 'after';
  s.shown = { main: data, data, idx: idxA, idxA, idxB };
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
    const t = byId<HTMLInputElement>('ll-target').value;
    if (t !== '') body.target = /^id:[0-9]+$/.test(t) ? Number(t.slice(3)) : t;
    const ablate = byId<HTMLInputElement>('ll-ablate')
      .value.split(',')
      .map((x) => x.trim())
      .filter((x) => x !== '');
    if (ablate.length) body.ablate = ablate;
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
  const table = byId('ll-heatmap');
  const tipAt = (ev: MouseEvent, cell: { name: string; pos: number }): void => {
    if (!hasData(s)) return;
    const h = hookAt(s, cell.name, cell.pos);
    if (h) showTip(s, h, ev);
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
    if (!hasData(s)) return;
    setReady('false');
    showRun(s);
    renderAll(s);
    setReady('true');
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
