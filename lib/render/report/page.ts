// The one HTML page behind both pictures: the static report (data embedded) and the web viewer (data
// fetched from POST /api/lens). Inline CSS (style.ts) and JS (the bundled client, client-script.ts) only,
// a Content-Security-Policy that allows no network at all for the report and only the page's own origin
// for the viewer.

import type { HookKind } from '../../types.js';
import { DISPLAY_KINDS } from '../kinds.js';
import { clientScript } from './client-script.js';
import type { ColorBy, LensView, PageConfig, PageData } from './page-data.js';
import { CLIENT_CSS } from './style.js';

export type { ColorBy, PageConfig, PageData } from './page-data.js';

/** Escapes text for HTML element content and double-quoted attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/**
 * JSON text that is safe inside <script type="application/json">: `<`, `>` and `&` become `\u003c`,
 * `\u003e`, `\u0026` (so no `</script>` or `<!--` can appear), U+2028/U+2029 are escaped too.
 * JSON.parse of the element's text gives the value back unchanged.
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

export interface PageOptions {
  /** 'report': data embedded, no network. 'server': prompt form, data from POST api/lens. */
  mode: 'report' | 'server';
  /** The page's data (report mode): the JSON of lib/render/report/data.ts reportData(). */
  data?: PageData;
  /** <title> and heading. */
  title?: string;
  /** A warning shown in a red box at the top (e.g. "synthetic checkpoint with random weights"). */
  banner?: string;
  /** Server mode: the model's description shown under the heading. */
  subtitle?: string;
  /** Server mode: prompt pre-filled in the form. */
  prompt?: string;
  /** Hook kind shown first. */
  kind?: HookKind;
  /** Initial colouring of the cells. */
  colorBy?: ColorBy;
  /** With tuned-lens data (report) or a tuned lens loaded (viewer): the lens shown first (default 'both'). */
  lens?: LensView;
  /** Viewer: the tuned lens the server has loaded, named in the lens switch. */
  tunedLens?: string;
  /** Viewer: the control vectors the server steers with (their label); the form then has a steering switch. */
  steering?: string;
}

/** The complete page. */
export function renderPage(options: PageOptions): string {
  const script = clientScript();
  if (script.toLowerCase().includes('</script') || CLIENT_CSS.toLowerCase().includes('</style')) {
    throw new Error('internal: the client script or style contains a closing tag');
  }
  const title = options.title ?? 'layerlens';
  const server = options.mode === 'server';
  // default-src 'none': no fetch, image, font or frame from anywhere; the viewer may call its own origin.
  const csp = `default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; connect-src ${server ? "'self'" : "'none'"}; base-uri 'none'; form-action 'none'`;
  const config: PageConfig = {
    mode: options.mode,
    kinds: DISPLAY_KINDS,
    kind: options.kind,
    colorBy: options.colorBy,
    ...(options.lens === undefined ? {} : { lens: options.lens }),
    ...(options.tunedLens === undefined ? {} : { tunedLens: options.tunedLens }),
    ...(options.steering === undefined ? {} : { steering: options.steering }),
  };
  const form = server
    ? `<form id="ll-form" autocomplete="off">
  <label class="ll-muted" for="ll-prompt" style="grid-column: 1 / -1">Prompt (used exactly as typed: no BOS token is added)</label>
  <textarea id="ll-prompt" name="prompt" spellcheck="false" placeholder="Q: What is the capital of Poland?&#10;A:">${escapeHtml(options.prompt ?? '')}</textarea>
  <div class="ll-form-side">
    <label>Target token (optional; e.g. " Warsaw" with its space, or id:32955)<input id="ll-target" name="target" type="text" spellcheck="false"></label>
    <label>Top-k per cell<input id="ll-topk" name="topK" type="number" min="1" max="100" value="10"></label>
    <label>Ablate (optional; comma-separated hooks zeroed at every position, e.g. blocks.1.mlp_out): shows before/after<input id="ll-ablate" name="ablate" type="text" spellcheck="false"></label>
${
  options.steering === undefined
    ? ''
    : `    <label><input id="ll-steer" name="steer" type="checkbox" checked> Steering (${escapeHtml(options.steering)}): shows unsteered/steered</label>\n`
}    <button id="ll-run" type="submit">Run the lens</button>
  </div>
</form>`
    : '';
  // the viewer asks the server for any lensed kind (embed is every picture's first row); the report's
  // client fills the menu with the kinds its data has
  const kindOptions = (server ? DISPLAY_KINDS.filter((k) => k !== 'embed') : []).map((k) => `<option value="${k}">${k}</option>`).join('');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${escapeHtml(csp)}">
<meta name="generator" content="layerlens">
<title>${escapeHtml(title)}</title>
<link rel="icon" href="data:,">
<style>${CLIENT_CSS}</style>
</head>
<body data-ready="loading">
<header>
<h1>${escapeHtml(title)}</h1>
${options.subtitle ? `<div class="ll-muted">${escapeHtml(options.subtitle)}</div>` : ''}
${options.banner ? `<div class="ll-banner" role="note">${escapeHtml(options.banner)}</div>` : ''}
</header>
${form}
<div class="ll-controls">
  <label id="ll-which-wrap" hidden>Run (before/after the intervention)<select id="ll-which">
    <option value="after">after</option>
    <option value="before">before</option>
  </select></label>
  <label id="ll-lens-wrap" hidden>Lens<select id="ll-lens">
    <option value="logit">logit lens</option>
    <option value="tuned">tuned lens</option>
    <option value="both">both, side by side</option>
  </select></label>
  <label>Hook kind (rows: embed, then each block)<select id="ll-kind">${kindOptions}</select></label>
  <label>Colour cells by<select id="ll-metric">
    <option value="prob">top-1 probability</option>
    <option value="rank">target rank (log scale)</option>
    <option value="kl">KL(final ‖ layer)</option>
    <option value="entropy">entropy</option>
    <option value="diff">difference after − before</option>
  </select></label>
</div>
<div id="ll-status" role="status" aria-live="polite"></div>
<section id="ll-summary"></section>
<div class="ll-heatmaps">
<figure class="ll-heatmap-fig"><figcaption id="ll-heatmap-caption" hidden></figcaption><div class="ll-heatmap-wrap"><table id="ll-heatmap" class="ll-heatmap"></table></div></figure>
<figure class="ll-heatmap-fig" id="ll-heatmap-tuned-fig" hidden><figcaption>tuned lens</figcaption><div class="ll-heatmap-wrap"><table id="ll-heatmap-tuned" class="ll-heatmap" data-lens="tuned"></table></div></figure>
</div>
<div id="ll-legend" class="ll-legend"></div>
<div class="ll-panels">
  <section><h2>Selected cell</h2><div id="ll-details"></div></section>
  <section><h2>Across layers</h2><div id="ll-plots"></div></section>
</div>
<section><h2>Attention per head</h2><div id="ll-attention"></div></section>
<div id="ll-tip" role="tooltip" hidden></div>
<script type="application/json" id="ll-config">${jsonForScript(config)}</script>
<script type="application/json" id="ll-data">${options.data === undefined ? '' : jsonForScript(options.data)}</script>
<script>${script}</script>
</body>
</html>
`;
}
