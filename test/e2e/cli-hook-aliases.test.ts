// The CLI takes TransformerLens hook names through the same parser as the API (--hooks, --ablate) and
// prints canonical names.
import { afterAll, describe, expect, it } from 'vitest';
import { runCli as run } from '../helpers/cli.js';
import { releaseModels } from '../../lib/index.js';
import { checkpoint, NOTEBOOK_PROMPT } from '../helpers/checkpoints.js';

const dir = checkpoint('tiny-f32');
afterAll(() => releaseModels());

describe('CLI with TransformerLens hook names', () => {
  it('--hooks and --ablate accept TL aliases and give the same JSON as the canonical names', async () => {
    const lens = (hooks: string, ablate: string) => run(['--model', dir, '--json', '--device', 'cpu', '--hooks', hooks, '--ablate', ablate, NOTEBOOK_PROMPT]);
    const tl = await lens('blocks.0.hook_resid_pre,blocks.1.hook_resid_post', 'blocks.1.hook_mlp_out');
    const canonical = await lens('embed,blocks.1.resid_post', 'blocks.1.mlp_out');
    expect(tl.err).toBe('');
    expect(tl.code).toBe(0);
    const json = JSON.parse(tl.out) as { hooks: { name: string }[] };
    expect(json.hooks.map((h) => h.name)).toEqual(['embed', 'blocks.1.resid_post']);
    expect(tl.out).toBe(canonical.out);
  });

  it('explains TL hooks layerlens does not have', async () => {
    const r = await run(['--model', dir, '--hooks', 'hook_embed', 'Hi']);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/hook_embed.*"embed" is hook_embed \+ hook_pos_embed/);
  });
});
