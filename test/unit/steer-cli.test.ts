// `layerlens steer` and the lens command's llama.cpp control-vector flags: parsing only (no model).
import { describe, expect, it } from 'vitest';
import { HELP, parseCliArgs } from '../../lib/cli/main.js';
import { joinControlVectorArgs } from '../../lib/cli/control-vector-flags.js';
import { layersFlag } from '../../lib/cli/steer.js';

describe('layerlens steer (parsing)', () => {
  it('reads every flag', () => {
    const cmd = parseCliArgs([
      'steer',
      '--positive',
      'a',
      '--positive',
      'p.txt',
      '--negative',
      'b',
      '--negative',
      'n.txt',
      '--layers',
      '6-8,2',
      '--method',
      'pca',
      '--position',
      'all',
      '--read-from',
      'previous-block',
      '--normalize',
      '--out',
      'v.gguf',
      '--model',
      'gpt2',
      '--threads',
      '2',
      '--device',
      'cpu',
    ]);
    expect(cmd).toEqual({
      command: 'steer',
      model: 'gpt2',
      positive: ['a', 'p.txt'],
      negative: ['b', 'n.txt'],
      layers: [2, 6, 7, 8],
      method: 'pca',
      position: 'all',
      readFrom: 'previous-block',
      normalize: true,
      out: 'v.gguf',
      threads: 2,
      device: 'cpu',
    });
  });

  it("defaults: mean, last token, same block, cvector-generator's output name, every block", () => {
    expect(parseCliArgs(['steer', '--positive', 'a', '--negative', 'b'])).toEqual({
      command: 'steer',
      model: undefined,
      positive: ['a'],
      negative: ['b'],
      method: 'mean',
      position: 'last',
      readFrom: 'same-block',
      normalize: false,
      out: 'control_vector.gguf',
      device: 'auto',
    });
  });

  it('every steer flag in --help is known to its parser', () => {
    for (const flag of ['--positive', '--negative', '--layers', '--method', '--position', '--read-from', '--normalize']) {
      expect(HELP).toContain(flag);
      const value =
        flag === '--normalize'
          ? []
          : [flag === '--layers' ? '1' : flag === '--method' ? 'mean' : flag === '--position' ? 'last' : flag === '--read-from' ? 'same-block' : 'x'];
      expect(() => parseCliArgs(['steer', '--positive', 'a', '--negative', 'b', flag, ...value]), flag).not.toThrow();
    }
  });

  it('usage errors', () => {
    expect(() => parseCliArgs(['steer', '--positive', 'a'])).toThrow(/--positive and --negative/);
    expect(() => parseCliArgs(['steer', '--positive', 'a', '--negative', 'b', '--method', 'svd'])).toThrow(/--method/);
    expect(() => parseCliArgs(['steer', '--positive', 'a', '--negative', 'b', '--out', 'v.bin'])).toThrow(/\.gguf/);
    expect(() => parseCliArgs(['steer', '--positive', 'a', '--negative', 'b', 'stray'])).toThrow(/steer:/);
    expect(() => layersFlag('10-6')).toThrow(/--layers/);
    expect(() => layersFlag('a')).toThrow(/--layers/);
    expect(() => layersFlag('1,,2')).toThrow(/--layers/);
    expect(layersFlag(' 3 , 1-2 ')).toEqual([1, 2, 3]);
  });
});

describe("the lens command's control-vector flags", () => {
  it("takes llama.cpp's spellings: FILE, FILE SCALE or FILE:SCALE, and the range A B", () => {
    const cmd = parseCliArgs([
      '--control-vector',
      'a.gguf',
      '--control-vector-scaled',
      'b.gguf',
      '0.5',
      '--control-vector-scaled',
      'c.gguf:-2e0',
      '--control-vector-layer-range',
      '2',
      '5',
      'the prompt',
    ]);
    expect(cmd).toMatchObject({
      command: 'run',
      prompt: 'the prompt',
      steer: {
        controlVectors: [
          { path: 'a.gguf', scale: 1 },
          { path: 'b.gguf', scale: 0.5 },
          { path: 'c.gguf', scale: -2 },
        ],
        controlVectorLayerRange: [2, 5],
      },
    });
    expect(parseCliArgs(['hi'])).not.toHaveProperty('steer');
  });

  it('joins two-value flags only before --', () => {
    expect(joinControlVectorArgs(['--control-vector-layer-range', '1', '3', '--', '--control-vector-scaled', 'x', '1'])).toEqual([
      '--control-vector-layer-range=1 3',
      '--',
      '--control-vector-scaled',
      'x',
      '1',
    ]);
    expect(joinControlVectorArgs(['--control-vector-scaled', 'C:\\v.gguf', '0.5', 'p'])).toEqual(['--control-vector-scaled=C:\\v.gguf:0.5', 'p']);
  });

  it('usage errors', () => {
    expect(() => parseCliArgs(['--control-vector-layer-range', '5', '2', '--control-vector', 'a', 'p'])).toThrow(/A ≤ B/);
    expect(() => parseCliArgs(['--control-vector-layer-range', '1', '2', 'p'])).toThrow(/needs --control-vector/);
    expect(() => parseCliArgs(['--control-vector-scaled', 'a.gguf:x', 'p'])).toThrow(/--control-vector-scaled/);
    expect(() => parseCliArgs(['--control-vector', 'a', '--patch-from', 'x', '--patch-hook', 'blocks.0.resid_post', '--target', ' a', 'p'])).toThrow(
      /control vectors/,
    );
  });
});
