// The tuned lens (Belrose et al., the tuned-lens package): one affine "translator" per residual stream
// position i = 0 … n_layer−1, acting on Hugging Face's hidden_states[i] (translator 0 on `embed`,
// translator i on `blocks.{i-1}.resid_post`) and *added* to it before the usual lens:
//   logits_i = W_U · ln_f(h_i + (A_i h_i + b_i)).
// The last block's resid_post has no translator: its lens is the model's own output.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hookName } from '../../hooks.js';
import type { HookKind, ModelInfo } from '../../types.js';
import { loadTorchStateDict, type LoadedTensor } from './torch-load.js';
import { readSafetensorsTensors, writeSafetensorsTensors } from './safetensors.js';

export interface TunedLensConfig {
  /** The model the lens was trained on (`base_model_name_or_path`), e.g. "gpt2". */
  baseModel: string;
  /** Residual width (`d_model`). */
  dModel: number;
  /** Number of translators (`num_hidden_layers`) = the model's n_layer. */
  numLayers: number;
  /** Whether the translators have a bias. */
  bias: boolean;
  /** `unembed_hash` (older files: `unemebd_hash`), kept for reference; not checked. */
  unembedHash?: string;
}

export interface Translator {
  /** A_i, row-major [d_out, d_in] (PyTorch's Linear layout). */
  weight: Float32Array;
  /** b_i, or null when the lens has no bias. */
  bias: Float32Array | null;
}

export interface TunedLens {
  config: TunedLensConfig;
  /** translators[i] acts on hidden_states[i]. */
  translators: Translator[];
  /** Where it was loaded from (the folder), for messages. */
  source: string;
}

function configError(source: string, message: string, cause?: unknown): Error {
  return new Error(`tuned lens at ${source}: ${message}`, cause === undefined ? undefined : { cause });
}

/** Parses and checks a tuned-lens config.json. */
export function parseTunedLensConfig(json: unknown, source: string): TunedLensConfig {
  if (typeof json !== 'object' || json === null) throw configError(source, 'config.json is not an object');
  const c = json as Record<string, unknown>;
  if (c.lens_type !== undefined && c.lens_type !== 'linear_tuned_lens')
    throw configError(source, `lens_type is ${JSON.stringify(c.lens_type)}; only "linear_tuned_lens" is supported`);
  const int = (key: string) => {
    const v = c[key];
    if (!Number.isSafeInteger(v) || (v as number) < 1) throw configError(source, `config.json needs a positive integer ${key}, got ${JSON.stringify(v)}`);
    return v as number;
  };
  const hash = c.unembed_hash ?? c.unemebd_hash;
  return {
    baseModel: typeof c.base_model_name_or_path === 'string' ? c.base_model_name_or_path : '',
    dModel: int('d_model'),
    numLayers: int('num_hidden_layers'),
    bias: c.bias === undefined ? true : c.bias === true,
    ...(typeof hash === 'string' ? { unembedHash: hash } : {}),
  };
}

/** Picks translators `{i}.weight` / `{i}.bias` out of a state dict and checks every shape. */
export function translatorsFromStateDict(tensors: ReadonlyMap<string, LoadedTensor>, config: TunedLensConfig, source: string): Translator[] {
  const d = config.dModel;
  const expected = new Set<string>();
  const get = (key: string, shape: number[]) => {
    expected.add(key);
    const t = tensors.get(key);
    if (!t) throw configError(source, `the weights have no ${key}`);
    if (t.shape.length !== shape.length || t.shape.some((n, i) => n !== shape[i]))
      throw configError(source, `${key} has shape [${t.shape.join(', ')}]; d_model ${d} needs [${shape.join(', ')}]`);
    return t.data;
  };
  const translators = Array.from({ length: config.numLayers }, (_, i) => ({
    weight: get(`${i}.weight`, [d, d]),
    bias: config.bias ? get(`${i}.bias`, [d]) : null,
  }));
  const extra = [...tensors.keys()].filter((k) => !expected.has(k));
  if (extra.length) throw configError(source, `unexpected weights ${extra.slice(0, 5).join(', ')}${extra.length > 5 ? ', …' : ''}`);
  return translators;
}

/**
 * Loads a tuned lens folder: config.json plus params.safetensors if present, else params.pt (torch.save
 * zip, read by a restricted unpickler that refuses any global other than the tensor constructors).
 */
export async function loadTunedLens(dir: string): Promise<TunedLens> {
  const configPath = join(dir, 'config.json');
  if (!existsSync(configPath)) throw configError(dir, 'no config.json (a tuned lens is a folder with config.json and params.pt)');
  let json: unknown;
  try {
    json = JSON.parse(await readFile(configPath, 'utf8'));
  } catch (e) {
    throw configError(dir, `config.json is not JSON (${(e as Error).message})`, e);
  }
  const config = parseTunedLensConfig(json, dir);
  const st = join(dir, 'params.safetensors');
  const pt = join(dir, 'params.pt');
  let tensors: Map<string, LoadedTensor>;
  // Read asynchronously: a gpt2-xl lens is ~490 MB, and decodeLayers must not block the event loop.
  if (existsSync(st)) tensors = readSafetensorsTensors(await readFile(st), st);
  else if (existsSync(pt)) tensors = loadTorchStateDict(await readFile(pt), pt);
  else throw configError(dir, 'no params.pt or params.safetensors');
  return { config, translators: translatorsFromStateDict(tensors, config, dir), source: dir };
}

/** The translators as a safetensors file (`params.safetensors` beside config.json loads in place of params.pt). */
export function tunedLensToSafetensors(lens: TunedLens): Uint8Array {
  const d = lens.config.dModel;
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  lens.translators.forEach((t, i) => {
    tensors.set(`${i}.weight`, { shape: [d, d], data: t.weight });
    if (t.bias) tensors.set(`${i}.bias`, { shape: [d], data: t.bias });
  });
  return writeSafetensorsTensors(tensors);
}

/** A model name without its hub owner or folders, lower-cased: "openai-community/gpt2" → "gpt2". */
function bareName(name: string): string {
  return name
    .replace(/[\\/]+$/, '')
    .split(/[\\/]/)
    .pop()!
    .toLowerCase();
}

/** The models each lens was already warned about (a lens loaded once and decoded with many times warns once per model). */
const warnedOtherModel = new WeakMap<TunedLens, Set<string>>();

/**
 * Checks a lens against a model. Width and depth must match (an error otherwise). The base model's name
 * only gives a warning when it differs, since a local folder's name need not be the hub id.
 */
export function checkTunedLens(lens: TunedLens, info: ModelInfo): void {
  const { config } = lens;
  if (config.dModel !== info.n_embd) throw configError(lens.source, `d_model is ${config.dModel} but the model ${info.name} has n_embd ${info.n_embd}`);
  if (config.numLayers !== info.n_layer)
    throw configError(lens.source, `num_hidden_layers is ${config.numLayers} but the model ${info.name} has n_layer ${info.n_layer}`);
  const warned = warnedOtherModel.get(lens) ?? new Set<string>();
  if (config.baseModel && bareName(config.baseModel) !== bareName(info.name) && !warned.has(info.name)) {
    warnedOtherModel.set(lens, warned.add(info.name));
    process.emitWarning(`the tuned lens at ${lens.source} was trained on ${config.baseModel}, applied to ${info.name}`, { code: 'LAYERLENS_TUNED_LENS_MODEL' });
  }
}

/** Which translator acts on a hook: 0 for `embed`, i for `blocks.{i-1}.resid_post`; null when none does. */
export function translatorIndex(kind: HookKind, layer: number | null, nLayer: number): number | null {
  if (kind === 'embed') return 0;
  if (kind === 'resid_post' && layer !== null && layer < nLayer - 1) return layer + 1;
  return null;
}

/** The hook a translator acts on. */
export function translatedHook(i: number): string {
  return i === 0 ? hookName('embed', null) : hookName('resid_post', i - 1);
}

/** rows (row-major [count, d]) → h + A h + b per row, accumulated in float64, rounded to float32. */
export function translateRows(t: Translator, rows: Float32Array, count: number, d: number): Float32Array {
  const out = new Float32Array(count * d);
  const { weight: A, bias: b } = t;
  for (let r = 0; r < count; r++) {
    const h = rows.subarray(r * d, (r + 1) * d);
    for (let o = 0; o < d; o++) {
      let s = h[o] + (b ? b[o] : 0);
      const w = o * d;
      for (let j = 0; j < d; j++) s += A[w + j] * h[j];
      out[r * d + o] = s;
    }
  }
  return out;
}
