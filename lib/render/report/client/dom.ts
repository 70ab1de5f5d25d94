// Small DOM builders. Token text only ever reaches the page through textContent and setAttribute,
// never as HTML.

type Attrs = Record<string, string | number | null | undefined>;

/** The element with this id; the page (lib/render/report/page.ts) always has the ones the client asks for. */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (!e) throw new Error('layerlens: the page has no #' + id);
  return e as T;
}

/** An HTML element with attributes (null/undefined ones left out) and text. */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs | null, text?: string | number | null): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (attrs) for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) e.setAttribute(k, String(v));
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** An SVG element with attributes and text. */
export function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs?: Record<string, string | number>, text?: string): SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVG_NS, tag);
  if (attrs) for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

/** The JSON in <script type="application/json" id="…">; null when it is empty. */
export function readJSON(id: string): unknown {
  const s = document.getElementById(id);
  if (!s || !s.textContent || !s.textContent.trim()) return null;
  return JSON.parse(s.textContent) as unknown;
}

/** A token as a JSON string literal, for titles. */
export function quote(t: string): string {
  return JSON.stringify(t);
}

/** A horizontal colour ramp, 220 × 12 pixels, coloured by `colorAt(0..1)`. */
export function rampCanvas(colorAt: (x: number) => string): HTMLCanvasElement {
  const c = el('canvas');
  c.width = 220;
  c.height = 12;
  c.className = 'll-ramp';
  const g = c.getContext('2d');
  if (g) {
    for (let x = 0; x < 220; x++) {
      g.fillStyle = colorAt(x / 219);
      g.fillRect(x, 0, 1, 12);
    }
  }
  return c;
}
