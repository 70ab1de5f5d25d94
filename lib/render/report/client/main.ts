// The browser side of the HTML report and the web viewer: ONE renderer for both. Bundled into one script
// (lib/render/report/client-script.ts) that lib/render/report/page.ts inlines into the page; the report
// embeds its data as JSON in <script type="application/json" id="ll-data">, the viewer
// (lib/server/server.ts) fetches the same JSON from POST api/lens. Plain DOM code, no framework, no
// network at view time except the viewer's own api/lens.
//
// The pure helpers are exposed as window.layerlens so that tests can run them in node:vm without a DOM;
// the page itself starts only when `document` exists.

import { startPage } from './app.js';
import { indexData } from './data-index.js';
import * as helpers from './helpers.js';

const api = { ...helpers, indexData };

declare global {
  interface Window {
    layerlens?: typeof api;
  }
}

if (typeof window !== 'undefined') window.layerlens = api;

if (typeof document !== 'undefined') {
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', startPage);
  else startPage();
}
