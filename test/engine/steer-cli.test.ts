// `layerlens steer` end to end on a synthetic checkpoint: the file it writes holds what steeringVector
// computes, and the lens command's --control-vector flags steer the run as decodeLayers' controlVectors
// (which test/engine/steering.test.ts holds to the float64 reference).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeLayers, readControlVector, steeringVector } from '../../lib/index.js';
import { checkpoint } from '../helpers/checkpoints.js';
import { runCli } from '../helpers/cli.js';
import { useTestModel } from '../helpers/fixtures.js';

const wide = useTestModel(() => checkpoint('l4-d128-prefix', { layers: 4, embd: 128, heads: 8, ctx: 64, prefix: true, seed: 7 }));
const tmp = mkdtempSync(join(tmpdir(), 'layerlens-steer-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('layerlens steer', () => {
  it('writes the control vector of the prompt files (escapes processed, empty lines skipped) and the lens command applies it', async () => {
    const posFile = join(tmp, 'pos.txt');
    writeFileSync(posFile, 'I love it\n\nGreat\\tday\n');
    const out = join(tmp, 'v.gguf');
    const r = await runCli([
      'steer',
      '--model',
      wide.dir,
      '--device',
      'cpu',
      '--positive',
      posFile,
      '--negative',
      'I hate it',
      '--negative',
      'Awful day',
      '--layers',
      '2-3',
      '--method',
      'pca',
      '--out',
      out,
    ]);
    expect(r.err).toMatch(/^steer: 2 pairs, pca; direction\.2 \|1\.000\|, direction\.3 \|1\.000\|\n$/);
    expect(r).toMatchObject({ code: 0, out: out + '\n' });
    const file = await readControlVector(out);
    const api = await steeringVector({
      model: wide.model,
      positive: ['I love it', 'Great\tday'],
      negative: ['I hate it', 'Awful day'],
      layers: [2, 3],
      method: 'pca',
    });
    expect([...file.directions.keys()]).toEqual([2, 3]);
    for (const n of [2, 3]) expect(file.directions.get(n)).toEqual(api.directions.get(n));

    const lens = await runCli([
      '--model',
      wide.dir,
      '--device',
      'cpu',
      '--json',
      '--hooks',
      'resid_post',
      '--control-vector-scaled',
      out,
      '8',
      '--control-vector',
      out,
      '--control-vector-layer-range',
      '3',
      '3',
      'The weather',
    ]);
    expect(lens.err).toBe('');
    const viaCli = JSON.parse(lens.out) as { prediction: unknown; hooks: { top: { id: number; prob: number }[] }[] };
    const viaApi = await decodeLayers('The weather', {
      model: wide.model,
      hooks: ['resid_post'],
      controlVectors: [{ path: out, scale: 9 }],
      controlVectorLayerRange: [3, 3],
    });
    const clean = await decodeLayers('The weather', { model: wide.model, hooks: ['resid_post'] });
    expect(viaCli.hooks.map((h) => h.top.map((t) => t.id))).toEqual(viaApi.hooks.map((h) => h.top!.map((t) => t.id)));
    viaCli.hooks.forEach((h, i) => h.top.forEach((t, j) => expect(t.prob).toBeCloseTo(viaApi.hooks[i].top![j].prob, 5)));
    // blocks 0..2 are untouched (range 3..3), block 3 is steered
    expect(viaApi.hooks.slice(0, 3).map((h) => h.top)).toEqual(clean.hooks.slice(0, 3).map((h) => h.top));
    expect(viaApi.hooks[3].top![0].prob).not.toBeCloseTo(clean.hooks[3].top![0].prob, 3);
  });

  it('a missing or wrong control-vector file is a runtime error naming it', async () => {
    const notCv = join(tmp, 'model.gguf');
    writeFileSync(notCv, 'GGUF');
    const r = await runCli(['--model', wide.dir, '--device', 'cpu', '--control-vector', notCv, 'hi']);
    expect(r.code).toBe(1);
    expect(r.err).toContain(notCv);
  });
});
