// GGUF: checkpoints converted with `convertToGguf` load back (llama.cpp's gpt2 names) and match the
// safetensors run; malformed GGUF files give clear errors.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertToGguf, decodeLayers, loadModel, type LoadOptions, type Model } from '../../lib/index.js';
import { runCli } from '../helpers/cli.js';
import { forwardReference, loadReference, relativeL2Error, type RefModel } from '../reference/gpt2-f64.js';
import { checkpoint, NOTEBOOK_IDS, NOTEBOOK_PROMPT } from '../helpers/checkpoints.js';
import { testDevice } from '../helpers/device.js';
import { writeGpt2Gguf, type GgufTensorType } from '../helpers/gguf-writer.js';
import { useTestModel } from '../helpers/fixtures.js';

const dir = checkpoint('tiny-f32');
const work = mkdtempSync(join(tmpdir(), 'layerlens-gguf-'));
const file = (t: string) => join(work, `tiny-${t}.gguf`);
const safetensorsModel = useTestModel(dir);
let safetensors: Model;
// dtype 'f16' compute: its measured bound with margin (see engine-parity.test.ts).
const F16_COMPUTE_TOL = 6e-3;
const ALL = { hooks: ['all', 'attn_head_out'], positions: 'all' } as const;

/** Worst relative L2 error of a run (every captured hook, every position, and the logits if any) against `ref`. */
function worstError(out: Awaited<ReturnType<Model['run']>>, ref: RefModel): number {
  const ids = NOTEBOOK_IDS;
  const expected = forwardReference(ref, ids);
  let worst = 0;
  for (const a of out.activations) {
    const w = a.data.length / a.positions.length;
    a.positions.forEach((pos, i) => {
      worst = Math.max(worst, relativeL2Error(a.data.subarray(i * w, (i + 1) * w), expected.row(a.name, pos)));
    });
  }
  if (out.logits.length > 0) worst = Math.max(worst, relativeL2Error(out.logits.subarray(0, ref.config.n_vocab), expected.row('logits', ids.length - 1)));
  return worst;
}
beforeAll(async () => {
  for (const t of ['f32', 'f16', 'q8_0'] as const) await convertToGguf(dir, file(t), { type: t });
  safetensors = safetensorsModel.model;
});
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

describe('GGUF round trip', () => {
  it("carries llama.cpp's gpt2 metadata and tokenizer", () => {
    const bytes = readFileSync(file('f16')).toString('utf8');
    for (const key of [
      'general.architecture',
      'gpt2.block_count',
      'gpt2.context_length',
      'gpt2.embedding_length',
      'gpt2.feed_forward_length',
      'gpt2.attention.head_count',
      'gpt2.attention.layer_norm_epsilon',
      'tokenizer.ggml.model',
      'tokenizer.ggml.tokens',
      'tokenizer.ggml.merges',
      'tokenizer.ggml.token_type',
      'tokenizer.ggml.eos_token_id',
      'token_embd.weight',
      'position_embd.weight',
      'output_norm.weight',
      'blk.1.attn_qkv.weight',
      'blk.1.attn_output.bias',
      'blk.1.ffn_up.weight',
      'blk.1.ffn_down.bias',
    ]) {
      expect(bytes, key).toContain(key);
    }
    expect(bytes).toContain('Ġg azed'); // the last of GPT-2's merges
  });

  it('F32 GGUF gives the same activations as the safetensors checkpoint', async () => {
    const m = await loadModel(file('f32'), { device: testDevice() });
    try {
      expect(m.info).toMatchObject({ n_layer: 2, n_embd: 64, n_head: 4, n_vocab: 50257, n_ctx: 64, dtype: 'f32' });
      const a = await m.run(NOTEBOOK_IDS, { hooks: 'all', positions: 'all' });
      const b = await safetensors.run(NOTEBOOK_IDS, { hooks: 'all', positions: 'all' });
      a.activations.forEach((x, i) => expect(Array.from(x.data), x.name).toEqual(Array.from(b.activations[i].data)));
    } finally {
      m.dispose();
    }
  });

  it('F16 GGUF matches the float64 reference within the F16 tolerance', async () => {
    const m = await loadModel(file('f16'), { device: testDevice() });
    try {
      const expected = forwardReference(loadReference(dir), NOTEBOOK_IDS);
      const { activations } = await m.run(NOTEBOOK_IDS, { hooks: 'all', positions: 'all' });
      for (const a of activations) {
        const w = a.data.length / a.positions.length;
        for (const pos of [0, 25]) expect(relativeL2Error(a.data.subarray(pos * w, (pos + 1) * w), expected.row(a.name, pos)), a.name).toBeLessThan(5e-3);
      }
    } finally {
      m.dispose();
    }
  });

  it('F16 GGUF: computed in f32 by default, every hook at every position within 1e-4; f16 on request', async () => {
    const half = checkpoint('tiny-f16', { dtype: 'f16' });
    const target = join(work, 'from-f16.gguf');
    await convertToGguf(half, target, { type: 'f16' });
    const ref = loadReference(half);
    const m = await loadModel(target, { device: testDevice() });
    const kept = await loadModel(target, { device: testDevice(), dtype: 'f16' });
    try {
      expect([m.info.dtype, m.runtime.fileDtype]).toEqual(['f32', 'GGUF f16']);
      expect([kept.info.dtype, kept.runtime.fileDtype]).toEqual(['f16', 'GGUF f16']);
      expect(worstError(await m.run(NOTEBOOK_IDS, ALL), ref)).toBeLessThan(1e-4);
      expect(worstError(await kept.run(NOTEBOOK_IDS, ALL), ref)).toBeLessThan(F16_COMPUTE_TOL);
    } finally {
      m.dispose();
      kept.dispose();
    }
  });

  it('Q8_0 GGUF keeps the lens top-1 on the notebook prompt (error measured)', async () => {
    const m = await loadModel(file('q8_0'), { device: testDevice() });
    try {
      expect(m.info.dtype).toBe('q8_0');
      const a = await decodeLayers(NOTEBOOK_PROMPT, { model: safetensors, hooks: ['resid_post'] });
      const b = await decodeLayers(NOTEBOOK_PROMPT, { model: m, hooks: ['resid_post'] });
      expect(b.hooks.map((h) => h.top![0].id)).toEqual(a.hooks.map((h) => h.top![0].id));
      const worst = Math.max(...a.activations.map((x, i) => relativeL2Error(b.activations[i].data, x.data)));
      console.log(`q8_0 GGUF: worst relative L2 error of resid_post vs f32: ${worst.toExponential(2)}`);
      expect(worst).toBeLessThan(0.05);
    } finally {
      m.dispose();
    }
  });
});

// Files with per-tensor types, as llama.cpp's tools write them, from the tests' own GGUF writer.
describe('GGUF files with mixed and quantized matrix types', () => {
  const mixed = async (name: string, typeOf: (tensor: string) => GgufTensorType, options: LoadOptions = {}) => {
    const target = join(work, `${name}.gguf`);
    const ref = writeGpt2Gguf(loadReference(dir), target, typeOf);
    return { ref, model: await loadModel(target, { device: testDevice(), ...options }) };
  };
  const embedding = (embd: GgufTensorType, blocks: GgufTensorType) => (t: string) => (t === 'token_embd.weight' ? embd : blocks);

  it('f16 token embedding with q8_0 blocks: q8_0 is what the blocks compute in, and attn_head_out is refused', async () => {
    const { ref, model } = await mixed('f16-embd-q8-blocks', embedding('f16', 'q8_0'));
    try {
      expect([model.info.dtype, model.runtime.fileDtype]).toEqual(['q8_0', 'GGUF q8_0 (token embedding f16)']);
      await expect(model.run(NOTEBOOK_IDS, { hooks: ['blocks.0.attn_head_out'] })).rejects.toThrow(/attn_head_out needs f32 or f16 weights.*q8_0/);
      const err = worstError(await model.run(NOTEBOOK_IDS, { hooks: 'all', positions: 'all' }), ref);
      console.log(`q8_0 blocks (f16 token embedding): worst relative L2 error vs float64 on the stored values: ${err.toExponential(2)}`);
      expect(err).toBeLessThan(0.1); // measured 4.2e-2 (q8_0) and 4.9e-2 (q4_0): ggml quantizes the activations too
    } finally {
      model.dispose();
    }
  });

  it("q8_0 token embedding with f16 blocks: f32 compute, attn_head_out allowed, within 1e-4 bar the embedding's own values", async () => {
    const { ref, model } = await mixed('q8-embd-f16-blocks', embedding('q8_0', 'f16'));
    try {
      expect([model.info.dtype, model.runtime.fileDtype]).toEqual(['f32', 'GGUF f16 (token embedding q8_0)']);
      // The unembedding multiplies by the q8_0 token embedding (activations quantized too): logits are left out.
      expect(worstError(await model.run(NOTEBOOK_IDS, { ...ALL, logits: false }), ref)).toBeLessThan(1e-4);
    } finally {
      model.dispose();
    }
  });

  it("q4_0 GGUF loads as q4_0; dtype 'f32' dequantizes it exactly (every hook within 1e-4)", async () => {
    const { ref, model } = await mixed('q4', () => 'q4_0');
    const exact = await loadModel(join(work, 'q4.gguf'), { device: testDevice(), dtype: 'f32' });
    try {
      const dtype = model.info.dtype;
      expect([dtype, model.runtime.fileDtype]).toEqual(['q4_0', 'GGUF q4_0']);
      const err = worstError(await model.run(NOTEBOOK_IDS, { hooks: 'all', positions: 'all' }), ref);
      console.log(`q4_0 GGUF: worst relative L2 error vs float64 on the stored values: ${err.toExponential(2)}`);
      expect(err).toBeLessThan(0.1); // measured 4.2e-2 (q8_0) and 4.9e-2 (q4_0): ggml quantizes the activations too
      expect([exact.info.dtype, exact.runtime.fileDtype]).toEqual(['f32', 'GGUF q4_0']);
      expect(exact.runtime.weightBytes).toBeGreaterThan(5 * model.runtime.weightBytes);
      expect(worstError(await exact.run(NOTEBOOK_IDS, ALL), ref)).toBeLessThan(1e-4);
    } finally {
      model.dispose();
      exact.dispose();
    }
  });

  it("dtype 'f16' narrows an F32 GGUF; 'q8_0' is refused for GGUF files", async () => {
    const { ref, model } = await mixed('all-f32', () => 'f32', { dtype: 'f16' });
    try {
      expect([model.info.dtype, model.runtime.fileDtype]).toEqual(['f16', 'GGUF f32']);
      expect(worstError(await model.run(NOTEBOOK_IDS, ALL), ref)).toBeLessThan(F16_COMPUTE_TOL);
    } finally {
      model.dispose();
    }
    await expect(loadModel(join(work, 'all-f32.gguf'), { device: testDevice(), dtype: 'q8_0' })).rejects.toThrow(/q8_0.*GGUF/);
  });
});

describe('layerlens convert', () => {
  it('writes a GGUF the CLI can then run, and rejects bad arguments', async () => {
    const target = join(work, 'cli.gguf');
    const ok = await runCli(['convert', dir, '--to', 'gguf', '--type', 'q8_0', '--out', target]);
    expect(ok.code).toBe(0);
    expect(ok.out.trim()).toBe(target);
    const m = await loadModel(target, { device: testDevice() });
    expect(m.info.dtype).toBe('q8_0');
    m.dispose();
    const noTo = await runCli(['convert', dir, '--type', 'q8_0']);
    expect(noTo.code).toBe(2);
    expect(noTo.err).toMatch(/--to gguf is required/);
    const badType = await runCli(['convert', dir, '--to', 'gguf', '--type', 'q4_k']);
    expect(badType.code).toBe(2);
    expect(badType.err).toMatch(/--type must be f16, q8_0 or f32/);
  });
});

describe('malformed GGUF files', () => {
  const good = () => readFileSync(file('f16'));
  /** A good file with `edit` done to its bytes. */
  const edited = (edit: (b: Buffer) => unknown) => () => {
    const b = good();
    edit(b);
    return b;
  };
  const otherArchitecture = edited((b) => b.write('gptj', b.indexOf('gpt2', b.indexOf('general.architecture') + 20)));
  const cases: [string, () => Buffer, RegExp][] = [
    ['an empty file', () => Buffer.alloc(0), /not a GGUF file/],
    ['a bad magic', () => Buffer.concat([Buffer.from('GGUX'), good().subarray(4)]), /not a GGUF file/],
    ['a truncated header', () => good().subarray(0, 100), /malformed GGUF/],
    ['a truncated data section', () => good().subarray(0, good().length - 5000), /past the end of the file/],
    ['a tensor count of 2^62', edited((b) => b.writeBigUInt64LE(1n << 62n, 8)), /malformed GGUF/],
    ['a key count of 2^62', edited((b) => b.writeBigUInt64LE(1n << 62n, 16)), /malformed GGUF/],
    ['another architecture', otherArchitecture, /not "gpt2"/],
  ];
  for (const [what, make, message] of cases) {
    it(`rejects ${what}`, async () => {
      const p = join(work, 'bad.gguf');
      writeFileSync(p, make());
      // The GPT-2 engine's parser (another architecture goes to the llama.cpp engine by default: see below)
      await expect(loadModel(p, { device: testDevice(), engine: 'gpt2' })).rejects.toThrow(message);
    });
  }
  it('sends another architecture to the llama.cpp engine, which says why the file does not load', async () => {
    const p = join(work, 'bad-arch.gguf');
    writeFileSync(p, otherArchitecture());
    await expect(loadModel(p, { device: 'cpu' })).rejects.toThrow(/llama\.cpp could not load .*unsupported model architecture: 'gptj'/s);
  });
});
