// What the terminal pictures (lib/render/view.ts, lib/render/format.ts) and the browser client
// (lib/render/report/client/) both draw with, so that a token or a probability reads the same in a
// terminal grid, a table and the HTML page. Pure (no Node API, no DOM): the client bundle includes it.

import { escapeInvisible, formatProb } from './format.js';

export { escapeInvisible, formatProb };

/**
 * A token's text in a narrow cell: spaces become `·` (so the leading space of `" Paris"` shows as
 * `·Paris`), newline/tab/return become `\n`/`\t`/`\r`, other control and invisible characters
 * `\uXXXX`. The tokenizer's own `\xNN`/`\\` escapes are kept. (A literal `·` in a token is shown as is;
 * the table and JSON give the exact text.)
 */
export function compactToken(token: string): string {
  let out = '';
  for (const ch of token) out += ch === ' ' ? '·' : escapeInvisible(ch);
  return out;
}
