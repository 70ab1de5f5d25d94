// GGUF: checkpoints converted with `convertToGguf` load back (llama.cpp's gpt2 names) and match the
// safetensors run; malformed GGUF files give clear errors.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertToGguf, decodeLayers, loadModel, type Model } from '../../lib/index.js';
import { runCli } from '../helpers/cli.js';
import { forwardReference, loadReference, relativeL2Error } from '../reference/gpt2-f64.js';
import { checkpoint, NOTEBOOK_IDS, NOTEBOOK_PROMPT } from '../helpers/checkpoints.js';
import { testDevice } from '../helpers/device.js';
import { useTestModel } from '../helpers/fixtures.js';

const dir = checkpoint('tiny-f32');
const work = mkdtempSync(join(tmpdir(), 'layerlens-gguf-'));
const file = (t: string) => join(work, `tiny-${t}.gguf`);
const safetensorsModel = useTestModel(dir);
let safetensors: Model;
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
    for (const key of ['general.architecture', 'gpt2.block_count', 'gpt2.context_length', 'gpt2.embedding_length', 'gpt2.feed_forward_length',
      'gpt2.attention.head_count', 'gpt2.attention.layer_norm_epsilon', 'tokenizer.ggml.model', 'tokenizer.ggml.tokens', 'tokenizer.ggml.merges',
      'tokenizer.ggml.token_type', 'tokenizer.ggml.eos_token_id', 'token_embd.weight', 'position_embd.weight', 'output_norm.weight',
      'blk.1.attn_qkv.weight', 'blk.1.attn_output.bias', 'blk.1.ffn_up.weight', 'blk.1.ffn_down.bias']) {
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
  const cases: [string, () => Buffer, RegExp][] = [
    ['an empty file', () => Buffer.alloc(0), /not a GGUF file/],
    ['a bad magic', () => Buffer.concat([Buffer.from('GGUX'), good().subarray(4)]), /not a GGUF file/],
    ['a truncated header', () => good().subarray(0, 100), /malformed GGUF/],
    ['a truncated data section', () => good().subarray(0, good().length - 5000), /past the end of the file/],
    ['a tensor count of 2^62', () => { const b = good(); b.writeBigUInt64LE(1n << 62n, 8); return b; }, /malformed GGUF/],
    ['a key count of 2^62', () => { const b = good(); b.writeBigUInt64LE(1n << 62n, 16); return b; }, /malformed GGUF/],
    ['another architecture', () => { const b = good(); b.write('gptj', b.indexOf('gpt2', b.indexOf('general.architecture') + 20)); return b; }, /not "gpt2"/],
  ];
  for (const [what, make, message] of cases) {
    it(`rejects ${what}`, async () => {
      const p = join(work, 'bad.gguf');
      writeFileSync(p, make());
      await expect(loadModel(p, { device: testDevice() })).rejects.toThrow(message);
    });
  }
});
