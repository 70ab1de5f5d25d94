// The page's style sheet, inlined by lib/render/report/page.ts into a <style> element (the page's
// Content-Security-Policy allows inline style only). Must never contain "</style" (page.ts checks).

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
.ll-heatmaps { display: flex; gap: 16px; align-items: flex-start; }
.ll-heatmap-fig { margin: 0; flex: 1 1 0; min-width: 0; }
.ll-heatmap-fig figcaption { font-size: 12px; font-weight: 600; color: var(--muted); margin: 0 0 2px; }
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
.ll-lens-note { font-size: 12px; color: #6a51a3; margin-bottom: 4px; }
.ll-lens-summary { font-size: 12px; color: var(--muted); margin: 4px 0; max-width: 980px; }
.ll-card-pair { display: flex; flex-wrap: wrap; gap: 20px; }
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
