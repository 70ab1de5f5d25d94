// The torch.save writer (lib/lens/tuned/torch-save.ts, save.ts): read back by the restricted reader,
// entries aligned as torch aligns them, and — where Debian's python3-torch is installed — loaded by torch
// itself into an nn.ModuleList of Linear layers (as the tuned-lens package loads params.pt), with its
// data.pkl compared byte for byte with the one torch.save writes for the same state dict.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadTorchStateDict } from '../../lib/lens/tuned/torch-load.js';
import { saveTunedLens, tunedLensParams } from '../../lib/lens/tuned/save.js';
import { loadTunedLens, type TunedLens } from '../../lib/lens/tuned/tuned-lens.js';
import { readStoredZip } from '../../lib/lens/tuned/zip.js';
import { signedRandom } from '../helpers/random.js';

const work = mkdtempSync(join(tmpdir(), 'layerlens-torch-save-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function randomLens(d: number, layers: number, seed: number): TunedLens {
  const rnd = signedRandom(seed);
  return {
    config: { baseModel: 'gpt2', dModel: d, numLayers: layers, bias: true },
    translators: Array.from({ length: layers }, () => ({
      weight: Float32Array.from({ length: d * d }, rnd),
      bias: Float32Array.from({ length: d }, rnd),
    })),
    source: 'test',
  };
}

/** A python3 that imports torch (the pyenv shim first, then Debian's), or null. */
function torchPython(): string | null {
  for (const py of ['python3', '/usr/bin/python3']) {
    const r = spawnSync(py, ['-c', 'import torch'], { stdio: 'ignore' });
    if (r.status === 0) return py;
  }
  return null;
}
const python = torchPython();

describe('torch.save writer', () => {
  // 300 translators: memo slots past 255 (LONG_BINPUT / LONG_BINGET) and ints past 255 and 65535
  for (const [d, layers] of [
    [4, 3],
    [3, 300],
    [300, 1],
  ] as const) {
    it(`d=${d}, ${layers} translators: the restricted reader reads back every name, shape and value`, () => {
      const lens = randomLens(d, layers, d + layers);
      const bytes = tunedLensParams(lens);
      const sd = loadTorchStateDict(bytes, 'params.pt');
      expect([...sd.keys()]).toEqual(lens.translators.flatMap((_, i) => [`${i}.weight`, `${i}.bias`]));
      lens.translators.forEach((t, i) => {
        expect(sd.get(`${i}.weight`)!.shape).toEqual([d, d]);
        expect(sd.get(`${i}.weight`)!.data).toEqual(t.weight);
        expect(sd.get(`${i}.bias`)!.shape).toEqual([d]);
        expect(sd.get(`${i}.bias`)!.data).toEqual(t.bias);
      });
    });
  }

  it('stores every entry uncompressed with its data at a 64-byte boundary, and version "3\\n"', () => {
    const bytes = tunedLensParams(randomLens(5, 2, 1));
    const entries = readStoredZip(bytes, 'params.pt');
    const offsetInArchive = (data: Uint8Array) => data.byteOffset - bytes.byteOffset;
    expect([...entries.keys()]).toEqual([
      'params/data.pkl',
      'params/byteorder',
      'params/data/0',
      'params/data/1',
      'params/data/2',
      'params/data/3',
      'params/version',
    ]);
    for (const [name, data] of entries) expect(offsetInArchive(data) % 64, name).toBe(0);
    expect(Buffer.from(entries.get('params/version')!).toString()).toBe('3\n');
  });

  it('saveTunedLens writes a folder that loadTunedLens reads back exactly, with the package config keys', async () => {
    const lens = randomLens(8, 3, 5);
    const dir = join(work, 'folder');
    await saveTunedLens(lens, dir);
    const back = await loadTunedLens(dir);
    expect(back.config).toEqual({ baseModel: 'gpt2', dModel: 8, numLayers: 3, bias: true });
    expect(back.translators).toEqual(lens.translators);
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    expect(Object.keys(config).sort()).toEqual([
      'base_model_name_or_path',
      'base_model_revision',
      'bias',
      'd_model',
      'lens_type',
      'num_hidden_layers',
      'unembed_hash',
    ]);
    expect(config.lens_type).toBe('linear_tuned_lens');
  });

  it.skipIf(!python)('torch.load reads it into nn.ModuleList([nn.Linear(d, d)] * n) with strict keys, value for value', async () => {
    const lens = randomLens(6, 3, 9);
    const dir = join(work, 'torch');
    await saveTunedLens(lens, dir);
    const script = `
import json, sys, torch
sd = torch.load(sys.argv[1] + '/params.pt', map_location='cpu')
m = torch.nn.ModuleList([torch.nn.Linear(6, 6) for _ in range(3)])
m.load_state_dict(sd, strict=True)
meta = sd._metadata
print(json.dumps({'keys': list(sd.keys()), 'dtypes': sorted({str(t.dtype) for t in sd.values()}),
  'values': {k: t.flatten().tolist() for k, t in sd.items()}, 'metadata': sorted(meta.keys())}))
`;
    const out = JSON.parse(execFileSync(python!, ['-c', script, dir], { encoding: 'utf8' }));
    expect(out.keys).toEqual(['0.weight', '0.bias', '1.weight', '1.bias', '2.weight', '2.bias']);
    expect(out.dtypes).toEqual(['torch.float32']);
    expect(out.metadata).toEqual(['', '0', '1', '2']);
    lens.translators.forEach((t, i) => {
      expect(Float32Array.from(out.values[`${i}.weight`])).toEqual(t.weight);
      expect(Float32Array.from(out.values[`${i}.bias`])).toEqual(t.bias);
    });
  });

  it.skipIf(!python)(
    "the restricted reader reads a params.pt that real torch.save wrote (ModuleList of Linear), and our data.pkl and storages equal torch's byte for byte",
    async () => {
      const dir = join(work, 'from-torch');
      const script = `
import os, sys, torch
torch.manual_seed(0)
m = torch.nn.ModuleList([torch.nn.Linear(5, 5) for _ in range(2)])
os.makedirs(sys.argv[1], exist_ok=True)
torch.save(m.state_dict(), sys.argv[1] + '/params.pt')
import json; print(json.dumps({k: v.flatten().tolist() for k, v in m.state_dict().items()}))
`;
      const values = JSON.parse(execFileSync(python!, ['-c', script, dir], { encoding: 'utf8' })) as Record<string, number[]>;
      const torchBytes = readFileSync(join(dir, 'params.pt'));
      const sd = loadTorchStateDict(torchBytes, 'params.pt');
      expect([...sd.keys()]).toEqual(['0.weight', '0.bias', '1.weight', '1.bias']);
      for (const [k, v] of Object.entries(values)) expect(sd.get(k)!.data).toEqual(Float32Array.from(v));
      const lens: TunedLens = {
        config: { baseModel: 'x', dModel: 5, numLayers: 2, bias: true },
        translators: [0, 1].map((i) => ({ weight: Float32Array.from(values[`${i}.weight`]), bias: Float32Array.from(values[`${i}.bias`]) })),
        source: 'test',
      };
      // The same pickle, byte for byte, and the same storages. (The zip around them differs in header details, and
      // torch 1.13 writes no `byteorder` entry where torch ≥ 2.1 does; both readers ignore that.)
      const ours = readStoredZip(tunedLensParams(lens), 'ours');
      const theirs = readStoredZip(torchBytes, 'torch');
      expect(Buffer.from(ours.get('params/data.pkl')!).equals(Buffer.from(theirs.get('params/data.pkl')!))).toBe(true);
      for (const [name, data] of theirs) expect(Buffer.from(ours.get(name)!).equals(Buffer.from(data)), name).toBe(true);
    },
  );
});
