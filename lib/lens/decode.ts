// decodeLayers: prompt → tokens → one native forward with capture → lens of every captured d-wide
// row → the typed result (see LensResult in types.ts and the JSON shape in docs/architecture.md).
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { hookName, isLensable, resolveHooks, type HookSpec } from '../hooks.js';
import { residualSums } from './sums.js';
import { withAccessors } from './result-access.js';
import { lensBatch, type LensImpl } from './apply.js';
import { loadModel, Model, resolvePositions, type PositionSpec } from '../model/model.js';
import type { NativeLensOptions } from '../model/native.js';
import { resolveTarget, tokenLabel } from './target.js';
import { encode } from '../tokens/tokenizer.js';
import { checkParameter, invalidParameterError, is } from '../is.js';
import { checkTunedLens, loadTunedLens, translatorIndex, type TunedLens } from './tuned/tuned-lens.js';
import { translateGroups } from './tuned/translate.js';
import { resolveTunedLensFolder } from './tuned/resolve.js';
import { lensChoice, type LensKind } from './lens-choice.js';
import type { Activation, AttentionLayer, DecodedLens, HookLens, Intervention } from '../types.js';
import { resolveControlVectors, steeringInterventions, type SteeringOptions } from '../interp/steering.js';

export interface DecodeOptions extends SteeringOptions {
  /** A loaded Model, or a path / hub id to load (loaded models are cached; see releaseModels()). Default: gpt2-medium (the local HF cache, else downloaded; see resolveModelFiles). */
  model?: Model | string;
  /** Entries per lens row, 1..n_vocab. Default 5. */
  topK?: number;
  /**
   * Wrap the prompt in the model's own chat template as one user message with the assistant turn opened
   * (llama.cpp engine; `{ system }` adds a system message), so an instruct model is probed as it is used.
   */
  chat?: boolean | { system?: string };
  /** Hook names, kinds, 'all' or 'default' (embed + every block's resid_mid and resid_post). */
  hooks?: HookSpec;
  /** Token positions to lens: 'last' (default), 'all' or a list (negative = from the end). */
  positions?: PositionSpec;
  /** Attach each captured row to its lens row as `vector`. */
  vectors?: boolean;
  /** Called once per captured tensor, in hook order, before the lens runs. */
  onActivation?: (activation: Activation) => void;
  /**
   * Which lens: 'logit' or 'tuned' (needs `tunedLens`). Default: 'tuned' when `tunedLens` is given, else
   * 'logit'; 'logit' with a `tunedLens` ignores it, so one options object can toggle between the two.
   * ('native' and 'reference' are still read as `lensImpl`, deprecated, with a warning LAYERLENS_LENS_IMPL.)
   */
  lens?: LensKind | LensImpl;
  /** Lens implementation; 'native' (default: on the engine's backend) or the plain-TS float64 'reference'. */
  lensImpl?: LensImpl;
  /** Edits applied inside the graph before anything is lensed (see Intervention). */
  interventions?: readonly Intervention[];
  /**
   * A token to track through the layers: its text (must encode to exactly one token, e.g. `" Warsaw"`
   * with its leading space) or its id. Every lensed row then gets `target: { id, token, prob, logit,
   * rank, reciprocalRank }`.
   */
  target?: string | number;
  /**
   * Add `entropy` (nats) and `kl` = KL(final ‖ row) in nats to every lensed row, where "final" is the
   * model's own output distribution at the same position. Default false (no extra work).
   */
  metrics?: boolean;
  /**
   * The tuned lens: a folder (config.json + params.pt or params.safetensors), the name of a lens the
   * tuned-lens package publishes (the Hugging Face space AlignmentResearch/tuned-lens, lens/<name>/, e.g.
   * "gpt2"; downloaded into the HF cache like a model), or a loaded TunedLens.
   * Rows with a translator (`embed`, every block's resid_post but the last) are translated first
   * (h + A·h + b) and get `lens: 'tuned'`; every other lensed row keeps the logit lens (`lens: 'logit'`).
   */
  tunedLens?: string | TunedLens;
}

// The last tuned lens named by a string, kept so that repeated decodeLayers calls with the same folder
// or name neither re-read its weights (~100 MB for gpt2-medium's shape) nor re-make its native copy.
// One entry only, so a caller cycling through many lenses does not accumulate them; a file changed on
// disk (size or mtime) is read again.
let lastNamedLens: { key: string; stamp: string; lens: Promise<TunedLens> } | undefined;

function lensFilesStamp(folder: string): string {
  return ['config.json', 'params.safetensors', 'params.pt']
    .map((f) => {
      try {
        const st = statSync(join(folder, f));
        return `${st.size}:${st.mtimeMs}`;
      } catch {
        return '-';
      }
    })
    .join('|');
}

/** The tuned lens a folder or published name names, through the one-entry cache above. */
export async function tunedLensByName(name: string): Promise<TunedLens> {
  const folder = await resolveTunedLensFolder(name);
  const stamp = lensFilesStamp(folder);
  if (lastNamedLens?.key === folder && lastNamedLens.stamp === stamp) return lastNamedLens.lens;
  const lens = loadTunedLens(folder);
  lastNamedLens = { key: folder, stamp, lens };
  lens.catch(() => {
    if (lastNamedLens?.lens === lens) lastNamedLens = undefined;
  });
  return lens;
}

/** The tuned lens an option names, loaded and checked against the model. */
async function tunedLensFrom(value: unknown, info: Model['info']): Promise<TunedLens> {
  let lens: TunedLens;
  if (is.nonEmptyString(value)) lens = await tunedLensByName(value);
  else if (is.object(value) && Array.isArray((value as TunedLens).translators) && is.object((value as TunedLens).config)) lens = value as TunedLens;
  else throw invalidParameterError('tunedLens', 'a tuned lens folder or a TunedLens (from loadTunedLens) or a published lens name such as "gpt2"', value);
  checkTunedLens(lens, info);
  return lens;
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
  lastNamedLens = undefined;
  for (const p of models) (await p.catch(() => undefined))?.dispose();
}

export async function modelFrom(model: Model | string | undefined): Promise<Model> {
  if (model instanceof Model) return model;
  if (model !== undefined && !is.string(model)) throw invalidParameterError('model', 'a Model (from loadModel) or a path / hub id string', model);
  return sharedModel(model);
}

export { resolveTarget, tokenLabel };

/**
 * The captured attention patterns of a list of activations, one entry per `attn_pattern` hook, with
 * `patterns[i][h]` a view of the softmax row of head h for query `positions[i]`.
 */
export function attentionLayers(activations: readonly Activation[]): AttentionLayer[] {
  return activations
    .filter((a) => a.kind === 'attn_pattern')
    .map((a) => {
      const [P, H, n] = a.shape;
      const patterns = Array.from({ length: P }, (_, i) => Array.from({ length: H }, (_, h) => a.data.subarray((i * H + h) * n, (i * H + h + 1) * n)));
      return { name: a.name, layer: a.layer as number, positions: [...a.positions], n_head: H, n_tokens: n, patterns };
    });
}

/**
 * A prompt's token ids: with a Model, through its own tokenizer (a llama.cpp model's BOS included where its
 * tokenizer adds one); with a context length alone, through GPT-2's BPE.
 */
export function tokenizePrompt(prompt: unknown, modelOrNCtx: Model | number): number[] {
  if (!is.string(prompt)) throw invalidParameterError('prompt', 'a string', prompt);
  if (prompt.length === 0) throw new Error('the prompt is empty: give at least one token of text');
  const nCtx = typeof modelOrNCtx === 'number' ? modelOrNCtx : modelOrNCtx.info.n_ctx;
  const ids = typeof modelOrNCtx === 'number' ? encode(prompt) : modelOrNCtx.tokenizer.encode(prompt);
  if (ids.length > nCtx) throw new RangeError(`the prompt is ${ids.length} tokens long; the model's context holds at most ${nCtx}`);
  return ids;
}

/**
 * What decodeLayers settles before the forward pass: the checked options, the prompt's tokens and
 * positions, and what the run captures. decodeBatch prepares each prompt the same way, runs several in
 * one packed forward, and finishes each with lensDecoded.
 */
export interface PreparedDecode {
  model: Model;
  prompt: string;
  ids: number[];
  positions: number[];
  options: DecodeOptions;
  topK: number;
  hooks: ReturnType<typeof resolveHooks>;
  /** Hook names the run captures: the requested ones, plus the final residual. */
  captureNames: string[];
  finalName: string;
  target?: ReturnType<typeof resolveTarget>;
  tuned?: TunedLens;
  /** The implementation the translation and the lens run with (lensImpl). */
  impl: LensImpl;
  interventions: Intervention[];
}

/** Checks decodeLayers' options and tokenizes the prompt, without running anything. */
export async function prepareDecode(prompt: string, options: DecodeOptions, model: Model): Promise<PreparedDecode> {
  const { n_layer, n_vocab } = model.info;
  const topK = options.topK ?? 5;
  if (!is.integerIn(topK, 1, n_vocab)) throw invalidParameterError('topK', `an integer in 1..${n_vocab}`, topK);
  if (options.onActivation !== undefined && typeof options.onActivation !== 'function')
    throw invalidParameterError('onActivation', 'a function', options.onActivation);
  for (const flag of ['vectors', 'metrics'] as const) {
    if (options[flag] !== undefined && !is.bool(options[flag])) throw invalidParameterError(flag, 'a boolean', options[flag]);
  }
  if (options.chat !== undefined && !is.bool(options.chat) && !is.object(options.chat))
    throw invalidParameterError('chat', 'a boolean or { system?: string }', options.chat);
  const text = options.chat ? model.applyChatTemplate(prompt, typeof options.chat === 'object' ? options.chat.system : undefined) : prompt;
  const ids = tokenizePrompt(text, model);
  const positions = checkParameter('positions', () => resolvePositions(options.positions ?? 'last', ids.length));
  const target = options.target === undefined ? undefined : checkParameter('target', () => resolveTarget(options.target!, n_vocab, model.tokenizer));
  const hooks = checkParameter('hooks', () => resolveHooks(options.hooks ?? 'default', n_layer, model.info.hookKinds));
  const choice = lensChoice(options);
  const tuned = choice.lens === 'tuned' ? await tunedLensFrom(options.tunedLens, model.info) : undefined;
  // Control vectors are added first, so an explicit intervention on the same hook sees the steered value.
  const steering = steeringInterventions(await resolveControlVectors(options, model.info));
  const interventions = [...steering, ...(options.interventions ?? [])];

  // The final residual is always captured: its lens *is* the model's prediction at every position.
  const finalName = hookName('resid_post', n_layer - 1);
  const captureNames = hooks.some((h) => h.name === finalName) ? hooks.map((h) => h.name) : [...hooks.map((h) => h.name), finalName];
  return {
    model,
    prompt,
    ids,
    positions,
    options,
    topK,
    hooks,
    captureNames,
    finalName,
    impl: choice.impl,
    interventions,
    ...(target ? { target } : {}),
    ...(tuned ? { tuned } : {}),
  };
}

/** The logit lens of a prompt; the result has accessors by hook (`result.get('resid_post', -1)`, see LensResultAccessors). */
export async function decodeLayers(prompt: string, options: DecodeOptions = {}): Promise<DecodedLens> {
  if (!is.object(options)) throw invalidParameterError('options', 'an object', options);
  const model = await modelFrom(options.model);
  return decodePrepared(await prepareDecode(prompt, options, model));
}

/** The forward and the lens of a prepared prompt: decodeLayers after prepareDecode. */
export async function decodePrepared(prepared: PreparedDecode): Promise<DecodedLens> {
  const { interventions } = prepared;
  // No logits from the run: the final residual's lens row is the same prediction.
  const { activations } = await prepared.model.run(prepared.ids, {
    hooks: prepared.captureNames,
    positions: prepared.positions,
    logits: false,
    ...(interventions.length ? { interventions } : {}),
  });
  return lensDecoded(prepared, activations);
}

/** The lens rows of one prepared prompt's captured activations (those of prepared.captureNames), as decodeLayers returns them. */
export async function lensDecoded(prepared: PreparedDecode, activations: Activation[]): Promise<DecodedLens> {
  const { model, prompt, ids, positions, options, topK, hooks, finalName, target, tuned, impl } = prepared;
  const { n_layer, n_embd } = model.info;
  const label = model.tokenizer.label;
  const shown = activations.filter((a) => a.name !== finalName || hooks.some((h) => h.name === finalName));
  for (const a of shown) options.onActivation?.(a);

  // One batch: every lensable row of every shown activation, then the final residual's rows (unless
  // they are already among the shown ones). Row of (block b, position index pi) = b·P + pi.
  const lensed = shown.filter((a) => isLensable(a.kind));
  const finalAct = activations.find((a) => a.name === finalName)!;
  let finalBlock = lensed.indexOf(finalAct);
  const blocks = finalBlock >= 0 ? lensed : [...lensed, finalAct];
  if (finalBlock < 0) finalBlock = lensed.length;
  const P = positions.length;
  const count = blocks.length * P;
  const batch = new Float32Array(count * n_embd);
  blocks.forEach((a, i) => batch.set(a.data, i * P * n_embd));
  // Tuned lens: the rows with a translator are replaced by their translation before the shared lens.
  const translated = new Set<number>();
  if (tuned) {
    const groups = blocks.flatMap((a, i) => {
      const t = translatorIndex(a.kind, a.layer, n_layer);
      return t === null ? [] : [{ block: i, translator: t, rows: a.data }];
    });
    const rows = await translateGroups(tuned, groups, { impl, threads: model.runtime.threads });
    groups.forEach((g, k) => {
      batch.set(rows[k], g.block * P * n_embd);
      translated.add(g.block);
    });
  }

  // The residual rows are sums of the rows written into them: the native lens adds projections for those.
  // A translated row is no longer such a sum, nor a part of one: those claims are dropped here rather
  // than left for the engine's numeric check to reject.
  let sums = residualSums(blocks, P);
  if (translated.size) {
    const kept: number[] = [];
    for (let j = 0; j < sums.length; j += 3) {
      if ([sums[j], sums[j + 1], sums[j + 2]].some((r) => translated.has(Math.floor(r / P)))) continue;
      kept.push(sums[j], sums[j + 1], sums[j + 2]);
    }
    sums = Int32Array.from(kept);
  }
  const measures: NativeLensOptions = { sums };
  if (target) measures.targets = new Int32Array(count).fill(target.id);
  if (options.metrics) {
    measures.entropy = true;
    // KL(final ‖ row): each row against the final residual's row at its position; the final rows themselves get 0.
    measures.references = Int32Array.from({ length: count }, (_, r) => (Math.floor(r / P) === finalBlock ? -1 : finalBlock * P + (r % P)));
  }
  const lens = await lensBatch(model, batch, count, topK, impl, measures);
  const rows = lens.top;

  const top = (r: number) => rows[r].map((t) => ({ id: t.id, token: label(t.id), prob: t.prob, logit: t.logit }));
  const hookRows: HookLens[] = [];
  positions.forEach((position, pi) => {
    for (const a of shown) {
      const row: HookLens = { name: a.name, layer: a.layer, kind: a.kind, position };
      const li = lensed.indexOf(a);
      if (li >= 0) {
        const r = li * P + pi;
        row.top = top(r);
        if (tuned) row.lens = translated.has(li) ? 'tuned' : 'logit';
        if (target && lens.targetRank) {
          const rank = lens.targetRank[r];
          row.target = { id: target.id, token: target.token, prob: lens.targetProb![r], logit: lens.targetLogit![r], rank, reciprocalRank: 1 / rank };
        }
        if (options.metrics) {
          row.entropy = lens.entropy![r];
          // KL ≥ 0; rounding can leave a tiny negative number for nearly equal distributions.
          row.kl = li === finalBlock ? 0 : Math.max(0, lens.kl![r]);
        }
      }
      if (options.vectors) {
        const width = a.data.length / P;
        row.vector = a.data.slice(pi * width, (pi + 1) * width);
      }
      hookRows.push(row);
    }
  });

  const last = P - 1;
  const predicted = rows[finalBlock * P + last][0];
  const attention = attentionLayers(shown);
  return withAccessors({
    model: { ...model.info },
    prompt,
    tokens: ids.map((id) => ({ id, token: label(id) })),
    position: positions[last],
    positions,
    prediction: { id: predicted.id, token: label(predicted.id), prob: predicted.prob },
    hooks: hookRows,
    activations: shown,
    ...(target ? { target } : {}),
    ...(attention.length ? { attention } : {}),
    ...(tuned ? { lens: 'tuned' as const } : {}),
  });
}
