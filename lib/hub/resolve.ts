// Turns what the user gave as `model` into files on disk. Resolution order:
//   1. an explicit existing path: a checkpoint directory, or a .safetensors file with config.json beside it;
//   2. a hub name (gpt2, gpt2-medium, gpt2-large, gpt2-xl, distilgpt2, org/name) already in the local
//      Hugging Face cache at the revision (refs/<revision> → snapshots/<commit>/): no network at all;
//   3. otherwise a download from the hub into that same cache (lib/hub/hub.ts), unless HF_HUB_OFFLINE is set.
// Before those: `ollama:NAME[:TAG]` and `lmstudio:PUB/REPO[/FILE]` name models in those tools' stores
// (lib/hub/local-models.ts), and `org/name:QUANT` / `org/name/file.gguf` a GGUF of a hub repo, cached and
// downloaded like the rest (lib/hub/hub-gguf.ts).
// The cache layout is huggingface_hub's, so Python tools and layerlens share one cache.
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { ProgressStream } from './download.js';
import {
  DEFAULT_REVISION,
  HubError,
  MODEL_FILES,
  checkRevision,
  describeCacheMiss,
  downloadHubFiles,
  findInHubCache,
  hubCacheFolder,
  isHubId,
  isHubOffline,
} from './hub.js';
import { parseHubGgufRef, resolveHubGguf } from './hub-gguf.js';
import { LMSTUDIO_PREFIX, OLLAMA_PREFIX, resolveLmStudioModel, resolveOllamaModel } from './local-models.js';

export { findInHubCache, hfHubCache, hubCacheFolder, isHubId } from './hub.js';

export const DEFAULT_MODEL = 'gpt2-medium';

export interface CheckpointFiles {
  /** Display name: the hub id or the directory's name. */
  name: string;
  /** config.json; absent for a .gguf file, which carries its own hyperparameters. */
  config?: string;
  weights: string;
  /** For a hub model: the snapshot directory in the cache (snapshots/<commit>/). */
  snapshot?: string;
}

/** Resolves a checkpoint directory or .safetensors file; throws naming what was looked for. */
export function resolveCheckpointPath(path: string): CheckpointFiles {
  const abs = resolve(path);
  let st;
  try {
    st = statSync(abs);
  } catch {
    throw new Error(`model path ${abs} does not exist (expected a directory with config.json and model.safetensors, a .safetensors file, or a .gguf file)`);
  }
  if (!st.isDirectory() && abs.endsWith('.gguf')) return { name: basename(abs, '.gguf'), weights: abs };
  const dir = st.isDirectory() ? abs : dirname(abs);
  const weights = st.isDirectory() ? join(abs, 'model.safetensors') : abs;
  const config = join(dir, 'config.json');
  if (!existsSync(weights)) throw new Error(`no model.safetensors in ${dir} (looked for ${weights})`);
  if (!existsSync(config)) throw new Error(`no config.json next to the weights (looked for ${config})`);
  return { name: basename(dir), config, weights };
}

function howToProvide(model: string): string {
  return (
    `To provide it: run "layerlens pull ${model}" where the hub is reachable (or, with Python, ` +
    `huggingface-cli download ${model} config.json model.safetensors; both fill the same cache), ` +
    `or copy the ${hubCacheFolder(model)} folder from a machine that has it into the cache, ` +
    `or pass a local checkpoint directory (API: { model: '/path/to/${model}' }, CLI: --model /path/to/${model}).`
  );
}

function notFoundPrefix(model: string, revision: string, env: NodeJS.ProcessEnv): string {
  const rev = revision === DEFAULT_REVISION ? '' : ` at revision ${revision}`;
  return `model "${model}" was not found: it is not a local path, and the Hugging Face cache has no snapshot of it${rev} (${describeCacheMiss(model, revision, env)})`;
}

/** `ollama:NAME[:TAG]` and `lmstudio:PUBLISHER/REPO[/FILE]`: models in those tools' stores (lib/hub/local-models.ts). */
function otherToolsModel(model: string, env: NodeJS.ProcessEnv): CheckpointFiles | undefined {
  if (model.startsWith(OLLAMA_PREFIX)) return resolveOllamaModel(model.slice(OLLAMA_PREFIX.length), env);
  if (model.startsWith(LMSTUDIO_PREFIX)) return resolveLmStudioModel(model.slice(LMSTUDIO_PREFIX.length), env);
  return undefined;
}

/**
 * `model` as given by the user → files, without any network: an existing path, else a hub id found
 * in the local Hugging Face cache. `resolveModelFiles` adds the download.
 */
export function resolveModel(model: string = DEFAULT_MODEL, env: NodeJS.ProcessEnv = process.env, revision: string = DEFAULT_REVISION): CheckpointFiles {
  const store = otherToolsModel(model, env);
  if (store) return store;
  const gguf = existsSync(model) ? undefined : parseHubGgufRef(model);
  if (gguf) {
    const hit = gguf.file !== undefined ? findInHubCache(gguf.repo, checkRevision(revision), env, [gguf.file]) : undefined;
    if (hit) return { name: model, weights: join(hit, gguf.file!), snapshot: hit };
    throw new Error(`${notFoundPrefix(gguf.repo, revision, env)}. Load it with loadModel or the CLI, which download it into the cache.`);
  }
  if (existsSync(model) || !isHubId(model)) return resolveCheckpointPath(model);
  const snapshot = findInHubCache(model, checkRevision(revision), env);
  if (snapshot) return { ...resolveCheckpointPath(snapshot), name: model, snapshot };
  throw new Error(`${notFoundPrefix(model, revision, env)}. ${howToProvide(model)}`);
}

export interface ResolveOptions {
  /** Hub revision: branch, tag or commit (default "main"). Ignored for paths. */
  revision?: string;
  /** Environment: HF_ENDPOINT, HF_HOME, HF_HUB_CACHE, HF_HUB_OFFLINE, HF_TOKEN, …; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** No progress bar (it is drawn only when stderr is a TTY anyway). */
  quiet?: boolean;
  /** Download a hub model that is not cached (default true). */
  download?: boolean;
  /** Where the progress bar goes (default process.stderr). */
  progress?: ProgressStream;
  /** Further attempts after a dropped connection, each resuming with HTTP Range (default 3). */
  retries?: number;
}

/**
 * `model` as given by the user → files: an existing path; else the hub id in the local Hugging Face
 * cache; else (unless `download: false` or HF_HUB_OFFLINE) downloaded from the hub into that cache.
 */
export async function resolveModelFiles(model: string = DEFAULT_MODEL, options: ResolveOptions = {}): Promise<CheckpointFiles> {
  if (typeof model !== 'string' || model.trim() === '') throw new TypeError(`model must be a path or a hub id, got ${JSON.stringify(model)}`);
  const store = otherToolsModel(model, options.env ?? process.env);
  if (store) return store;
  const gguf = existsSync(model) ? undefined : parseHubGgufRef(model);
  if (gguf) {
    const { download, ...rest } = options;
    return resolveHubGguf(gguf, { ...rest, ...(download === undefined ? {} : { download }) });
  }
  if (existsSync(model) || !isHubId(model)) return resolveCheckpointPath(model);
  return hubModelFiles(model, options);
}

/**
 * Makes sure a hub model's config.json and model.safetensors are in the local cache (downloading what
 * is missing) and returns their paths and the snapshot directory. Never treats `name` as a path.
 */
export async function pullModel(name: string, options: Omit<ResolveOptions, 'download'> = {}): Promise<CheckpointFiles & { snapshot: string }> {
  if (typeof name !== 'string' || !isHubId(name))
    throw new TypeError(`${JSON.stringify(name)} is not a hub model name (expected gpt2-medium, distilgpt2, org/name, …)`);
  return (await hubModelFiles(name, options)) as CheckpointFiles & { snapshot: string };
}

async function hubModelFiles(model: string, options: ResolveOptions): Promise<CheckpointFiles> {
  const env = options.env ?? process.env;
  const revision = checkRevision(options.revision ?? DEFAULT_REVISION);
  const cached = findInHubCache(model, revision, env);
  if (cached) return { ...resolveCheckpointPath(cached), name: model, snapshot: cached };

  if (options.download === false) {
    throw new HubError('offline', `${notFoundPrefix(model, revision, env)}, and downloading was turned off (download: false). ${howToProvide(model)}`);
  }
  if (isHubOffline(env)) {
    throw new HubError(
      'offline',
      `${notFoundPrefix(model, revision, env)}, and HF_HUB_OFFLINE=${env.HF_HUB_OFFLINE} forbids downloading it. Unset HF_HUB_OFFLINE to let layerlens download it. ${howToProvide(model)}`,
    );
  }
  try {
    const snap = await downloadHubFiles(model, MODEL_FILES, {
      revision,
      env,
      ...(options.quiet === undefined ? {} : { quiet: options.quiet }),
      ...(options.progress === undefined ? {} : { progress: options.progress }),
      ...(options.retries === undefined ? {} : { retries: options.retries }),
    });
    return { name: model, config: snap.files['config.json'], weights: snap.files['model.safetensors'], snapshot: snap.snapshot };
  } catch (err) {
    if (!(err instanceof HubError)) throw err;
    switch (err.kind) {
      case 'network':
        throw new HubError(
          err.kind,
          `${notFoundPrefix(model, revision, env)}, and downloading it failed: ${err.message}. Check the connection (or HF_ENDPOINT, or a proxy). ${howToProvide(model)}`,
          { cause: err },
        );
      case 'offline':
      case 'repo-not-found':
      case 'revision-not-found':
      case 'file-not-found':
      case 'unauthorized':
        throw new HubError(err.kind, `${notFoundPrefix(model, revision, env)}, and ${err.message}`, { cause: err });
      default:
        throw new HubError(err.kind, `downloading model "${model}" failed: ${err.message}`, { cause: err });
    }
  }
}
