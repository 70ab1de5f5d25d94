// Synthetic GGUF models of several llama.cpp architectures (llama, qwen2, qwen3, olmo2, gptneox, phi3,
// gemma2) for the libllama engine's tests: seeded random weights, the metadata keys and tensor
// names/shapes llama.cpp's loader requires for each architecture (src/llama-model.cpp and
// src/models/<arch>.cpp at 80fb11a), a byte-level BPE vocabulary its vocab loader accepts, matrices in
// f32 or q8_0 (norms and biases always f32, as llama.cpp's quantizer keeps them). Returns the values
// the file stores (dequantized), split into the parts test/reference/llama-f64.ts reads, so a
// reference can be held to 1e-4 on what the engine reads.
//
// Per architecture (besides general.*, tokenizer.* and the dims every one has):
//   llama    separate attn_q/k/v, grouped-query (head_count_kv < head_count); output.weight optional
//            (absent = tied to token_embd). rope.dimension_count must equal the head size (llama.cpp
//            throws otherwise). key_length/value_length only when head_dim ≠ n_embd / n_head.
//   qwen2    llama's tensors plus attn_q/k/v biases; attn_output is [n_embd, n_embd] so head_dim is
//            n_embd / n_head; output optional.
//   qwen3    llama's tensors plus attn_q_norm / attn_k_norm (head_dim wide); head_dim may differ from
//            n_embd / n_head (attention.key_length / value_length); output optional.
//   olmo2    no attn_norm/ffn_norm; attn_q_norm (n_embd) and attn_k_norm (n_head_kv·head_dim) over the
//            whole projection, post_attention_norm and post_ffw_norm; separate q/k/v (its graph reads
//            them, never a fused qkv); output.weight required.
//   gptneox  LayerNorms with biases (attn_norm, ffn_norm, output_norm), fused attn_qkv weight and
//            bias ([Q | K | V] rows), attn_output and ffn_up/ffn_down with biases, no gate;
//            use_parallel_residual (bool, required), partial rotary (rope.dimension_count < head_dim);
//            layer_norm_epsilon instead of the RMS one; output.weight required.
//   phi3     fused attn_qkv (no bias), ffn_up holding gate then up (2·n_ff rows), no ffn_gate; output
//            optional; rope.dimension_count may be partial.
//   gemma2   attn_norm, post_attention_norm, ffn_norm, post_ffw_norm; attn_logit_softcapping,
//            final_logit_softcapping and attention.sliding_window; the output is always token_embd
//            (an output.weight would be an unused tensor, which llama.cpp rejects).
// llama.cpp refuses a file with a tensor its architecture does not use ("wrong number of tensors"), and
// reads every key with one exact GGUF type (counts u32, eps/theta/caps f32, flags bool).
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import { encode, ggufFileBytes, ggufString, u32, u64, type GgufTensorBytes } from './gguf-writer.js';
import { signedRandom } from './random.js';
import { repoRoot } from './checkpoints.js';
import { syntheticVocab, type ChatTemplateKind, type SyntheticVocab } from './synthetic-bpe-vocab.js';
import type { ArchConfig, ArchLayerWeights, ArchName, ArchWeights } from '../reference/llama-f64.js';

export type ArchTensorType = 'f32' | 'q8_0';

/** Dimensions and hyperparameters; any left out take the architecture's defaults (defaultArchSpec). */
export type ArchSpec = { arch: ArchName } & Partial<Omit<ArchConfig, 'arch' | 'nVocab'>>;

export interface ArchGgufOptions {
  /** type of the matrices (token_embd and output included); norms and biases are f32. Default f32. */
  type?: ArchTensorType;
  /** 'small' (~300 tokens, default) or a token count, e.g. 128256, for memory tests */
  vocab?: 'small' | number;
  /** seed of the weights; default one per architecture */
  seed?: number;
  /** write no output.weight (logits from token_embd). Default false; gemma2 is always tied, olmo2 and gptneox never. */
  tiedOutput?: boolean;
  /** default llama3 for llama, chatml for the others */
  chatTemplate?: ChatTemplateKind;
  /** tokenizer.ggml.add_bos_token; default true with the llama3 template, false with chatml */
  addBos?: boolean;
  /** tokenizer.ggml.pre; default llama-bpe (llama), qwen2 (qwen2, qwen3), gpt-2 (others) */
  pre?: string;
}

export type GgufMetaValue =
  | { type: 'u32'; value: number }
  | { type: 'f32'; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'str'; value: string }
  | { type: 'str[]'; value: string[] }
  | { type: 'i32[]'; value: number[] };

export interface ArchGguf extends ArchWeights {
  file: string;
  vocab: SyntheticVocab;
  /** every key/value pair in the file, in file order */
  metadata: Map<string, GgufMetaValue>;
  /** every tensor in the file, in file order, with ggml dims (ne0 first) */
  tensors: { name: string; ne: number[]; type: ArchTensorType }[];
  tied: boolean;
  /** every tensor's stored values (dequantized), by GGUF name, in ggml order */
  tensorValues: Map<string, Float64Array>;
}

const BASE = {
  nLayer: 2,
  nEmbd: 64,
  nHead: 4,
  nHeadKv: 2,
  nFf: 128,
  nCtx: 128,
  ropeTheta: 10000,
  normEps: 1e-6,
  parallelResidual: false,
  attnSoftcap: 0,
  finalSoftcap: 0,
  slidingWindow: 0,
};

/**
 * Default dims per architecture (d_model 64, 4 heads, 2–3 layers, n_ctx 128). headDim and nRot, when
 * not given here, follow from nEmbd / nHead (see resolveConfig).
 */
export function defaultArchSpec(arch: ArchName): ArchSpec {
  switch (arch) {
    case 'llama':
      return { ...BASE, arch, ropeTheta: 500000, normEps: 1e-5 };
    case 'qwen2':
      return { ...BASE, arch, nFf: 192, ropeTheta: 1000000 };
    case 'qwen3':
      // head_dim 32 ≠ n_embd / n_head, as in the real Qwen3 (128 with n_embd 1024 and 16 heads)
      return { ...BASE, arch, nLayer: 3, headDim: 32, ropeTheta: 1000000 };
    case 'olmo2':
      return { ...BASE, arch, ropeTheta: 500000 };
    case 'gptneox':
      // Pythia: multi-head, n_ff = 4·d, rotary_pct 0.25, parallel residual, LayerNorm eps 1e-5
      return { ...BASE, arch, nHeadKv: 4, nFf: 256, normEps: 1e-5, parallelResidual: true };
    case 'phi3':
      return { ...BASE, arch, normEps: 1e-5 };
    case 'gemma2':
      return { ...BASE, arch, nFf: 192, attnSoftcap: 50, finalSoftcap: 30, slidingWindow: 4096 };
  }
}

type OutputPolicy = 'optional' | 'required' | 'tied';
const OUTPUT_POLICY: Record<ArchName, OutputPolicy> = {
  llama: 'optional',
  qwen2: 'optional',
  qwen3: 'optional',
  phi3: 'optional',
  olmo2: 'required',
  gptneox: 'required',
  gemma2: 'tied',
};

// Architectures whose q projection is n_head·head_dim wide independently of n_embd (the others size it n_embd).
const FREE_HEAD_DIM = new Set<ArchName>(['llama', 'qwen3', 'gemma2']);
// Architectures whose graph rotates only part of each head when rope.dimension_count < head_dim.
const PARTIAL_ROTARY = new Set<ArchName>(['gptneox', 'phi3']);

const ARCH_SEED: Record<ArchName, number> = { llama: 101, qwen2: 102, qwen3: 103, olmo2: 104, gptneox: 105, phi3: 106, gemma2: 107 };

function resolveConfig(spec: ArchSpec, nVocab: number): ArchConfig {
  const defaults = defaultArchSpec(spec.arch);
  // A spec that changes the width or the head count without a head size gets n_embd / n_head.
  const resized = spec.nEmbd !== undefined || spec.nHead !== undefined;
  const merged = { ...defaults, ...(resized ? { headDim: undefined } : {}), ...spec };
  const nEmbd = merged.nEmbd!,
    nHead = merged.nHead!;
  const headDim = merged.headDim ?? nEmbd / nHead;
  // Pythia rotates a quarter of each head (rotary_pct 0.25); the others rotate all of it.
  const nRot = merged.nRot ?? (spec.arch === 'gptneox' ? headDim / 4 : headDim);
  // The file holds these as float32, and float32 is what llama.cpp computes with.
  const f32 = {
    ropeTheta: Math.fround(merged.ropeTheta!),
    normEps: Math.fround(merged.normEps!),
    attnSoftcap: Math.fround(merged.attnSoftcap!),
    finalSoftcap: Math.fround(merged.finalSoftcap!),
  };
  const cfg = { ...merged, ...f32, headDim, nRot, nVocab } as ArchConfig;
  const { arch, nHeadKv } = cfg;
  const positive = ['nLayer', 'nEmbd', 'nHead', 'nHeadKv', 'headDim', 'nFf', 'nCtx', 'nRot'] as const;
  for (const k of positive) if (!Number.isInteger(cfg[k]) || cfg[k] <= 0) throw new Error(`${arch}: ${k} must be a positive integer, got ${cfg[k]}`);
  if (nHead % nHeadKv !== 0) throw new Error(`${arch}: head_count ${nHead} is not a multiple of head_count_kv ${nHeadKv}`);
  if (!FREE_HEAD_DIM.has(arch) && headDim * nHead !== nEmbd) throw new Error(`${arch}: head_dim must be n_embd / n_head (${nEmbd / nHead}), got ${headDim}`);
  if (nRot % 2 !== 0 || nRot > headDim) throw new Error(`${arch}: rope.dimension_count ${nRot} must be even and at most head_dim ${headDim}`);
  if (!PARTIAL_ROTARY.has(arch) && nRot !== headDim) throw new Error(`${arch}: llama.cpp needs rope.dimension_count = head_dim (${headDim}), got ${nRot}`);
  if (arch === 'gemma2' && !(cfg.attnSoftcap > 0 && cfg.finalSoftcap > 0 && cfg.slidingWindow > 0))
    throw new Error('gemma2: soft-caps and sliding window must be positive');
  if (arch !== 'gptneox' && cfg.parallelResidual) throw new Error(`${arch}: only gptneox has a parallel residual`);
  return cfg;
}

// GGUF value types, from the GGUF specification.
const GGUF_TYPE = { u32: 4, i32: 5, f32: 6, bool: 7, str: 8, array: 9 } as const;

function encodeKv(key: string, v: GgufMetaValue): Buffer {
  const head = (t: number) => Buffer.concat([ggufString(key), u32(t)]);
  switch (v.type) {
    case 'u32':
      return Buffer.concat([head(GGUF_TYPE.u32), u32(v.value)]);
    case 'f32': {
      const f = Buffer.alloc(4);
      f.writeFloatLE(v.value);
      return Buffer.concat([head(GGUF_TYPE.f32), f]);
    }
    case 'bool':
      return Buffer.concat([head(GGUF_TYPE.bool), Buffer.from([v.value ? 1 : 0])]);
    case 'str':
      return Buffer.concat([head(GGUF_TYPE.str), ggufString(v.value)]);
    case 'str[]':
      return Buffer.concat([head(GGUF_TYPE.array), u32(GGUF_TYPE.str), u64(v.value.length), ...v.value.map(ggufString)]);
    case 'i32[]': {
      const body = Buffer.alloc(4 * v.value.length);
      v.value.forEach((x, i) => body.writeInt32LE(x, 4 * i));
      return Buffer.concat([head(GGUF_TYPE.array), u32(GGUF_TYPE.i32), u64(v.value.length), body]);
    }
  }
}

/** Metadata of the file, in the order written. */
function archMetadata(cfg: ArchConfig, vocab: SyntheticVocab, opts: Required<Pick<ArchGgufOptions, 'type' | 'addBos' | 'pre'>>): Map<string, GgufMetaValue> {
  const a = cfg.arch;
  const m = new Map<string, GgufMetaValue>();
  const u = (k: string, value: number) => m.set(k, { type: 'u32', value });
  const f = (k: string, value: number) => m.set(k, { type: 'f32', value });
  m.set('general.architecture', { type: 'str', value: a });
  // llama.cpp's vocab loader special-cases names containing "phi3"/"phi-3" (it then looks up Phi-3's own
  // SPM tokens such as "</s>" and "<unk>", which a byte-level BPE vocabulary lacks): keep the name neutral.
  m.set('general.name', { type: 'str', value: `layerlens synthetic ${a === 'phi3' ? 'p-h-i-3' : a}` });
  u('general.alignment', 32);
  // llama_ftype: ALL_F32 = 0, MOSTLY_Q8_0 = 7
  u('general.file_type', opts.type === 'q8_0' ? 7 : 0);
  u(`${a}.context_length`, cfg.nCtx);
  u(`${a}.embedding_length`, cfg.nEmbd);
  u(`${a}.block_count`, cfg.nLayer);
  u(`${a}.feed_forward_length`, cfg.nFf);
  u(`${a}.attention.head_count`, cfg.nHead);
  u(`${a}.attention.head_count_kv`, cfg.nHeadKv);
  if (a === 'qwen3' || a === 'gemma2' || cfg.headDim * cfg.nHead !== cfg.nEmbd) {
    u(`${a}.attention.key_length`, cfg.headDim);
    u(`${a}.attention.value_length`, cfg.headDim);
  }
  u(`${a}.rope.dimension_count`, cfg.nRot);
  f(`${a}.rope.freq_base`, cfg.ropeTheta);
  if (a === 'gptneox') {
    f(`${a}.attention.layer_norm_epsilon`, cfg.normEps);
    m.set(`${a}.use_parallel_residual`, { type: 'bool', value: cfg.parallelResidual });
  } else {
    f(`${a}.attention.layer_norm_rms_epsilon`, cfg.normEps);
  }
  if (a === 'gemma2') {
    f(`${a}.attn_logit_softcapping`, cfg.attnSoftcap);
    f(`${a}.final_logit_softcapping`, cfg.finalSoftcap);
    u(`${a}.attention.sliding_window`, cfg.slidingWindow);
  }
  m.set('tokenizer.ggml.model', { type: 'str', value: 'gpt2' });
  m.set('tokenizer.ggml.pre', { type: 'str', value: opts.pre });
  m.set('tokenizer.ggml.tokens', { type: 'str[]', value: vocab.tokens });
  m.set('tokenizer.ggml.token_type', { type: 'i32[]', value: vocab.tokenTypes });
  m.set('tokenizer.ggml.merges', { type: 'str[]', value: vocab.merges });
  u('tokenizer.ggml.bos_token_id', vocab.bosId);
  u('tokenizer.ggml.eos_token_id', vocab.eosId);
  // Explicit, because llama.cpp otherwise picks the end-of-turn token by text from an unordered map,
  // and <|end_of_text|> matches its list as well as <|eot_id|> / <|im_end|>.
  u('tokenizer.ggml.eot_token_id', vocab.eotId);
  m.set('tokenizer.ggml.add_bos_token', { type: 'bool', value: opts.addBos });
  m.set('tokenizer.chat_template', { type: 'str', value: vocab.chatTemplate });
  return m;
}

/** Rows [start, end) of a [rows, cols] row-major matrix. */
function rowsOf(a: Float64Array, cols: number, start: number, end: number): Float64Array {
  return a.slice(start * cols, end * cols);
}

/**
 * Generates the weights of `spec`, writes them as a GGUF v3 at `file` (only when its bytes differ from
 * what is there), and returns the stored values with the config, vocabulary, metadata and tensor list.
 */
export function writeArchGguf(spec: ArchSpec, file: string, opts: ArchGgufOptions = {}): ArchGguf {
  const arch = spec.arch;
  const type = opts.type ?? 'f32';
  const chat = opts.chatTemplate ?? (arch === 'llama' ? 'llama3' : 'chatml');
  const vocab = syntheticVocab(opts.vocab ?? 'small', chat);
  const cfg = resolveConfig(spec, vocab.tokens.length);
  const policy = OUTPUT_POLICY[arch];
  const tied = policy === 'tied' || (policy === 'optional' && (opts.tiedOutput ?? false));
  if (opts.tiedOutput === true && policy === 'required') throw new Error(`${arch}: llama.cpp requires output.weight, a tied variant cannot load`);
  if (opts.tiedOutput === false && policy === 'tied')
    throw new Error(`${arch}: llama.cpp always ties the output to token_embd; an output.weight would be rejected`);
  const metadata = archMetadata(cfg, vocab, {
    type,
    addBos: opts.addBos ?? chat === 'llama3',
    pre: opts.pre ?? (arch === 'llama' ? 'llama-bpe' : arch === 'qwen2' || arch === 'qwen3' ? 'qwen2' : 'gpt-2'),
  });

  const rand = signedRandom(opts.seed ?? ARCH_SEED[arch]);
  const tensors: GgufTensorBytes[] = [];
  const tensorValues = new Map<string, Float64Array>();
  const store = (name: string, values: Float64Array, ne: number[], quantizable: boolean): Float64Array => {
    const t = quantizable ? type : 'f32';
    const { bytes, decoded } = encode(values, ne[0], t);
    tensors.push({ name, ne, type: t, bytes });
    tensorValues.set(name, decoded);
    return decoded;
  };
  const randomArray = (n: number, scale: number, offset = 0) => {
    const a = new Float64Array(n);
    for (let i = 0; i < n; i++) a[i] = offset + scale * rand();
    return a;
  };
  // Uniform weights with about the variance of a trained layer's (std ≈ 0.9 / sqrt(in)), so that
  // activations neither vanish nor saturate over a few layers; q and k get a larger gain so that
  // attention patterns are peaked rather than near uniform.
  const GAIN = 1.5,
    QK_GAIN = 2.5;
  const matrixValues = (rows: number, cols: number, gain: number) => randomArray(rows * cols, gain / Math.sqrt(cols));
  /** A [rows, cols] torch-layout matrix, stored with ggml dims [cols, rows]. */
  const matrix = (name: string, rows: number, cols: number, gain = GAIN) => store(name, matrixValues(rows, cols, gain), [cols, rows], true);
  /** Matrices stacked by rows into one fused tensor; returns each part's stored values. */
  const fused = (name: string, parts: { rows: number; gain: number }[], cols: number): Float64Array[] => {
    const values = parts.map((part) => matrixValues(part.rows, cols, part.gain));
    const total = parts.reduce((s, part) => s + part.rows, 0);
    const all = new Float64Array(total * cols);
    let at = 0;
    for (const v of values) all.set(v, (at += v.length) - v.length);
    const stored = store(name, all, [cols, total], true);
    let start = 0;
    return parts.map((part) => rowsOf(stored, cols, start, (start += part.rows)));
  };
  const normWeight = (name: string, n: number) => store(name, randomArray(n, 0.2, 1), [n], false);
  const bias = (name: string, n: number) => store(name, randomArray(n, 0.1), [n], false);
  const fusedBias = (name: string, sizes: number[]): Float64Array[] => {
    const stored = bias(
      name,
      sizes.reduce((s, r) => s + r, 0),
    );
    let start = 0;
    return sizes.map((n) => stored.slice(start, (start += n)));
  };

  const { nEmbd: d, nFf: ff, nVocab: V } = cfg;
  const nq = cfg.nHead * cfg.headDim;
  const nkv = cfg.nHeadKv * cfg.headDim;
  const tokenEmbd = store('token_embd.weight', randomArray(V * d, 1), [d, V], true);

  const layers: ArchLayerWeights[] = [];
  for (let il = 0; il < cfg.nLayer; il++) {
    const p = `blk.${il}.`;
    let w: ArchLayerWeights;
    switch (arch) {
      case 'llama':
      case 'qwen2':
      case 'qwen3': {
        const attnNorm = normWeight(`${p}attn_norm.weight`, d);
        const wq = matrix(`${p}attn_q.weight`, nq, d, QK_GAIN);
        const wk = matrix(`${p}attn_k.weight`, nkv, d, QK_GAIN);
        const wv = matrix(`${p}attn_v.weight`, nkv, d);
        const biases = arch === 'qwen2' ? { bq: bias(`${p}attn_q.bias`, nq), bk: bias(`${p}attn_k.bias`, nkv), bv: bias(`${p}attn_v.bias`, nkv) } : {};
        const qkNorms =
          arch === 'qwen3' ? { qNorm: normWeight(`${p}attn_q_norm.weight`, cfg.headDim), kNorm: normWeight(`${p}attn_k_norm.weight`, cfg.headDim) } : {};
        const wo = matrix(`${p}attn_output.weight`, d, nq);
        const ffnNorm = normWeight(`${p}ffn_norm.weight`, d);
        const ffnGate = matrix(`${p}ffn_gate.weight`, ff, d);
        const ffnUp = matrix(`${p}ffn_up.weight`, ff, d);
        const ffnDown = matrix(`${p}ffn_down.weight`, d, ff);
        w = { attnNorm, wq, wk, wv, ...biases, ...qkNorms, wo, ffnNorm, ffnGate, ffnUp, ffnDown };
        break;
      }
      case 'olmo2': {
        const wq = matrix(`${p}attn_q.weight`, nq, d, QK_GAIN);
        const wk = matrix(`${p}attn_k.weight`, nkv, d, QK_GAIN);
        const wv = matrix(`${p}attn_v.weight`, nkv, d);
        const qNorm = normWeight(`${p}attn_q_norm.weight`, nq);
        const kNorm = normWeight(`${p}attn_k_norm.weight`, nkv);
        const wo = matrix(`${p}attn_output.weight`, d, nq);
        const attnPostNorm = normWeight(`${p}post_attention_norm.weight`, d);
        const ffnGate = matrix(`${p}ffn_gate.weight`, ff, d);
        const ffnUp = matrix(`${p}ffn_up.weight`, ff, d);
        const ffnDown = matrix(`${p}ffn_down.weight`, d, ff);
        const ffnPostNorm = normWeight(`${p}post_ffw_norm.weight`, d);
        w = { wq, wk, wv, qNorm, kNorm, wo, attnPostNorm, ffnGate, ffnUp, ffnDown, ffnPostNorm };
        break;
      }
      case 'gptneox': {
        const attnNorm = normWeight(`${p}attn_norm.weight`, d);
        const attnNormB = bias(`${p}attn_norm.bias`, d);
        const [wq, wk, wv] = fused(
          `${p}attn_qkv.weight`,
          [
            { rows: nq, gain: QK_GAIN },
            { rows: nkv, gain: QK_GAIN },
            { rows: nkv, gain: GAIN },
          ],
          d,
        );
        const [bq, bk, bv] = fusedBias(`${p}attn_qkv.bias`, [nq, nkv, nkv]);
        const wo = matrix(`${p}attn_output.weight`, d, nq);
        const bo = bias(`${p}attn_output.bias`, d);
        const ffnNorm = normWeight(`${p}ffn_norm.weight`, d);
        const ffnNormB = bias(`${p}ffn_norm.bias`, d);
        const ffnUp = matrix(`${p}ffn_up.weight`, ff, d);
        const ffnUpB = bias(`${p}ffn_up.bias`, ff);
        const ffnDown = matrix(`${p}ffn_down.weight`, d, ff);
        const ffnDownB = bias(`${p}ffn_down.bias`, d);
        w = { attnNorm, attnNormB, wq, wk, wv, bq, bk, bv, wo, bo, ffnNorm, ffnNormB, ffnUp, ffnUpB, ffnDown, ffnDownB };
        break;
      }
      case 'phi3': {
        const attnNorm = normWeight(`${p}attn_norm.weight`, d);
        const [wq, wk, wv] = fused(
          `${p}attn_qkv.weight`,
          [
            { rows: nq, gain: QK_GAIN },
            { rows: nkv, gain: QK_GAIN },
            { rows: nkv, gain: GAIN },
          ],
          d,
        );
        const wo = matrix(`${p}attn_output.weight`, d, nq);
        const ffnNorm = normWeight(`${p}ffn_norm.weight`, d);
        // ggml_swiglu applies silu to the first half of the fused rows and multiplies by the second.
        const [ffnGate, ffnUp] = fused(
          `${p}ffn_up.weight`,
          [
            { rows: ff, gain: GAIN },
            { rows: ff, gain: GAIN },
          ],
          d,
        );
        const ffnDown = matrix(`${p}ffn_down.weight`, d, ff);
        w = { attnNorm, wq, wk, wv, wo, ffnNorm, ffnGate, ffnUp, ffnDown };
        break;
      }
      case 'gemma2': {
        const attnNorm = normWeight(`${p}attn_norm.weight`, d);
        const wq = matrix(`${p}attn_q.weight`, nq, d, QK_GAIN);
        const wk = matrix(`${p}attn_k.weight`, nkv, d, QK_GAIN);
        const wv = matrix(`${p}attn_v.weight`, nkv, d);
        const wo = matrix(`${p}attn_output.weight`, d, nq);
        const attnPostNorm = normWeight(`${p}post_attention_norm.weight`, d);
        const ffnNorm = normWeight(`${p}ffn_norm.weight`, d);
        const ffnGate = matrix(`${p}ffn_gate.weight`, ff, d);
        const ffnUp = matrix(`${p}ffn_up.weight`, ff, d);
        const ffnDown = matrix(`${p}ffn_down.weight`, d, ff);
        const ffnPostNorm = normWeight(`${p}post_ffw_norm.weight`, d);
        w = { attnNorm, wq, wk, wv, wo, attnPostNorm, ffnNorm, ffnGate, ffnUp, ffnDown, ffnPostNorm };
        break;
      }
    }
    layers.push(w);
  }
  const outputNorm = normWeight('output_norm.weight', d);
  const outputNormB = arch === 'gptneox' ? bias('output_norm.bias', d) : undefined;
  const output = tied ? tokenEmbd : store('output.weight', randomArray(V * d, 1 / Math.sqrt(d)), [d, V], true);

  const kv = [...metadata].map(([k, v]) => encodeKv(k, v));
  const bytes = ggufFileBytes(kv, tensors);
  const unchanged = existsSync(file) && readFileSync(file).equals(bytes);
  if (!unchanged) {
    mkdirSync(dirname(file), { recursive: true });
    // Written beside and renamed, so a reader never sees half a file.
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, bytes);
    renameSync(tmp, file);
  }
  return {
    file,
    config: cfg,
    vocab,
    metadata,
    tensors: tensors.map(({ name, ne, type: t }) => ({ name, ne, type: t as ArchTensorType })),
    tensorValues,
    tied,
    tokenEmbd,
    output,
    outputNorm,
    ...(outputNormB ? { outputNormB } : {}),
    layers,
  };
}

/**
 * The synthetic GGUF of `arch` in `type` with these options, kept under .cache/test-checkpoints/arch-gguf/
 * (rewritten only when the generator's bytes change), and the values it stores.
 */
export function archGguf(arch: ArchName, type: ArchTensorType = 'f32', opts: Omit<ArchGgufOptions, 'type'> & { spec?: Omit<ArchSpec, 'arch'> } = {}): ArchGguf {
  const { spec, ...writerOpts } = opts;
  const key = createHash('sha256')
    .update(JSON.stringify({ spec: spec ?? {}, opts: writerOpts }))
    .digest('hex')
    .slice(0, 10);
  const vocabTag = typeof opts.vocab === 'number' ? `v${opts.vocab}` : 'small';
  const file = join(repoRoot, '.cache', 'test-checkpoints', 'arch-gguf', `${arch}-${type}-${vocabTag}-${key}.gguf`);
  return writeArchGguf({ ...spec, arch }, file, { ...writerOpts, type });
}

/** The path of archGguf's file (written on first use). */
export function archGgufPath(arch: ArchName, type: ArchTensorType = 'f32', opts: Parameters<typeof archGguf>[2] = {}): string {
  return archGguf(arch, type, opts).file;
}
