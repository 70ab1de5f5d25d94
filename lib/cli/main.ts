#!/usr/bin/env node
// The `layerlens` command. Argument parsing is pure (`parseCliArgs`); the model modules (and with them
// the native addon) are imported only when a prompt is actually run, so --help, --version and usage
// errors work without a built addon.

import { readFileSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';

type FlagOptions = NonNullable<ParseArgsConfig['options']>;

import { checkHookSpec, resolveHooks } from '../hooks.js';
import { checkRevision, isHubId } from '../hub/hub.js';
import { writeFile } from 'node:fs/promises';
import { stringifyJSON, toJSON } from '../render/format.js';
import { formatView, parseViewFlags, VIEW_HELP, VIEW_OPTIONS, viewDecodeOptions, type ViewFlags } from '../render/view.js';
import { encode, vocabSize } from '../tokens/tokenizer.js';

/** Exit codes. */
export const EXIT_OK = 0;
export const EXIT_RUNTIME = 1;
export const EXIT_USAGE = 2;

/** A mistake in the command line: reported as `layerlens: <message>` with exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export interface CliRunOptions {
  /** --model, else $LAYERLENS_MODEL (resolved in main, not here). */
  model?: string;
  /** --target, --metrics, --grid, --html (lib/render/view.ts). */
  view: ViewFlags;
  /** --ablate: hooks zeroed at every position (interventions). */
  ablate?: string[];
  /** --patch-from PROMPT with --patch-hook HOOK [--patch-mode set|add]: activation patching (needs --target). */
  patch?: { from: string; hook: string; mode: 'set' | 'add' };
  topK: number;
  hooks: 'all' | 'default' | string[];
  positions: 'last' | 'all' | number[];
  json: boolean;
  vectors: boolean;
  threads?: number;
  device: 'auto' | 'cpu' | 'cuda' | 'metal';
  /** The prompt text, or null when it is read from stdin (`-`). */
  prompt: string | null;
  /** --revision: hub branch, tag or commit (default main); absent when not given. */
  revision?: string;
  /** --quiet: no download progress bar; absent when not given. */
  quiet?: boolean;
}

/** `layerlens pull NAME`: download a hub model into the Hugging Face cache. */
export interface CliPullOptions {
  name: string;
  revision?: string;
  quiet?: boolean;
}

/** `layerlens convert PATH --to gguf --type f16|q8_0|f32 [--out FILE]`. */
export interface CliConvertOptions {
  path: string;
  type: 'f32' | 'f16' | 'q8_0';
  out: string;
}

export type CliCommand =
  | { command: 'help' }
  | { command: 'version' }
  | ({ command: 'run' } & CliRunOptions)
  | ({ command: 'pull' } & CliPullOptions)
  | ({ command: 'convert' } & CliConvertOptions)
  | { command: 'serve'; argv: string[] };

export const DEFAULT_TOP_K = 5;

export const HELP = `Usage: layerlens [options] "prompt"
       layerlens [options] -          (read the prompt from stdin)
       layerlens pull NAME [--revision R] [--quiet]
       layerlens convert PATH --to gguf [--type f16|q8_0|f32] [--out FILE]
       layerlens serve [--port 8080] [--host 127.0.0.1] [--model …]   (web viewer)

Runs GPT-2 on the prompt and decodes every hook point through the final LayerNorm and the
unembedding (the "logit lens"): what the model would predict after each layer.

Options:
  --model PATH|NAME     model directory (config.json + model.safetensors), a .safetensors file
                        with config.json beside it, a .gguf file, or a hub name (gpt2, gpt2-medium, gpt2-large,
                        gpt2-xl, distilgpt2, org/name): taken from the local Hugging Face cache,
                        else downloaded into it; default: $LAYERLENS_MODEL, else gpt2-medium
  --revision R          branch, tag or commit of a hub model (default main)
  --quiet               no download progress bar (it is only drawn when stderr is a terminal)
  --top-k N             tokens shown per hook, an integer in 1..${vocabSize} (default ${DEFAULT_TOP_K})
  --hooks LIST          which hook points: "default" (embed + every block's resid_mid and
                        resid_post), "all" (every hook, also mlp_post and attn_pattern), or a
                        comma-separated list of hook names (embed, blocks.3.mlp_out), kinds (resid_post
                        = that kind in every block: attn_out, resid_mid, mlp_post, mlp_out,
                        resid_post, attn_pattern), blocks.L (every hook of block L), all, default
  --positions WHICH     token positions to lens: "last" (default), "all", or a comma-separated
                        list of 0-based positions such as 0,3,5
  --json                print JSON (model, prompt, tokens, position, positions, prediction, hooks)
                        instead of the table
  --vectors             with --json: include each hook's captured activation row as "vector"
${VIEW_HELP}  --ablate LIST         zero these hooks (comma-separated d-wide hook names or blocks.L.mlp_post)
                        at every position inside the graph before lensing (an intervention); with
                        --html the report shows the ablated run and the clean run (before/after)
  --patch-from PROMPT   activation patching: run PROMPT, take --patch-hook HOOK at its last token,
  --patch-hook HOOK     put it into the prompt's last token (--patch-mode set, the default, or add),
  --patch-mode M        and show the patched lens plus the --target token's probability and rank per
                        layer, clean vs patched (--target is required; --json prints both runs;
                        --html FILE also writes a before/after report: patched vs clean)
  --threads N           CPU threads for the forward pass (default: all cores)
  --device D            auto (default: a GPU backend when the build has one, else CPU), cpu,
                        cuda or metal
  -h, --help            print this help and exit
  -V, --version         print the version and exit

Commands:
  serve                 start the web viewer on http://127.0.0.1:8080/ (see layerlens serve --help)
  pull NAME             download the hub model NAME (config.json and model.safetensors) into the
                        Hugging Face cache unless it is already there, and print its snapshot
                        directory; takes --revision, --quiet and --help
  convert PATH          write the checkpoint at PATH (directory or .safetensors with config.json)
                        as a GGUF file with llama.cpp's gpt2 tensor names: --to gguf (required),
                        --type f16 (default), q8_0 or f32, --out FILE (default: PATH's directory
                        name + "-TYPE.gguf" in the current directory); loadable with --model FILE

A hub name is looked up in the Hugging Face cache (the one Python's huggingface_hub uses) before
anything is downloaded. Environment: HF_ENDPOINT (hub URL, default https://huggingface.co),
HF_HUB_CACHE or HF_HOME (cache location, default ~/.cache/huggingface/hub), HF_HUB_OFFLINE=1 (never
download), HF_TOKEN (access token for private or gated models), LAYERLENS_MODEL (default --model).

The prompt is used exactly as given: no BOS token is prepended, and the literal text <|endoftext|>
becomes GPT-2's special token 50256. With "-" the prompt is read from stdin and one trailing newline
is removed. Put "--" before a prompt that starts with "-" or is the word "pull", "convert" or "serve".

Token texts are shown exactly; bytes that are not valid UTF-8 on their own appear as \\xNN, and a
literal backslash as \\\\. The table is colored on a terminal unless NO_COLOR is set (FORCE_COLOR forces it).

Exit codes:
  0  success
  1  runtime error (model cannot be found, downloaded or loaded, inference failed)
  2  usage error (bad option or value, missing prompt)
`;

function parseIntStrict(value: string, flag: string, min: number, max: number): number {
  const s = value.trim();
  if (!/^[0-9]+$/.test(s)) throw new UsageError(`${flag} must be an integer in ${min}..${max}, got ${JSON.stringify(value)}`);
  const n = Number(s);
  if (n < min || n > max) throw new UsageError(`${flag} must be an integer in ${min}..${max}, got ${s}`);
  return n;
}

function splitList(value: string, flag: string): string[] {
  const items = value.split(',').map((s) => s.trim());
  if (items.length === 0 || items.some((s) => s === '')) throw new UsageError(`${flag}: empty item in ${JSON.stringify(value)}`);
  return items;
}

/** node:util parseArgs (strict, positionals allowed) with its errors as UsageErrors. */
function parseFlags<const T extends FlagOptions>(argv: readonly string[], options: T) {
  try {
    return parseArgs({ args: [...argv], strict: true, allowPositionals: true, options });
  } catch (err) {
    throw usageFromParseArgs(err);
  }
}

function usageFromParseArgs(err: unknown): UsageError {
  // node:util's messages name the flag; drop its advice about `--` for options, keep the rest.
  const msg = err instanceof Error ? err.message : String(err);
  return new UsageError(msg.replace(/\. To specify a positional argument starting with a '-'.*$/s, '') + ' (see --help)');
}

function checkRevisionFlag(revision: string | undefined): string | undefined {
  if (revision === undefined) return undefined;
  try {
    return checkRevision(revision.trim());
  } catch (err) {
    throw new UsageError(`--revision: ${(err as Error).message}`);
  }
}

/** `pull NAME [--revision R] [--quiet]` (argv without the word pull). */
function parsePullArgs(argv: readonly string[]): CliCommand {
  const parsed = parseFlags(argv, {
        revision: { type: 'string' },
        quiet: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      });
  const v = parsed.values;
  if (v.help) return { command: 'help' };
  const revision = checkRevisionFlag(v.revision);
  const pos = parsed.positionals;
  if (pos.length === 0) throw new UsageError('pull: missing the model name (for example: layerlens pull gpt2-medium)');
  if (pos.length > 1) throw new UsageError(`pull: expected one model name, got ${pos.length}: ${pos.join(' ')}`);
  const name = pos[0].trim();
  if (!isHubId(name)) throw new UsageError(`pull: ${JSON.stringify(pos[0])} is not a hub model name (expected gpt2-medium, distilgpt2, org/name, …; pull only downloads from the hub)`);
  return { command: 'pull', name, revision, quiet: v.quiet === true ? true : undefined };
}

/** `convert PATH --to gguf [--type T] [--out FILE]` (argv without the word convert). */
function parseConvertArgs(argv: readonly string[]): CliCommand {
  const parsed = parseFlags(argv, { to: { type: 'string' }, type: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' } });
  const v = parsed.values;
  if (v.help) return { command: 'help' };
  if (v.to !== 'gguf') throw new UsageError(`convert: --to gguf is required (the only target format)${v.to === undefined ? '' : `, got ${JSON.stringify(v.to)}`}`);
  const type = v.type ?? 'f16';
  if (type !== 'f16' && type !== 'q8_0' && type !== 'f32') throw new UsageError(`convert: --type must be f16, q8_0 or f32, got ${JSON.stringify(type)}`);
  const pos = parsed.positionals;
  if (pos.length !== 1) throw new UsageError('convert: give exactly one checkpoint path (a directory or a .safetensors file)');
  const path = pos[0];
  const base = path.replace(/[\\/]+$/, '').split(/[\\/]/).pop()!.replace(/\.safetensors$/, '');
  const out = v.out ?? `${base === 'model' ? 'gpt2' : base}-${type}.gguf`;
  if (!out.endsWith('.gguf')) throw new UsageError(`convert: --out must end in .gguf, got ${JSON.stringify(out)}`);
  return { command: 'convert', path, type, out };
}

/** Parses the command line (without `node` and the script). Throws UsageError. No I/O. */
export function parseCliArgs(argv: readonly string[]): CliCommand {
  if (argv[0] === 'pull') return parsePullArgs(argv.slice(1));
  if (argv[0] === 'convert') return parseConvertArgs(argv.slice(1));
  if (argv[0] === 'serve') return { command: 'serve', argv: argv.slice(1) };
  const parsed = parseFlags(argv, {
        model: { type: 'string' },
        'top-k': { type: 'string' },
        hooks: { type: 'string' },
        positions: { type: 'string' },
        json: { type: 'boolean' },
        vectors: { type: 'boolean' },
        threads: { type: 'string' },
        device: { type: 'string' },
        revision: { type: 'string' },
        quiet: { type: 'boolean' },
        ...VIEW_OPTIONS,
        ablate: { type: 'string' },
        'patch-from': { type: 'string' },
        'patch-hook': { type: 'string' },
        'patch-mode': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'V' },
      });
  const v = parsed.values;
  if (v.help) return { command: 'help' };
  if (v.version) return { command: 'version' };

  const topK = v['top-k'] === undefined ? DEFAULT_TOP_K : parseIntStrict(v['top-k'], '--top-k', 1, vocabSize);
  const threads = v.threads === undefined ? undefined : parseIntStrict(v.threads, '--threads', 1, 1024);

  const device = (v.device ?? 'auto').trim();
  if (!['auto', 'cpu', 'cuda', 'metal'].includes(device)) throw new UsageError(`--device must be auto, cpu, cuda or metal; got ${JSON.stringify(v.device)}`);

  let hooks: CliRunOptions['hooks'] = 'default';
  if (v.hooks !== undefined) {
    const items = splitList(v.hooks, '--hooks');
    hooks = items.length === 1 && (items[0] === 'all' || items[0] === 'default') ? (items[0] as 'all' | 'default') : items;
    try {
      checkHookSpec(hooks);
    } catch (err) {
      throw new UsageError(`--hooks: ${(err as Error).message}`);
    }
  }

  let positions: CliRunOptions['positions'] = 'last';
  if (v.positions !== undefined) {
    const p = v.positions.trim();
    if (p === 'last' || p === 'all') positions = p;
    else {
      const list = splitList(p, '--positions').map((s) => {
        if (!/^[0-9]+$/.test(s)) throw new UsageError(`--positions must be "last", "all" or a list of 0-based positions like 0,3,5; got ${JSON.stringify(s)}`);
        return Number(s);
      });
      positions = [...new Set(list)].sort((a, b) => a - b);
    }
  }

  let view: ViewFlags;
  try {
    view = parseViewFlags(v);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (view.allPositions) positions = 'all';
  const ablate = v.ablate === undefined ? undefined : splitList(v.ablate, '--ablate');
  if (ablate) {
    try {
      checkHookSpec(ablate);
    } catch (err) {
      throw new UsageError(`--ablate: ${(err as Error).message}`);
    }
  }

  let patch: CliRunOptions['patch'];
  if (v['patch-from'] !== undefined || v['patch-hook'] !== undefined || v['patch-mode'] !== undefined) {
    if (v['patch-from'] === undefined || v['patch-hook'] === undefined) throw new UsageError('--patch-from and --patch-hook go together');
    if (view.target === undefined) throw new UsageError('--patch-from needs --target TOKEN (the token followed clean vs patched)');
    const mode = v['patch-mode'] ?? 'set';
    if (mode !== 'set' && mode !== 'add') throw new UsageError(`--patch-mode must be set or add, got ${JSON.stringify(mode)}`);
    if (v.grid) throw new UsageError('--patch-from prints the table or --json (and --html); it does not combine with --grid');
    try {
      checkHookSpec([v['patch-hook']]);
    } catch (err) {
      throw new UsageError(`--patch-hook: ${(err as Error).message}`);
    }
    patch = { from: v['patch-from'], hook: v['patch-hook'].trim(), mode };
  }

  if (v.model !== undefined && v.model.trim() === '') throw new UsageError('--model: empty path');
  const revision = checkRevisionFlag(v.revision);
  if (v.vectors && !v.json) throw new UsageError('--vectors only applies to --json output');

  const pos = parsed.positionals;
  if (pos.length === 0) throw new UsageError('missing prompt (give it as the last argument, or "-" to read stdin; see --help)');
  if (pos.length > 1) throw new UsageError(`expected one prompt, got ${pos.length} arguments; quote the prompt: layerlens "${pos.join(' ')}"`);

  return {
    command: 'run',
    model: v.model,
    topK,
    hooks,
    positions,
    json: v.json === true,
    vectors: v.vectors === true,
    threads,
    device: device as CliRunOptions['device'],
    prompt: pos[0] === '-' ? null : pos[0],
    view,
    ...(ablate ? { ablate } : {}),
    ...(patch ? { patch } : {}),
    revision,
    quiet: v.quiet === true ? true : undefined,
  };
}

/** The version in layerlens's package.json (looked up from this file upwards, so it works from lib/ and dist/). */
export function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'layerlens' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // not here; go up
    }
    const up = dirname(dir);
    if (up === dir) return 'unknown';
    dir = up;
  }
}

interface Writer {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface CliIO {
  stdout?: Writer;
  stderr?: Writer;
  /** Where `-` reads the prompt from. */
  stdin?: AsyncIterable<string | Uint8Array>;
  /** Environment for NO_COLOR / FORCE_COLOR / LAYERLENS_MODEL and the HF_* variables (default process.env). */
  env?: Record<string, string | undefined>;
}

async function readAll(stream: AsyncIterable<string | Uint8Array>): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(typeof c === 'string' ? Buffer.from(c, 'utf8') : Buffer.from(c));
  return Buffer.concat(chunks).toString('utf8');
}

function useColor(out: Writer, env: Record<string, string | undefined>): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0' && env.FORCE_COLOR !== 'false') return true;
  return out.isTTY === true && env.TERM !== 'dumb';
}

/** Runs the command; returns the exit code (0 ok, 1 runtime error, 2 usage error). Never throws. */
export async function main(argv: readonly string[], io: CliIO = {}): Promise<number> {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  const env = io.env ?? process.env;
  const fail = (err: unknown, code: number): number => {
    const msg = err instanceof Error ? err.message : String(err);
    stderr.write(`layerlens: ${msg}\n`);
    return code;
  };

  let cmd: CliCommand;
  try {
    cmd = parseCliArgs(argv);
  } catch (err) {
    return fail(err, err instanceof UsageError ? EXIT_USAGE : EXIT_RUNTIME);
  }
  if (cmd.command === 'help') {
    stdout.write(HELP);
    return EXIT_OK;
  }
  if (cmd.command === 'version') {
    stdout.write(packageVersion() + '\n');
    return EXIT_OK;
  }
  if (cmd.command === 'serve') {
    const { serveCommand } = await import('./serve.js');
    return serveCommand(cmd.argv, { stdout, stderr, env });
  }
  if (cmd.command === 'pull') {
    try {
      const { pullModel } = await import('../hub/resolve.js');
      const files = await pullModel(cmd.name, {
        env: env as NodeJS.ProcessEnv,
        progress: stderr,
        ...(cmd.revision === undefined ? {} : { revision: cmd.revision }),
        ...(cmd.quiet === undefined ? {} : { quiet: cmd.quiet }),
      });
      stdout.write(files.snapshot + '\n');
      return EXIT_OK;
    } catch (err) {
      return fail(err, err instanceof UsageError ? EXIT_USAGE : EXIT_RUNTIME);
    }
  }

  if (cmd.command === 'convert') {
    try {
      const { convertToGguf } = await import('../model/convert.js');
      await convertToGguf(cmd.path, cmd.out, { type: cmd.type });
      stdout.write(cmd.out + '\n');
      return EXIT_OK;
    } catch (err) {
      return fail(err, EXIT_RUNTIME);
    }
  }

  let model: { dispose(): unknown; info: { n_layer: number } } | undefined;
  try {
    let prompt = cmd.prompt;
    if (prompt === null) {
      prompt = (await readAll(io.stdin ?? process.stdin)).replace(/\r?\n$/, '');
    }
    if (prompt.length === 0) throw new UsageError('the prompt is empty');
    const nTokens = encode(prompt).length;
    if (Array.isArray(cmd.positions)) {
      const bad = cmd.positions.find((p) => p >= nTokens);
      if (bad !== undefined) throw new UsageError(`--positions: position ${bad} is out of range, the prompt has ${nTokens} tokens (0..${nTokens - 1})`);
    }
    const modelPath = cmd.model ?? (env.LAYERLENS_MODEL || undefined);

    const { loadModel } = await import('../model/model.js');
    const { decodeLayers } = await import('../lens/decode.js');
    const loaded = await loadModel(modelPath, {
      env,
      device: cmd.device,
      ...(cmd.threads === undefined ? {} : { threads: cmd.threads }),
      ...(cmd.revision === undefined ? {} : { revision: cmd.revision }),
      ...(cmd.quiet === undefined ? {} : { quiet: cmd.quiet }),
    });
    model = loaded;
    let hooks: 'all' | 'default' | string[];
    try {
      hooks = typeof cmd.hooks === 'string' ? cmd.hooks : resolveHooks(cmd.hooks, loaded.info.n_layer).map((h) => h.name);
    } catch (err) {
      throw new UsageError(`--hooks: ${(err as Error).message}`);
    }
    let interventions;
    try {
      interventions = cmd.ablate?.flatMap((spec) => resolveHooks([spec], loaded.info.n_layer)).map((h) => ({ hook: h.name, op: 'zero' as const }));
    } catch (err) {
      throw new UsageError(`--ablate: ${(err as Error).message}`);
    }
    const options = {
      model: loaded,
      topK: cmd.topK,
      hooks,
      positions: cmd.positions,
      vectors: cmd.vectors,
      ...viewDecodeOptions(cmd.view),
      ...(interventions ? { interventions } : {}),
    };
    if (cmd.patch) {
      const { patchActivations } = await import('../interp/patch.js');
      const r = await patchActivations({
        model: loaded,
        source: cmd.patch.from,
        target: prompt,
        hook: cmd.patch.hook,
        mode: cmd.patch.mode,
        track: cmd.view.target!,
        hooks,
        topK: cmd.topK,
      });
      if (cmd.view.html !== undefined) {
        // The report lenses what --html lenses (every position, metrics, attention), clean and patched.
        const { decodeForView, renderReport } = await import('../render/report/index.js');
        const { interventions: _ablate, ...base } = options;
        const viewOptions = { ...base, target: r.track.id };
        const clean = await decodeForView(prompt, viewOptions);
        const patched = await decodeForView(prompt, { ...viewOptions, interventions: r.interventions });
        const html = renderReport(patched, {
          label: `after (patched: ${cmd.patch.hook} ${cmd.patch.mode} from ${JSON.stringify(cmd.patch.from)})`,
          compare: { result: clean, label: 'before (clean run)' },
        });
        if (cmd.view.html === '-') {
          stdout.write(html);
          return EXIT_OK;
        }
        await writeFile(cmd.view.html, html);
        stderr.write(`layerlens: wrote ${cmd.view.html} (${Math.ceil(Buffer.byteLength(html) / 1024)} KiB)\n`);
      }
      if (cmd.json) {
        stdout.write(stringifyJSON({ clean: toJSON(r.clean), patched: toJSON(r.patched), track: r.track, byLayer: r.byLayer }) + '\n');
      } else {
        stdout.write(formatView(r.patched, { color: useColor(stdout, env) }));
        stdout.write(`\n${JSON.stringify(r.track.token)} clean → patched (${cmd.patch.hook} ${cmd.patch.mode} from ${JSON.stringify(cmd.patch.from)}):\n`);
        for (const l of r.byLayer) {
          stdout.write(`  ${l.name.padEnd(22)} p ${l.cleanProb.toFixed(4)} → ${l.patchedProb.toFixed(4)}   rank ${String(l.cleanRank).padStart(6)} → ${l.patchedRank}\n`);
        }
      }
      return EXIT_OK;
    }
    let result;
    if (cmd.view.html !== undefined) {
      const { decodeForView, renderReport } = await import('../render/report/index.js');
      result = await decodeForView(prompt, options);
      let html: string;
      const { interventions: ablated, ...clean } = options;
      if (ablated?.length) {
        // --ablate: the ablated run, with the clean run to compare (before/after)
        html = renderReport(result, {
          label: `after (ablated: ${ablated.map((i) => i.hook).join(', ')})`,
          compare: { result: await decodeForView(prompt, clean), label: 'before (clean run)' },
        });
      } else {
        html = renderReport(result);
      }
      if (cmd.view.html === '-') {
        stdout.write(html);
        return EXIT_OK;
      }
      await writeFile(cmd.view.html, html);
      stderr.write(`layerlens: wrote ${cmd.view.html} (${Math.ceil(Buffer.byteLength(html) / 1024)} KiB)\n`);
    } else {
      result = await decodeLayers(prompt, options);
    }
    if (cmd.json) stdout.write(stringifyJSON(toJSON(result, { vectors: cmd.vectors })) + '\n');
    else {
      const width = stdout.isTTY ? stdout.columns : undefined;
      stdout.write(formatView(result, { color: useColor(stdout, env), grid: cmd.view.grid, ...(width ? { width } : {}) }));
    }
    return EXIT_OK;
  } catch (err) {
    return fail(err, err instanceof UsageError ? EXIT_USAGE : EXIT_RUNTIME);
  } finally {
    try {
      await model?.dispose();
    } catch {
      // already reported or irrelevant at exit
    }
  }
}

function isMainModule(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return pathToFileURL(realpathSync(entry)).href === pathToFileURL(realpathSync(fileURLToPath(import.meta.url))).href;
  } catch {
    return false;
  }
}

if (isMainModule()) {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(EXIT_OK); // `layerlens ... | head`
    throw err;
  });
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
