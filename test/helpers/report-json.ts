// The data a report or viewer page carries: JSON in <script type="application/json" id="..."> elements
// (ll-data: the run; ll-config: how the page starts).

/** The parsed JSON of the page's script element with this id. */
export function scriptJSON(html: string, id: string): unknown {
  const m = new RegExp(`<script type="application/json" id="${id}">([\\s\\S]*?)</script>`).exec(html);
  if (!m) throw new Error(`no script #${id}`);
  return JSON.parse(m[1]);
}
