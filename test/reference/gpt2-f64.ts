// Float64 reference GPT-2: the oracle the engine's parity tests compare against.
//
// Written independently of the C++ engine and of lib/: its own safetensors reader, plain loops,
// every intermediate in float64. Slow by design (fine for the tiny test models; a gpt2-medium
// shaped forward over a few dozen tokens takes seconds).
//
// Hook points (TransformerLens names without `hook_`), all row-major Float64Array:
//   embed                     [n, d]          wte[id] + wpe[pos]
//   blocks.L.attn_head_out    [n, n_head, d]  each head's output through its rows of attn.c_proj, no bias:
//                                             z_h · W_O[h·hd..(h+1)·hd, :]; Σ_h + c_proj bias = attn_out
//                                             (computed on first access)
//   blocks.L.attn_out         [n, d]          attention output after c_proj + bias
//   blocks.L.resid_mid        [n, d]          resid_pre + attn_out
//   blocks.L.mlp_post         [n, 4d]         GELU (tanh form) output, input of mlp.c_proj
//   blocks.L.mlp_out          [n, d]          MLP output after c_proj + bias
//   blocks.L.resid_post       [n, d]          resid_mid + mlp_out (resid_pre of block L+1)
//   blocks.L.attn_pattern     [n_head, n, n]  softmax weights [head][query][key], zero above the diagonal
//   logits                    [n, vocab]      wte · LN_f(resid_post of the last block), every position
//                                             (with opts.logits = 'last': [1, vocab], the last position)
// n = number of input tokens. No BOS is prepended.
//
// Interventions (opts.interventions) edit a hook's value inside the forward, at the hook point:
// the edited value is what the rest of the forward (later hooks, the logits) sees, and what the hook
// itself reports. Ops: add (v), set (v), scale (factor), zero; positions 'all' (default) or a list
// (negative = from the end); for blocks.L.mlp_post an optional neuron list restricts the op to those
// neurons. Several interventions on one hook apply in the order given.

import fs from 'node:fs';
import path from 'node:path';
import { readSafetensors, type SafetensorsDtype } from './read-safetensors.js';

export interface RefConfig {
  n_layer: number;
  n_embd: number;
  n_head: number;
  n_ctx: number;
  n_vocab: number;
  eps: number;
}

/** Weights of one block, Conv1D layout [in, out] row-major as in the file. */
export interface RefBlock {
  ln1_w: Float64Array; // [d]
  ln1_b: Float64Array; // [d]
  attn_w: Float64Array; // [d, 3d]  (Q | K | V)
  attn_b: Float64Array; // [3d]
  attn_proj_w: Float64Array; // [d, d]
  attn_proj_b: Float64Array; // [d]
  ln2_w: Float64Array; // [d]
  ln2_b: Float64Array; // [d]
  fc_w: Float64Array; // [d, 4d]
  fc_b: Float64Array; // [4d]
  proj_w: Float64Array; // [4d, d]
  proj_b: Float64Array; // [d]
}

export interface RefModel {
  dir: string;
  config: RefConfig;
  /** dtype of the (non-buffer) weights in the file; values are exact float64 conversions */
  dtype: SafetensorsDtype;
  wte: Float64Array; // [vocab, d]
  wpe: Float64Array; // [n_ctx, d]
  blocks: RefBlock[];
  lnf_w: Float64Array; // [d]
  lnf_b: Float64Array; // [d]
}

/** d-wide and 4d-wide hook kinds of one block, in the result's output order. */
export const VECTOR_BLOCK_KINDS = ['attn_out', 'resid_mid', 'mlp_post', 'mlp_out', 'resid_post'] as const;
export type VectorBlockKind = (typeof VECTOR_BLOCK_KINDS)[number];

/** Vector hook names in the result's order: embed, then per block attn_out … resid_post. */
export function vectorHookNames(nLayer: number): string[] {
  const names = ['embed'];
  for (let l = 0; l < nLayer; l++) for (const k of VECTOR_BLOCK_KINDS) names.push(`blocks.${l}.${k}`);
  return names;
}

function configNumber(cfg: Record<string, unknown>, ...keys: string[]): number {
  for (const k of keys) {
    const v = cfg[k];
    if (typeof v === 'number' && Number.isFinite(v)) return v;
  }
  throw new Error(`config.json: missing ${keys.join(' / ')}`);
}

/** Load config.json + model.safetensors of a GPT-2 checkpoint directory into float64. */
export function loadReference(dir: string): RefModel {
  const cfgRaw = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
  const config: RefConfig = {
    n_layer: configNumber(cfgRaw, 'n_layer', 'num_hidden_layers'),
    n_embd: configNumber(cfgRaw, 'n_embd', 'hidden_size'),
    n_head: configNumber(cfgRaw, 'n_head', 'num_attention_heads'),
    n_ctx: configNumber(cfgRaw, 'n_positions', 'n_ctx'),
    n_vocab: configNumber(cfgRaw, 'vocab_size'),
    eps: typeof cfgRaw['layer_norm_epsilon'] === 'number' ? (cfgRaw['layer_norm_epsilon'] as number) : 1e-5,
  };
  const act = cfgRaw['activation_function'];
  if (act !== undefined && act !== 'gelu_new') throw new Error(`config.json: activation_function ${String(act)} (only gelu_new)`);
  if (config.n_embd % config.n_head !== 0) throw new Error('config.json: n_embd not a multiple of n_head');

  const isBuffer = (name: string): boolean => /\.attn\.(bias|masked_bias)$/.test(name);
  const st = readSafetensors(path.join(dir, 'model.safetensors'), { skip: isBuffer });
  const used = new Set<string>();
  const d = config.n_embd;
  let dtype: SafetensorsDtype | undefined;
  const take = (name: string, shape: number[]): Float64Array => {
    const t = st.tensors.get(name);
    if (!t) throw new Error(`model.safetensors: missing tensor ${name}`);
    if (t.shape.length !== shape.length || t.shape.some((s, i) => s !== shape[i])) {
      throw new Error(`model.safetensors: ${name} has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
    }
    dtype ??= t.dtype;
    used.add(name);
    return t.data;
  };

  const wte = take('wte.weight', [config.n_vocab, d]);
  const wpe = take('wpe.weight', [config.n_ctx, d]);
  const blocks: RefBlock[] = [];
  for (let l = 0; l < config.n_layer; l++) {
    const p = `h.${l}.`;
    blocks.push({
      ln1_w: take(`${p}ln_1.weight`, [d]),
      ln1_b: take(`${p}ln_1.bias`, [d]),
      attn_w: take(`${p}attn.c_attn.weight`, [d, 3 * d]),
      attn_b: take(`${p}attn.c_attn.bias`, [3 * d]),
      attn_proj_w: take(`${p}attn.c_proj.weight`, [d, d]),
      attn_proj_b: take(`${p}attn.c_proj.bias`, [d]),
      ln2_w: take(`${p}ln_2.weight`, [d]),
      ln2_b: take(`${p}ln_2.bias`, [d]),
      fc_w: take(`${p}mlp.c_fc.weight`, [d, 4 * d]),
      fc_b: take(`${p}mlp.c_fc.bias`, [4 * d]),
      proj_w: take(`${p}mlp.c_proj.weight`, [4 * d, d]),
      proj_b: take(`${p}mlp.c_proj.bias`, [d]),
    });
  }
  const lnf_w = take('ln_f.weight', [d]);
  const lnf_b = take('ln_f.bias', [d]);
  for (const name of st.tensors.keys()) {
    if (!used.has(name) && name !== 'lm_head.weight') throw new Error(`model.safetensors: unexpected tensor ${name}`);
  }
  return { dir, config, dtype: dtype ?? 'F32', wte, wpe, blocks, lnf_w, lnf_b };
}

// ---------------------------------------------------------------------------------------------
// Building blocks (float64, straightforward loops)

/** PyTorch LayerNorm over each row of x [rows, d]: biased variance, eps inside the sqrt. */
export function layerNorm(x: Float64Array, rows: number, d: number, w: Float64Array, b: Float64Array, eps: number): Float64Array {
  const y = new Float64Array(rows * d);
  for (let r = 0; r < rows; r++) {
    const o = r * d;
    let mean = 0;
    for (let i = 0; i < d; i++) mean += x[o + i]!;
    mean /= d;
    let v = 0;
    for (let i = 0; i < d; i++) {
      const c = x[o + i]! - mean;
      v += c * c;
    }
    v /= d;
    const inv = 1 / Math.sqrt(v + eps);
    for (let i = 0; i < d; i++) y[o + i] = (x[o + i]! - mean) * inv * w[i]! + b[i]!;
  }
  return y;
}

/** gelu_new: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
export function geluNew(x: number): number {
  return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
}

/** y [rows, out] = x [rows, in] · W [in, out] + b  (Conv1D layout), loop order i-k-j. */
export function linear(x: Float64Array, rows: number, inDim: number, w: Float64Array, outDim: number, b: Float64Array): Float64Array {
  const y = new Float64Array(rows * outDim);
  for (let r = 0; r < rows; r++) {
    const yo = r * outDim;
    for (let j = 0; j < outDim; j++) y[yo + j] = b[j]!;
    for (let k = 0; k < inDim; k++) {
      const a = x[r * inDim + k]!;
      const wo = k * outDim;
      for (let j = 0; j < outDim; j++) y[yo + j]! += a * w[wo + j]!;
    }
  }
  return y;
}

/** Numerically stable softmax in float64. */
export function softmax64(logits: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i]! > max) max = logits[i]!;
  const out = new Float64Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    const e = Math.exp(logits[i]! - max);
    out[i] = e;
    sum += e;
  }
  for (let i = 0; i < out.length; i++) out[i]! /= sum;
  return out;
}

/** Unembedding of already-normalized rows: y [rows, vocab] = x [rows, d] · wteᵀ. */
function unembed(model: RefModel, x: Float64Array, rows: number): Float64Array {
  const { n_embd: d, n_vocab: V } = model.config;
  const wte = model.wte;
  const y = new Float64Array(rows * V);
  for (let r = 0; r < rows; r++) {
    const xo = r * d;
    for (let v = 0; v < V; v++) {
      const wo = v * d;
      let s = 0;
      for (let i = 0; i < d; i++) s += x[xo + i]! * wte[wo + i]!;
      y[r * V + v] = s;
    }
  }
  return y;
}

// ---------------------------------------------------------------------------------------------
// Forward

interface Entry {
  shape: number[];
  /** the values, or (for entries computed on first access) undefined until then */
  data: Float64Array | undefined;
  compute?: () => Float64Array;
  /** for logits computed for the last position only: the position of row 0 */
  firstPos: number;
}

/** Every hook point of one forward pass, float64, row-major. See the table at the top. */
export class RefActivations {
  readonly n: number;
  readonly ids: readonly number[];
  readonly config: RefConfig;
  private readonly store = new Map<string, Entry>();

  constructor(ids: readonly number[], config: RefConfig) {
    this.ids = [...ids];
    this.n = ids.length;
    this.config = config;
  }

  /** @internal */
  set(name: string, shape: number[], data: Float64Array, firstPos = 0): void {
    this.store.set(name, { shape, data, firstPos });
  }

  /** @internal A hook point computed on first access (so that unused ones cost nothing). */
  setLazy(name: string, shape: number[], compute: () => Float64Array): void {
    this.store.set(name, { shape, data: undefined, compute, firstPos: 0 });
  }

  has(name: string): boolean {
    return this.store.has(name);
  }

  names(): string[] {
    return [...this.store.keys()];
  }

  /** The whole tensor, row-major, shape given by shape(name). */
  get(name: string): Float64Array {
    return this.entry(name).data;
  }

  shape(name: string): number[] {
    return [...this.entry(name).shape];
  }

  /**
   * One position: the row at `pos` for [n, w] tensors (a `w`-long copy; [n, H, d] tensors such as
   * attn_head_out give their H·d values, head-major), or for `blocks.L.attn_pattern` the weights of
   * query `pos`, [n_head, n] (zero for keys after pos).
   */
  row(name: string, pos: number): Float64Array {
    const e = this.entry(name);
    if (!Number.isInteger(pos) || pos < 0 || pos >= this.n) throw new RangeError(`position ${pos} outside [0, ${this.n})`);
    if (name.endsWith('.attn_pattern')) {
      const [H, nq, nk] = e.shape as [number, number, number];
      const out = new Float64Array(H * nk);
      for (let h = 0; h < H; h++) out.set(e.data.subarray((h * nq + pos) * nk, (h * nq + pos + 1) * nk), h * nk);
      return out;
    }
    const r = pos - e.firstPos;
    const rows = e.shape[0]!;
    const w = e.shape.slice(1).reduce((a, b) => a * b, 1);
    if (r < 0 || r >= rows) throw new RangeError(`${name} was not computed for position ${pos}`);
    return e.data.slice(r * w, (r + 1) * w);
  }

  private entry(name: string): Entry & { data: Float64Array } {
    const e = this.store.get(name);
    if (!e) throw new Error(`no hook point ${JSON.stringify(name)} (have: ${this.names().join(', ')})`);
    if (e.data === undefined) {
      e.data = e.compute!();
      delete e.compute;
    }
    return e as Entry & { data: Float64Array };
  }
}

/** An edit of one hook's value inside the forward (the same shape as lib/types.ts's Intervention). */
export interface RefIntervention {
  /** a d-wide hook (embed, blocks.L.attn_out|resid_mid|mlp_out|resid_post) or blocks.L.mlp_post */
  hook: string;
  /** token positions the edit applies to; default 'all'; negative = from the end */
  positions?: 'all' | readonly number[];
  op: 'add' | 'set' | 'scale' | 'zero';
  /** add/set: the hook's width (n_embd, or 4·n_embd for mlp_post) */
  vector?: ArrayLike<number>;
  /** scale: the factor */
  scale?: number;
  /** mlp_post only: apply the op to these neurons only (for add/set, the vector's entries at them) */
  neurons?: readonly number[];
}

export interface ForwardOptions {
  /** which positions get logits: every one (default), only the last, or none */
  logits?: 'all' | 'last' | 'none';
  /** edits applied at their hook points, in the order given (see the header) */
  interventions?: readonly RefIntervention[];
}

const EDITABLE = new Set(['attn_out', 'resid_mid', 'mlp_post', 'mlp_out', 'resid_post']);

interface ResolvedIntervention {
  op: RefIntervention['op'];
  positions: number[];
  /** indices within a row the op touches; null = the whole row */
  indices: number[] | null;
  vector: Float64Array | null;
  scale: number;
}

/** Checks every intervention against the model and prompt; returns them grouped by hook name. */
function resolveInterventions(model: RefModel, n: number, list: readonly RefIntervention[]): Map<string, ResolvedIntervention[]> {
  const { n_layer, n_embd: d } = model.config;
  const out = new Map<string, ResolvedIntervention[]>();
  list.forEach((iv, i) => {
    const what = `intervention ${i} (${JSON.stringify(iv?.hook)})`;
    if (typeof iv !== 'object' || iv === null) throw new TypeError(`intervention ${i} is not an object`);
    let width: number;
    let kind: string;
    if (iv.hook === 'embed') {
      kind = 'embed';
      width = d;
    } else {
      const m = typeof iv.hook === 'string' ? /^blocks\.(\d+)\.([a-z_]+)$/.exec(iv.hook) : null;
      if (!m) throw new Error(`${what}: unknown hook`);
      kind = m[2]!;
      if (Number(m[1]) >= n_layer) throw new Error(`${what}: block ${m[1]} is out of range (0..${n_layer - 1})`);
      if (!EDITABLE.has(kind)) throw new Error(`${what}: ${kind} cannot be intervened on`);
      width = kind === 'mlp_post' ? 4 * d : d;
    }
    if (!['add', 'set', 'scale', 'zero'].includes(iv.op)) throw new Error(`${what}: unknown op ${JSON.stringify(iv.op)}`);
    let positions: number[];
    if (iv.positions === undefined || iv.positions === 'all') positions = Array.from({ length: n }, (_, p) => p);
    else {
      if (!Array.isArray(iv.positions) || iv.positions.length === 0) throw new Error(`${what}: positions must be 'all' or a non-empty list`);
      // A position listed twice (e.g. 25 and -1) is edited once.
      const set = new Set<number>();
      for (const p of iv.positions as readonly number[]) {
        if (!Number.isInteger(p) || p < -n || p >= n) throw new Error(`${what}: position ${p} outside the ${n} tokens`);
        set.add(p < 0 ? n + p : p);
      }
      positions = [...set].sort((a, b) => a - b);
    }
    let indices: number[] | null = null;
    if (iv.neurons !== undefined) {
      if (kind !== 'mlp_post') throw new Error(`${what}: neurons apply to mlp_post only`);
      indices = iv.neurons.map((j) => {
        if (!Number.isInteger(j) || j < 0 || j >= width) throw new Error(`${what}: neuron ${j} outside 0..${width - 1}`);
        return j;
      });
      indices = [...new Set(indices)];
    }
    let vector: Float64Array | null = null;
    if (iv.op === 'add' || iv.op === 'set') {
      if (!iv.vector || iv.vector.length !== width) throw new Error(`${what}: ${iv.op} needs a vector of ${width} values, got ${iv.vector?.length ?? 'none'}`);
      vector = Float64Array.from(iv.vector);
    }
    let scale = 1;
    if (iv.op === 'scale') {
      if (typeof iv.scale !== 'number' || !Number.isFinite(iv.scale)) throw new Error(`${what}: scale needs a finite number`);
      scale = iv.scale;
    }
    const entry: ResolvedIntervention = { op: iv.op, positions, indices, vector, scale };
    const group = out.get(iv.hook);
    if (group) group.push(entry);
    else out.set(iv.hook, [entry]);
  });
  return out;
}

/** Applies a hook's interventions in place to x [n, width]. */
function applyInterventions(x: Float64Array, width: number, list: readonly ResolvedIntervention[] | undefined): void {
  if (!list) return;
  for (const iv of list) {
    for (const p of iv.positions) {
      const o = p * width;
      const edit = (j: number): void => {
        switch (iv.op) {
          case 'add':
            x[o + j]! += iv.vector![j]!;
            break;
          case 'set':
            x[o + j] = iv.vector![j]!;
            break;
          case 'scale':
            x[o + j]! *= iv.scale;
            break;
          case 'zero':
            x[o + j] = 0;
            break;
        }
      };
      if (iv.indices) for (const j of iv.indices) edit(j);
      else for (let j = 0; j < width; j++) edit(j);
    }
  }
}

function checkIds(model: RefModel, ids: readonly number[]): void {
  const { n_vocab, n_ctx } = model.config;
  if (ids.length === 0) throw new Error('forwardReference: no tokens');
  if (ids.length > n_ctx) throw new Error(`forwardReference: ${ids.length} tokens exceed n_ctx ${n_ctx}`);
  for (const id of ids) {
    if (!Number.isInteger(id) || id < 0 || id >= n_vocab) throw new Error(`forwardReference: token id ${id} outside [0, ${n_vocab})`);
  }
}

/** Full GPT-2 forward in float64 over all positions; returns every hook point. */
export function forwardReference(model: RefModel, ids: readonly number[], opts: ForwardOptions = {}): RefActivations {
  checkIds(model, ids);
  const { n_layer, n_embd: d, n_head: H, eps } = model.config;
  const n = ids.length;
  const hd = d / H;
  const scale = 1 / Math.sqrt(hd);
  const acts = new RefActivations(ids, model.config);
  const edits = resolveInterventions(model, n, opts.interventions ?? []);

  let x = new Float64Array(n * d);
  for (let p = 0; p < n; p++) {
    const t = ids[p]!;
    for (let i = 0; i < d; i++) x[p * d + i] = model.wte[t * d + i]! + model.wpe[p * d + i]!;
  }
  applyInterventions(x, d, edits.get('embed'));
  acts.set('embed', [n, d], x);

  for (let l = 0; l < n_layer; l++) {
    const blk = model.blocks[l]!;
    // attention
    const h1 = layerNorm(x, n, d, blk.ln1_w, blk.ln1_b, eps);
    const qkv = linear(h1, n, d, blk.attn_w, 3 * d, blk.attn_b); // [n, 3d]
    const pattern = new Float64Array(H * n * n);
    const z = new Float64Array(n * d);
    const scores = new Float64Array(n);
    for (let h = 0; h < H; h++) {
      const qo = h * hd;
      const ko = d + h * hd;
      const vo = 2 * d + h * hd;
      for (let i = 0; i < n; i++) {
        let max = -Infinity;
        for (let j = 0; j <= i; j++) {
          let s = 0;
          for (let c = 0; c < hd; c++) s += qkv[i * 3 * d + qo + c]! * qkv[j * 3 * d + ko + c]!;
          s *= scale;
          scores[j] = s;
          if (s > max) max = s;
        }
        let sum = 0;
        for (let j = 0; j <= i; j++) {
          const e = Math.exp(scores[j]! - max);
          scores[j] = e;
          sum += e;
        }
        const prow = (h * n + i) * n;
        for (let j = 0; j <= i; j++) pattern[prow + j] = scores[j]! / sum;
        for (let j = 0; j <= i; j++) {
          const a = pattern[prow + j]!;
          for (let c = 0; c < hd; c++) z[i * d + qo + c]! += a * qkv[j * 3 * d + vo + c]!;
        }
      }
    }
    const p = `blocks.${l}.`;
    const attnOut = linear(z, n, d, blk.attn_proj_w, d, blk.attn_proj_b);
    applyInterventions(attnOut, d, edits.get(`${p}attn_out`));
    const mid = new Float64Array(n * d);
    for (let i = 0; i < n * d; i++) mid[i] = x[i]! + attnOut[i]!;
    applyInterventions(mid, d, edits.get(`${p}resid_mid`));
    // MLP
    const h2 = layerNorm(mid, n, d, blk.ln2_w, blk.ln2_b, eps);
    const pre = linear(h2, n, d, blk.fc_w, 4 * d, blk.fc_b);
    const post = new Float64Array(pre.length);
    for (let i = 0; i < pre.length; i++) post[i] = geluNew(pre[i]!);
    applyInterventions(post, 4 * d, edits.get(`${p}mlp_post`));
    const mlpOut = linear(post, n, 4 * d, blk.proj_w, d, blk.proj_b);
    applyInterventions(mlpOut, d, edits.get(`${p}mlp_out`));
    const resid = new Float64Array(n * d);
    for (let i = 0; i < n * d; i++) resid[i] = mid[i]! + mlpOut[i]!;
    applyInterventions(resid, d, edits.get(`${p}resid_post`));

    // Per-head outputs [n, H, d]: head h's slice of z through rows h·hd..(h+1)·hd of c_proj, no bias.
    const projW = blk.attn_proj_w;
    acts.setLazy(`${p}attn_head_out`, [n, H, d], () => {
      const heads = new Float64Array(n * H * d);
      for (let i = 0; i < n; i++) {
        for (let h = 0; h < H; h++) {
          const ho = (i * H + h) * d;
          for (let c = 0; c < hd; c++) {
            const k = h * hd + c;
            const a = z[i * d + k]!;
            const wo = k * d;
            for (let j = 0; j < d; j++) heads[ho + j]! += a * projW[wo + j]!;
          }
        }
      }
      return heads;
    });
    acts.set(`${p}attn_out`, [n, d], attnOut);
    acts.set(`${p}resid_mid`, [n, d], mid);
    acts.set(`${p}mlp_post`, [n, 4 * d], post);
    acts.set(`${p}mlp_out`, [n, d], mlpOut);
    acts.set(`${p}resid_post`, [n, d], resid);
    acts.set(`${p}attn_pattern`, [H, n, n], pattern);
    x = resid;
  }

  const mode = opts.logits ?? 'all';
  if (mode !== 'none') {
    const first = mode === 'last' ? n - 1 : 0;
    const rows = n - first;
    const normed = layerNorm(x.subarray(first * d), rows, d, model.lnf_w, model.lnf_b, eps);
    acts.set('logits', [rows, model.config.n_vocab], unembed(model, normed, rows), first);
  }
  return acts;
}

/** Raw lens logits of one d-wide vector: wte · LN_f(vector) (LN statistics of this vector). */
export function lensLogitsReference(model: RefModel, vector: ArrayLike<number>): Float64Array {
  const d = model.config.n_embd;
  if (vector.length !== d) throw new Error(`lens: vector of length ${vector.length}, expected ${d}`);
  const normed = layerNorm(Float64Array.from(vector), 1, d, model.lnf_w, model.lnf_b, model.config.eps);
  return unembed(model, normed, 1);
}

/** Logit lens of one d-wide vector: softmax(wte · LN_f(vector)), float64 over the vocabulary. */
export function lensReference(model: RefModel, vector: ArrayLike<number>): Float64Array {
  return softmax64(lensLogitsReference(model, vector));
}

/** Index of the largest value (first one on ties). */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

/**
 * Greedy decoding by repeated full forwards (no KV cache): returns the `count` new token ids
 * (the prompt not included).
 */
export function greedyReference(model: RefModel, ids: readonly number[], count: number): number[] {
  if (!Number.isInteger(count) || count < 0) throw new Error(`greedyReference: bad count ${count}`);
  if (count > 0 && ids.length + count - 1 > model.config.n_ctx) {
    throw new Error(`greedyReference: ${ids.length} + ${count} tokens exceed n_ctx ${model.config.n_ctx}`);
  }
  const seq = [...ids];
  const out: number[] = [];
  for (let s = 0; s < count; s++) {
    const acts = forwardReference(model, seq, { logits: 'last' });
    const next = argmax(acts.row('logits', seq.length - 1));
    out.push(next);
    seq.push(next);
  }
  return out;
}

/** ‖actual − expected‖₂ / ‖expected‖₂ (the parity metric of every engine test). */
export function relativeL2Error(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} vs ${expected.length}`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < expected.length; i++) {
    const diff = actual[i]! - expected[i]!;
    num += diff * diff;
    den += expected[i]! * expected[i]!;
  }
  if (den === 0) return num === 0 ? 0 : Infinity;
  return Math.sqrt(num / den);
}
