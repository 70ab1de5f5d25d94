// decodeLayers: prompt → tokens → one native forward with capture → lens of every captured d-wide
// row → the typed result (see LensResult in types.ts and the JSON shape in docs/architecture.md).
import { hookName, isLensable, resolveHooks, type HookSpec } from './hooks.js';
import { lensTopK, type LensImpl } from './lens/apply.js';
import { loadModel, Model, resolvePositions, type PositionSpec } from './model.js';
import { encode, tokenText, vocabSize } from './tokenizer.js';
import type { Activation, HookLens, LensResult } from './types.js';

export interface DecodeOptions {
  /** A loaded Model, or a path / hub id to load (loaded models are cached; see releaseModels()). Default: gpt2-medium from the local HF cache. */
  model?: Model | string;
  /** Entries per lens row, 1..n_vocab. Default 5. */
  topK?: number;
  /** Hook names, kinds, 'all' or 'default' (embed + every block's resid_mid and resid_post). */
  hooks?: HookSpec;
  /** Token positions to lens: 'last' (default), 'all' or a list (negative = from the end). */
  positions?: PositionSpec;
  /** Attach each captured row to its lens row as `vector`. */
  vectors?: boolean;
  /** Called once per captured tensor, in hook order, before the lens runs. */
  onActivation?: (activation: Activation) => void;
  /** Lens implementation; 'native' (default) or the plain-TS 'reference'. */
  lens?: LensImpl;
}

const loaded = new Map<string, Promise<Model>>();

/** Loads (once per process) the model named by a path or hub id. */
export function sharedModel(name: string | undefined): Promise<Model> {
  const key = name ?? '';
  let p = loaded.get(key);
  if (!p) {
    p = loadModel(name);
    loaded.set(key, p);
    p.catch(() => loaded.delete(key));
  }
  return p;
}

/** Disposes the models decodeLayers()/generate() loaded by name. */
export async function releaseModels(): Promise<void> {
  const models = [...loaded.values()];
  loaded.clear();
  for (const p of models) (await p.catch(() => undefined))?.dispose();
}

export async function modelFrom(model: Model | string | undefined): Promise<Model> {
  if (model instanceof Model) return model;
  if (model !== undefined && typeof model !== 'string') throw new TypeError('model must be a Model (from loadModel) or a path / hub id string');
  return sharedModel(model);
}

/** Token text, or a placeholder for ids a padded vocabulary has beyond the tokenizer's 50257. */
export function tokenLabel(id: number): string {
  return id < vocabSize ? tokenText(id) : `<|padding:${id}|>`;
}

export function tokenizePrompt(prompt: unknown, nCtx: number): number[] {
  if (typeof prompt !== 'string') throw new TypeError(`prompt must be a string, got ${typeof prompt}`);
  if (prompt.length === 0) throw new Error('the prompt is empty: give at least one token of text');
  const ids = encode(prompt);
  if (ids.length > nCtx) throw new RangeError(`the prompt is ${ids.length} tokens long; the model's context holds at most ${nCtx}`);
  return ids;
}

export async function decodeLayers(prompt: string, options: DecodeOptions = {}): Promise<LensResult> {
  const model = await modelFrom(options.model);
  const { n_layer, n_embd, n_vocab, n_ctx } = model.info;
  const topK = options.topK ?? 5;
  if (!Number.isInteger(topK) || topK < 1 || topK > n_vocab) throw new RangeError(`topK must be an integer in 1..${n_vocab}, got ${topK}`);
  const ids = tokenizePrompt(prompt, n_ctx);
  const positions = resolvePositions(options.positions ?? 'last', ids.length);
  const hooks = resolveHooks(options.hooks ?? 'default', n_layer);

  // The final residual is always captured: its lens *is* the model's prediction at every position.
  const finalName = hookName('resid_post', n_layer - 1);
  const captureNames = hooks.some((h) => h.name === finalName) ? hooks.map((h) => h.name) : [...hooks.map((h) => h.name), finalName];
  const { activations } = await model.run(ids, { hooks: captureNames, positions });
  const shown = activations.filter((a) => a.name !== finalName || hooks.some((h) => h.name === finalName));
  for (const a of shown) options.onActivation?.(a);

  // One batch: every lensable row of every shown activation, then the final residual's rows.
  const lensed = shown.filter((a) => isLensable(a.kind));
  const finalAct = activations.find((a) => a.name === finalName)!;
  const P = positions.length;
  const batch = new Float32Array((lensed.length + 1) * P * n_embd);
  lensed.forEach((a, i) => batch.set(a.data, i * P * n_embd));
  batch.set(finalAct.data, lensed.length * P * n_embd);
  const rows = await lensTopK(model, batch, (lensed.length + 1) * P, topK, options.lens ?? 'native');

  const top = (r: number) => rows[r].map((t) => ({ id: t.id, token: tokenLabel(t.id), prob: t.prob, logit: t.logit }));
  const hookRows: HookLens[] = [];
  positions.forEach((position, pi) => {
    for (const a of shown) {
      const row: HookLens = { name: a.name, layer: a.layer, kind: a.kind, position };
      const li = lensed.indexOf(a);
      if (li >= 0) row.top = top(li * P + pi);
      if (options.vectors) {
        const width = a.data.length / P;
        row.vector = a.data.slice(pi * width, (pi + 1) * width);
      }
      hookRows.push(row);
    }
  });

  const last = P - 1;
  const predicted = rows[lensed.length * P + last][0];
  return {
    model: { ...model.info },
    prompt,
    tokens: ids.map((id) => ({ id, token: tokenText(id) })),
    position: positions[last],
    positions,
    prediction: { id: predicted.id, token: tokenLabel(predicted.id), prob: predicted.prob },
    hooks: hookRows,
    activations: shown,
  };
}
