// Turns what the user gave as `model` into files on disk: an explicit path (a checkpoint directory or
// a .safetensors file with config.json beside it), or a hub name found in the local Hugging Face cache
// (the same layout huggingface_hub writes, so Python tools and layerlens share one cache).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';

export const DEFAULT_MODEL = 'gpt2-medium';

export interface CheckpointFiles {
  /** Display name: the hub id or the directory's name. */
  name: string;
  config: string;
  weights: string;
}

/** The hub cache directory, as huggingface_hub computes it. */
export function hfHubCache(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HF_HUB_CACHE) return env.HF_HUB_CACHE;
  if (env.HF_HOME) return join(env.HF_HOME, 'hub');
  const xdg = env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(xdg, 'huggingface', 'hub');
}

/** Hub ids without an organisation (gpt2, gpt2-medium, distilgpt2) live under the bare name. */
export function hubCacheFolder(repoId: string): string {
  return `models--${repoId.split('/').join('--')}`;
}

/** The snapshot directory of `repoId` in the cache (refs/main), or undefined when it is not cached. */
export function findInHubCache(repoId: string, revision = 'main', env: NodeJS.ProcessEnv = process.env): string | undefined {
  const repoDir = join(hfHubCache(env), hubCacheFolder(repoId));
  const ref = join(repoDir, 'refs', revision);
  const commit = existsSync(ref) ? readFileSync(ref, 'utf8').trim() : revision;
  const snapshot = join(repoDir, 'snapshots', commit);
  return existsSync(join(snapshot, 'config.json')) && existsSync(join(snapshot, 'model.safetensors')) ? snapshot : undefined;
}

function looksLikeHubId(s: string): boolean {
  return /^[A-Za-z0-9][\w.-]*(\/[\w.-]+)?$/.test(s) && !s.endsWith('.safetensors');
}

/** Resolves a checkpoint directory or .safetensors file; throws naming what was looked for. */
export function resolveCheckpointPath(path: string): CheckpointFiles {
  const abs = resolve(path);
  let st;
  try {
    st = statSync(abs);
  } catch {
    throw new Error(`model path ${abs} does not exist (expected a directory with config.json and model.safetensors, or a .safetensors file)`);
  }
  const dir = st.isDirectory() ? abs : dirname(abs);
  const weights = st.isDirectory() ? join(abs, 'model.safetensors') : abs;
  const config = join(dir, 'config.json');
  if (!existsSync(weights)) throw new Error(`no model.safetensors in ${dir} (looked for ${weights})`);
  if (!existsSync(config)) throw new Error(`no config.json next to the weights (looked for ${config})`);
  return { name: basename(dir), config, weights };
}

/**
 * `model` as given by the user → files. Order: an existing path; else a hub id found in the local
 * Hugging Face cache. Downloading is not done here.
 */
export function resolveModel(model: string = DEFAULT_MODEL, env: NodeJS.ProcessEnv = process.env): CheckpointFiles {
  if (existsSync(model) || !looksLikeHubId(model)) return resolveCheckpointPath(model);
  const snapshot = findInHubCache(model, 'main', env);
  if (snapshot) return { ...resolveCheckpointPath(snapshot), name: model };
  const where = join(hfHubCache(env), hubCacheFolder(model));
  throw new Error(
    `model "${model}" was not found: it is not a path, and the Hugging Face cache has no snapshot of it ` +
      `(looked in ${where}/snapshots/<refs/main>/ for config.json and model.safetensors). ` +
      `Download it once with Python (huggingface-cli download ${model} config.json model.safetensors), ` +
      `or pass a local checkpoint directory (API: { model: '/path/to/${model}' }, CLI: --model /path/to/${model}).`,
  );
}
