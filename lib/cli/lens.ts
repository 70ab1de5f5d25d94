// `layerlens [options] PROMPT`, the default command: the logit lens of a prompt as a table, a grid,
// JSON or an HTML report, optionally with an ablation (--ablate) or activation patching (--patch-from),
// and the prompt's continuation after it (--generate). With control vectors the HTML report is before/after
// the steering (unsteered vs steered; both ablated alike with --ablate).
// Parsing is pure; the model modules (and with them the native addon) are imported only to run.
import type { LensKind } from '../lens/lens-choice.js';
import { checkHookSpec, isIntervenable, parseHookName, resolveHooks, type HookSpec } from '../hooks.js';
import { checkParameter, InvalidParameterError, invalidParameterError } from '../is.js';
import type { Model } from '../model/model.js';
import type { PositionSpec } from '../model/positions.js';
import { stringifyJSON, toJSON } from '../render/format.js';
import { formatView, parseViewFlags, VIEW_OPTIONS, viewDecodeOptions, type ViewFlags } from '../render/view.js';
import { encode } from '../tokens/tokenizer.js';
import type { Intervention, LensResult } from '../types.js';
import {
  choiceFlag,
  integerFlag,
  listFlag,
  loadModelFromFlags,
  MODEL_LOAD_FLAGS,
  parseFlags,
  parseModelLoadFlags,
  tunedLensFlags,
  type ModelLoadFlags,
} from './flags.js';
export { tunedLensFlags } from './flags.js';
import { readAll, useColor, writeReport, type CommandIO } from './io.js';
import { CONTROL_VECTOR_FLAGS, controlVectorFlags, joinControlVectorArgs, type CliControlVectors } from './control-vector-flags.js';
import { continuationJSON, formatContinuation, GENERATE_FLAGS, parseGenerateFlags, type CliGenerate } from './generate-flags.js';
import type { GenerateResult } from '../model/generate.js';
import type { TunedLens } from '../lens/tuned/tuned-lens.js';

export const DEFAULT_TOP_K = 5;
const PATCH_MODES = ['set', 'add'] as const;
/** The largest --top-k accepted before the model is known (its vocabulary bounds it once loaded). */
const MAX_VOCAB = 1 << 24;

export interface CliRunOptions extends ModelLoadFlags {
  /** --target, --metrics, --grid, --html (lib/render/view.ts). */
  view: ViewFlags;
  /** --ablate: hooks zeroed at every position (interventions). */
  ablate?: string[];
  /** --patch-from PROMPT with --patch-hook HOOK [--patch-mode set|add]: activation patching (needs --target). */
  patch?: { from: string; hook: string; mode: 'set' | 'add' };
  /** --control-vector, --control-vector-scaled, --control-vector-layer-range (llama.cpp's flags). */
  steer?: CliControlVectors;
  topK: number;
  hooks: 'all' | 'default' | string[];
  positions: 'last' | 'all' | number[];
  json: boolean;
  vectors: boolean;
  /** The prompt text, or null when it is read from stdin (`-`). */
  prompt: string | null;
  /** --tuned-lens PATH|NAME: a tuned lens folder (config.json + params.pt or params.safetensors) or a published lens name (e.g. gpt2). */
  tunedLens?: string;
  /** --lens logit|tuned: which lens the table/JSON shows (default tuned with --tuned-lens) and the report shows first (default both). */
  lens?: LensKind;
  /** --chat: wrap the prompt in the model's chat template (llama.cpp engine). */
  chat?: boolean;
  /** --generate N and the sampling flags: the continuation printed after the lens. */
  generate?: CliGenerate;
}

export type LensCommand = { command: 'help' } | { command: 'version' } | ({ command: 'run' } & CliRunOptions);

const LENS_FLAGS = {
  ...MODEL_LOAD_FLAGS,
  'top-k': { type: 'string' },
  hooks: { type: 'string' },
  positions: { type: 'string' },
  json: { type: 'boolean' },
  vectors: { type: 'boolean' },
  ...VIEW_OPTIONS,
  ablate: { type: 'string' },
  'patch-from': { type: 'string' },
  'patch-hook': { type: 'string' },
  'patch-mode': { type: 'string' },
  'tuned-lens': { type: 'string' },
  lens: { type: 'string' },
  chat: { type: 'boolean' },
  ...CONTROL_VECTOR_FLAGS,
  ...GENERATE_FLAGS,
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
} as const;

/** A hook list flag: 'all' / 'default' alone, else the list, checked for known names and kinds. */
export function hookListFlag(name: string, text: string): CliRunOptions['hooks'] {
  const items = listFlag(name, text);
  const spec = items.length === 1 && (items[0] === 'all' || items[0] === 'default') ? (items[0] as 'all' | 'default') : items;
  checkParameter(name, () => checkHookSpec(spec));
  return spec;
}

export function positionsFlag(text: string): CliRunOptions['positions'] {
  const p = text.trim();
  if (p === 'last' || p === 'all') return p;
  const list = p.split(',').map((s) => s.trim());
  if (!list.every((s) => /^[0-9]+$/.test(s)))
    throw invalidParameterError('--positions', '"last", "all" or a comma-separated list of 0-based positions such as 0,3,5', text);
  return [...new Set(list.map(Number))].sort((a, b) => a - b);
}

function patchFlags(v: { 'patch-from'?: string; 'patch-hook'?: string; 'patch-mode'?: string; grid?: boolean }, view: ViewFlags): CliRunOptions['patch'] {
  if (v['patch-from'] === undefined && v['patch-hook'] === undefined && v['patch-mode'] === undefined) return undefined;
  if (v['patch-from'] === undefined || v['patch-hook'] === undefined) throw new InvalidParameterError('--patch-from and --patch-hook go together');
  if (view.target === undefined) throw new InvalidParameterError('--patch-from needs --target TOKEN (the token followed clean vs patched)');
  const mode = choiceFlag('--patch-mode', v['patch-mode'] ?? 'set', PATCH_MODES);
  if (v.grid) throw new InvalidParameterError('--patch-from prints the table or --json (and --html); it does not combine with --grid');
  const hook = v['patch-hook'].trim();
  checkParameter('--patch-hook', () => checkHookSpec([hook]));
  return { from: v['patch-from'], hook, mode };
}

/** Parses the default command's arguments. Throws InvalidParameterError. No I/O. */
export function parseLensArgs(argv: readonly string[]): LensCommand {
  const parsed = parseFlags(joinControlVectorArgs(argv), LENS_FLAGS);
  const v = parsed.values;
  if (v.help) return { command: 'help' };
  if (v.version) return { command: 'version' };

  // Bounded by the model's vocabulary once it is loaded (GPT-2: 50257; GGUF models up to 262k and more).
  const topK = v['top-k'] === undefined ? DEFAULT_TOP_K : integerFlag('--top-k', v['top-k'], 1, MAX_VOCAB);
  const load = parseModelLoadFlags(v);
  const hooks = v.hooks === undefined ? 'default' : hookListFlag('--hooks', v.hooks);
  let positions = v.positions === undefined ? 'last' : positionsFlag(v.positions);
  // view.ts's messages name their flags already
  const view = checkParameter(null, () => parseViewFlags(v));
  if (view.allPositions) positions = 'all';
  const ablate = v.ablate === undefined ? undefined : listFlag('--ablate', v.ablate);
  if (ablate) checkParameter('--ablate', () => checkHookSpec(ablate));
  const patch = patchFlags(v, view);
  const steer = controlVectorFlags(v);
  if (patch && steer.controlVectors) throw new InvalidParameterError('--patch-from does not combine with control vectors');
  if (v.vectors && !v.json) throw new InvalidParameterError('--vectors only applies to --json output');
  const { tunedLens, lens } = tunedLensFlags(v);
  if (tunedLens !== undefined && patch) throw new InvalidParameterError('--tuned-lens does not combine with --patch-from (patching compares logit lenses)');

  const generate = parseGenerateFlags(v);
  if (generate && patch) throw new InvalidParameterError('--generate does not combine with --patch-from');
  if (generate && view.html === '-') throw new InvalidParameterError('--generate prints after the table or in --json; with --html - stdout is the report');

  const pos = parsed.positionals;
  if (pos.length === 0) throw new InvalidParameterError('missing prompt (give it as the last argument, or "-" to read stdin; see --help)');
  if (pos.length > 1) throw new InvalidParameterError(`expected one prompt, got ${pos.length} arguments; quote the prompt: layerlens "${pos.join(' ')}"`);

  return {
    command: 'run',
    ...load,
    topK,
    hooks,
    positions,
    json: v.json === true,
    vectors: v.vectors === true,
    prompt: pos[0] === '-' ? null : pos[0],
    view,
    ...(ablate ? { ablate } : {}),
    ...(patch ? { patch } : {}),
    ...(tunedLens !== undefined ? { tunedLens } : {}),
    ...(lens !== undefined ? { lens } : {}),
    ...(steer.controlVectors ? { steer } : {}),
    ...(v.chat ? { chat: true } : {}),
    ...(generate ? { generate } : {}),
  };
}

/** The prompt, from the argument or stdin (one trailing newline removed), checked against --positions. */
async function readPrompt(cmd: CliRunOptions, io: CommandIO): Promise<string> {
  const prompt = cmd.prompt ?? (await readAll(io.stdin)).replace(/\r?\n$/, '');
  if (prompt.length === 0) throw new InvalidParameterError('the prompt is empty');
  if (Array.isArray(cmd.positions) && cmd.engine !== 'llama.cpp' && !cmd.chat && !/\.gguf$/i.test(cmd.model ?? '')) {
    // before loading a GPT-2 model: a typo should not cost a download (a GGUF's tokenizer is known once loaded)
    const nTokens = encode(prompt).length;
    const bad = cmd.positions.find((p) => p >= nTokens);
    if (bad !== undefined)
      throw new InvalidParameterError(`--positions: position ${bad} is out of range, the prompt has ${nTokens} tokens (0..${nTokens - 1})`);
  }
  return prompt;
}

/** What every lens run of one command line shares. */
interface LensOptions extends CliControlVectors {
  model: Model;
  topK: number;
  hooks: HookSpec;
  positions: PositionSpec;
  vectors: boolean;
  target?: string | number;
  metrics: boolean;
  tunedLens?: TunedLens;
  lens?: LensKind;
  chat?: boolean;
}

/** Runs the default command; throws on failure (the dispatcher reports it). */
export async function lensCommand(cmd: CliRunOptions, io: CommandIO): Promise<void> {
  const prompt = await readPrompt(cmd, io);
  const model = await loadModelFromFlags(cmd, io.env);
  try {
    const { n_layer } = model.info;
    // Named hooks are checked against the model's depth (block numbers) once it is known.
    const hooks: HookSpec =
      typeof cmd.hooks === 'string' ? cmd.hooks : checkParameter('--hooks', () => resolveHooks(cmd.hooks, n_layer, model.info.hookKinds).map((h) => h.name));
    // Loaded once (a name is downloaded into the HF cache once), for every decode of this command; not
    // at all when only the logit lens is printed (--lens logit without --html).
    let tunedLens: TunedLens | undefined;
    if (cmd.tunedLens !== undefined && (cmd.lens !== 'logit' || cmd.view.html !== undefined)) {
      const { loadTunedLensByName } = await import('../lens/tuned/resolve.js');
      tunedLens = await loadTunedLensByName(cmd.tunedLens, { env: io.env as NodeJS.ProcessEnv });
    }
    const options: LensOptions = {
      model,
      topK: cmd.topK,
      hooks,
      positions: cmd.positions,
      vectors: cmd.vectors,
      ...(cmd.chat ? { chat: true } : {}),
      ...viewDecodeOptions(cmd.view),
      ...(tunedLens ? { tunedLens } : {}),
      ...(cmd.lens ? { lens: cmd.lens } : {}),
      ...cmd.steer,
    };
    if (cmd.patch) return await runPatch(prompt, cmd, cmd.patch, options, io);
    const { resolveAblation, ablation } = await import('../interp/compare.js');
    const ablated = cmd.ablate ? resolveAblation(cmd.ablate, n_layer, '--ablate') : [];
    let result: LensResult;
    if (cmd.view.html !== undefined) {
      const { renderReport } = await import('../render/report/index.js');
      const { viewRuns, viewRunsBothLenses } = await import('../render/report/view-runs.js');
      // with control vectors the page is before/after the steering (both runs ablated alike with --ablate)
      const { resolveSteering } = await import('../render/report/steering.js');
      const steering = cmd.steer?.controlVectors ? await resolveSteering(cmd.steer, model) : undefined;
      const what = { ...(steering ? { steering } : {}), ablated };
      let html: string;
      if (tunedLens) {
        // The page holds both lenses of the same runs; the table/JSON below show the one --lens picks.
        const { lens: _shown, ...both } = options;
        const runs = await viewRunsBothLenses(prompt, { ...both, tunedLens }, what);
        result = runs.after[cmd.lens ?? 'tuned'];
        html = renderReport(runs.after.logit, {
          ...(runs.before ? { label: runs.label, compare: { result: runs.before.logit, label: runs.compareLabel, tuned: runs.before.tuned } } : {}),
          tuned: runs.after.tuned,
          lens: cmd.lens ?? 'both',
        });
      } else {
        const runs = await viewRuns(prompt, options, what);
        result = runs.after;
        html = renderReport(runs.after, runs.before ? { label: runs.label, compare: { result: runs.before, label: runs.compareLabel } } : {});
      }
      await writeReport(html, cmd.view.html, io);
      if (cmd.view.html === '-') return;
    } else {
      const { decodeLayers } = await import('../lens/decode.js');
      result = await decodeLayers(prompt, { ...options, ...(ablated.length ? { interventions: ablation(ablated) } : {}) });
    }
    const continuation = cmd.generate ? await generateContinuation(prompt, cmd.generate, options, ablated.length ? ablation(ablated) : []) : undefined;
    if (cmd.json) {
      const json = toJSON(result, { vectors: cmd.vectors });
      io.stdout.write(stringifyJSON(continuation ? { ...json, ...continuationJSON(cmd.generate!, continuation) } : json) + '\n');
    } else {
      const width = io.stdout.isTTY ? io.stdout.columns : undefined;
      io.stdout.write(formatView(result, { color: useColor(io.stdout, io.env), grid: cmd.view.grid, ...(width ? { width } : {}) }));
      if (result.lens === 'tuned') io.stdout.write(tunedLensNote(cmd.tunedLens!, n_layer));
      if (continuation) io.stdout.write(formatContinuation(cmd.generate!, continuation));
    }
  } finally {
    model.dispose();
  }
}

/** --generate: the continuation of the model the lens looked at (its control vectors, and its ablation at every token). */
async function generateContinuation(prompt: string, g: CliGenerate, options: LensOptions, ablation: Intervention[]): Promise<GenerateResult> {
  const { generate } = await import('../model/generate.js');
  return generate(prompt, {
    model: options.model,
    maxNewTokens: g.maxNewTokens,
    temperature: g.temperature,
    topK: g.topK,
    topP: g.topP,
    ...(g.seed === undefined ? {} : { seed: g.seed }),
    ...(options.controlVectors ? { controlVectors: options.controlVectors } : {}),
    ...(options.controlVectorLayerRange ? { controlVectorLayerRange: options.controlVectorLayerRange } : {}),
    ...(ablation.length ? { interventions: ablation, stepInterventions: ablation } : {}),
  });
}

/** Below the table or grid: which rows the tuned lens changed. */
function tunedLensNote(path: string, nLayer: number): string {
  const last = nLayer - 2;
  const blocks = last < 0 ? '' : last === 0 ? ' and blocks.0.resid_post' : ` and blocks.0..${last}.resid_post`;
  return `\ntuned lens ${path}: embed${blocks} are translated; every other row is the logit lens\n`;
}

/** --patch-from: the patched lens and the tracked token clean → patched; with --html, the before/after report. */
async function runPatch(prompt: string, cmd: CliRunOptions, patch: NonNullable<CliRunOptions['patch']>, options: LensOptions, io: CommandIO): Promise<void> {
  const { model } = options;
  const ref = checkParameter('--patch-hook', () => parseHookName(patch.hook, model.info.n_layer));
  if (!isIntervenable(ref.kind)) throw invalidParameterError('--patch-hook', 'a d-wide hook or blocks.L.mlp_post', patch.hook);
  const { patchActivations } = await import('../interp/patch.js');
  const r = await patchActivations({
    model,
    source: patch.from,
    target: prompt,
    hook: patch.hook,
    mode: patch.mode,
    track: cmd.view.target!,
    hooks: options.hooks,
    topK: options.topK,
  });
  if (cmd.view.html !== undefined) {
    // The report lenses what --html lenses (every position, metrics, attention), clean and patched.
    const { compareRuns, patchedLabel } = await import('../interp/compare.js');
    const { renderReport } = await import('../render/report/index.js');
    const c = await compareRuns(prompt, { ...options, target: r.track.id }, r.interventions, patchedLabel(patch.hook, patch.mode, patch.from));
    await writeReport(renderReport(c.after, { label: c.label, compare: { result: c.before, label: c.compareLabel } }), cmd.view.html, io);
    if (cmd.view.html === '-') return;
  }
  if (cmd.json) {
    io.stdout.write(stringifyJSON({ clean: toJSON(r.clean), patched: toJSON(r.patched), track: r.track, byLayer: r.byLayer }) + '\n');
    return;
  }
  io.stdout.write(formatView(r.patched, { color: useColor(io.stdout, io.env) }));
  io.stdout.write(`\n${JSON.stringify(r.track.token)} clean → patched (${patch.hook} ${patch.mode} from ${JSON.stringify(patch.from)}):\n`);
  for (const l of r.byLayer) {
    io.stdout.write(
      `  ${l.name.padEnd(22)} p ${l.cleanProb.toFixed(4)} → ${l.patchedProb.toFixed(4)}   rank ${String(l.cleanRank).padStart(6)} → ${l.patchedRank}\n`,
    );
  }
}
