// Models people already have on disk, from other tools' stores, without copying anything:
//   Ollama:    $OLLAMA_MODELS (default ~/.ollama/models)/manifests/<host>/<namespace>/<name>/<tag> is a JSON
//              manifest; its layer of mediaType application/vnd.ollama.image.model names the GGUF blob
//              by digest "sha256:<hex>", stored as blobs/sha256-<hex> (no extension).
//              `ollama:llama3.2:1b` = registry.ollama.ai/library/llama3.2/1b; the tag defaults to latest.
//   LM Studio: ~/.lmstudio/models/<publisher>/<repo>/*.gguf (older versions: ~/.cache/lm-studio/models).
//              `lmstudio:publisher/repo` (the one model .gguf there) or `lmstudio:publisher/repo/file.gguf`.
//   The Hugging Face cache: GPT-2 safetensors snapshots and .gguf files (listed only; loading goes
//              through lib/hub/resolve.ts as for any hub name).
// Only headers are read (GGUF metadata, safetensors JSON header), so listing a folder of big models is fast.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, join, relative } from 'node:path';
import { architectureSupport, type ArchitectureSupport } from '../model/architectures.js';
import { readGgufHeader, summarizeGguf } from './gguf-header.js';
import { hfHubCache } from './hub.js';
import type { CheckpointFiles } from './resolve.js';

type Env = NodeJS.ProcessEnv | Record<string, string | undefined>;

export const OLLAMA_PREFIX = 'ollama:';
export const LMSTUDIO_PREFIX = 'lmstudio:';
const OLLAMA_REGISTRY = 'registry.ollama.ai';
const OLLAMA_NAMESPACE = 'library';
const OLLAMA_MODEL_MEDIA_TYPE = 'application/vnd.ollama.image.model';
/** One path segment of a store: no separators, no `..`. */
const SEGMENT = /^[\w][\w.+-]*$/;

function home(env: Env): string {
  return env.HOME || env.USERPROFILE || homedir();
}

/** Ollama's model store: $OLLAMA_MODELS, else ~/.ollama/models. */
export function ollamaModelsDir(env: Env = process.env): string {
  return env.OLLAMA_MODELS || join(home(env), '.ollama', 'models');
}

/** LM Studio's model folders that exist, newest layout first. */
export function lmStudioModelsDirs(env: Env = process.env): string[] {
  return [join(home(env), '.lmstudio', 'models'), join(home(env), '.cache', 'lm-studio', 'models')].filter((d) => isDir(d));
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function listDir(p: string): string[] {
  try {
    return readdirSync(p).sort();
  } catch {
    return [];
  }
}

export interface OllamaRef {
  host: string;
  namespace: string;
  name: string;
  tag: string;
}

/** `name[:tag]`, `namespace/name[:tag]` or `host/namespace/name[:tag]` (Ollama's own model names). */
export function parseOllamaRef(ref: string): OllamaRef {
  const colon = ref.lastIndexOf(':');
  const hasTag = colon > ref.lastIndexOf('/');
  const path = hasTag ? ref.slice(0, colon) : ref;
  const tag = hasTag ? ref.slice(colon + 1) : 'latest';
  const parts = path.split('/');
  if (parts.length > 3 || ![...parts, tag].every((s) => SEGMENT.test(s)))
    throw new TypeError(`"${OLLAMA_PREFIX}${ref}" is not an Ollama model name (expected ${OLLAMA_PREFIX}name[:tag], e.g. ${OLLAMA_PREFIX}llama3.2:1b)`);
  const [host, namespace, name] = parts.length === 3 ? parts : parts.length === 2 ? [OLLAMA_REGISTRY, ...parts] : [OLLAMA_REGISTRY, OLLAMA_NAMESPACE, parts[0]];
  return { host, namespace, name, tag };
}

/** The short name Ollama prints (`llama3.2:1b`; namespace and host only when not the defaults). */
export function ollamaRefName(r: OllamaRef): string {
  const path = r.host !== OLLAMA_REGISTRY ? `${r.host}/${r.namespace}/${r.name}` : r.namespace !== OLLAMA_NAMESPACE ? `${r.namespace}/${r.name}` : r.name;
  return `${path}:${r.tag}`;
}

/** The GGUF blob a manifest points to; throws naming the manifest when it has none. */
function ollamaBlob(dir: string, manifestPath: string): string {
  let manifest: unknown;
  try {
    manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  } catch (err) {
    throw new Error(`the Ollama manifest ${manifestPath} is not readable JSON (${(err as Error).message})`, { cause: err });
  }
  const layers = (manifest as { layers?: unknown }).layers;
  const layer = Array.isArray(layers) ? layers.find((l) => (l as { mediaType?: unknown })?.mediaType === OLLAMA_MODEL_MEDIA_TYPE) : undefined;
  const digest = (layer as { digest?: unknown } | undefined)?.digest;
  if (typeof digest !== 'string') throw new Error(`the Ollama manifest ${manifestPath} has no model layer (mediaType ${OLLAMA_MODEL_MEDIA_TYPE})`);
  const m = /^sha256:([0-9a-f]{64})$/.exec(digest);
  if (!m) throw new Error(`the Ollama manifest ${manifestPath} names its model by an unexpected digest ${JSON.stringify(digest)}`);
  const blob = join(dir, 'blobs', `sha256-${m[1]}`);
  if (!existsSync(blob)) throw new Error(`the Ollama model blob ${blob} (named by ${manifestPath}) is missing; run "ollama pull" again`);
  return blob;
}

/** `ollama:NAME[:TAG]` → its GGUF blob in Ollama's store. */
export function resolveOllamaModel(ref: string, env: Env = process.env): CheckpointFiles {
  const r = parseOllamaRef(ref);
  const dir = ollamaModelsDir(env);
  const manifest = join(dir, 'manifests', r.host, r.namespace, r.name, r.tag);
  if (!existsSync(manifest)) {
    const have = listOllamaManifests(dir).map((m) => ollamaRefName(m.ref));
    const list = have.length ? `; it has ${have.join(', ')}` : ' (it has none)';
    throw new Error(
      `Ollama model "${ollamaRefName(r)}" was not found: no manifest ${manifest} in Ollama's store ${dir}${list}. Set OLLAMA_MODELS if the store is elsewhere.`,
    );
  }
  return { name: `${OLLAMA_PREFIX}${ollamaRefName(r)}`, weights: ollamaBlob(dir, manifest) };
}

function listOllamaManifests(dir: string): { ref: OllamaRef; path: string }[] {
  const root = join(dir, 'manifests');
  const out: { ref: OllamaRef; path: string }[] = [];
  for (const host of listDir(root))
    for (const namespace of listDir(join(root, host)))
      for (const name of listDir(join(root, host, namespace)))
        for (const tag of listDir(join(root, host, namespace, name))) {
          const path = join(root, host, namespace, name, tag);
          if (!isDir(path)) out.push({ ref: { host, namespace, name, tag }, path });
        }
  return out;
}

/** A model .gguf (not a vision projector, which LM Studio keeps beside the model). */
function isModelGguf(file: string): boolean {
  return file.toLowerCase().endsWith('.gguf') && !file.toLowerCase().startsWith('mmproj');
}

/** `lmstudio:publisher/repo[/file.gguf]` → the file in LM Studio's models folder. */
export function resolveLmStudioModel(ref: string, env: Env = process.env): CheckpointFiles {
  const parts = ref.split('/');
  if ((parts.length !== 2 && parts.length !== 3) || !parts.every((s) => SEGMENT.test(s)))
    throw new TypeError(
      `"${LMSTUDIO_PREFIX}${ref}" is not an LM Studio model (expected ${LMSTUDIO_PREFIX}publisher/repo or ${LMSTUDIO_PREFIX}publisher/repo/file.gguf)`,
    );
  const dirs = lmStudioModelsDirs(env);
  for (const root of dirs) {
    const dir = join(root, parts[0], parts[1]);
    if (!isDir(dir)) continue;
    if (parts.length === 3) {
      const file = join(dir, parts[2]);
      if (existsSync(file)) return { name: `${LMSTUDIO_PREFIX}${ref}`, weights: file };
      continue;
    }
    const ggufs = listDir(dir).filter(isModelGguf);
    if (ggufs.length === 1) return { name: `${LMSTUDIO_PREFIX}${ref}`, weights: join(dir, ggufs[0]) };
    if (ggufs.length > 1) throw new Error(`LM Studio's ${dir} holds several models (${ggufs.join(', ')}); name one: ${LMSTUDIO_PREFIX}${ref}/${ggufs[0]}`);
  }
  const where = dirs.length ? dirs.join(' and ') : `${join(home(env), '.lmstudio', 'models')} (which does not exist)`;
  throw new Error(`LM Studio model "${ref}" was not found in ${where}`);
}

/** One model found on disk. */
export interface LocalModel {
  source: 'ollama' | 'lmstudio' | 'hf-cache';
  /** What --model (or loadModel) takes to load it. */
  ref: string;
  path: string;
  format: 'gguf' | 'safetensors';
  bytes: number;
  architecture?: string;
  /** GGUF: llama.cpp's quant name (Q8_0, Q4_K_M, …); safetensors: the dtype most weights have (F32, F16, BF16). */
  quant?: string;
  /** Parameter count, from the tensor shapes. */
  parameters?: number;
  support: ArchitectureSupport;
  /** Why the header could not be read, when it could not. */
  error?: string;
}

async function describeGguf(base: Omit<LocalModel, 'format' | 'bytes' | 'support'>): Promise<LocalModel> {
  const bytes = statSync(base.path).size;
  try {
    const s = summarizeGguf(await readGgufHeader(base.path));
    return {
      ...base,
      format: 'gguf',
      bytes,
      ...(s.architecture === undefined ? {} : { architecture: s.architecture }),
      ...(s.quant === undefined ? {} : { quant: s.quant }),
      parameters: s.parameters,
      support: architectureSupport(s.architecture),
    };
  } catch (err) {
    return { ...base, format: 'gguf', bytes, support: architectureSupport(undefined), error: (err as Error).message };
  }
}

/** A safetensors checkpoint with config.json beside it: model_type, the dominant dtype and the parameter count. */
async function describeSafetensors(base: Omit<LocalModel, 'format' | 'bytes' | 'support'>, configPath: string): Promise<LocalModel> {
  const bytes = statSync(base.path).size;
  let architecture: string | undefined;
  try {
    const t = (JSON.parse(readFileSync(configPath, 'utf8')) as { model_type?: unknown }).model_type;
    if (typeof t === 'string') architecture = t;
  } catch {
    // described without an architecture
  }
  const out: LocalModel = { ...base, format: 'safetensors', bytes, support: architectureSupport(architecture), ...(architecture ? { architecture } : {}) };
  try {
    const file = await open(base.path, 'r');
    try {
      const len = Buffer.alloc(8);
      await file.read(len, 0, 8, 0);
      const n = Number(len.readBigUInt64LE(0));
      if (n > 100e6 || n + 8 > bytes) throw new Error('bad header length');
      const head = Buffer.alloc(n);
      await file.read(head, 0, n, 8);
      const byType = new Map<string, number>();
      let parameters = 0;
      for (const [name, t] of Object.entries(JSON.parse(head.toString('utf8')) as Record<string, { dtype?: string; shape?: number[] }>)) {
        if (name === '__metadata__' || !Array.isArray(t.shape)) continue;
        const count = t.shape.reduce((a, b) => a * b, 1);
        parameters += count;
        byType.set(String(t.dtype), (byType.get(String(t.dtype)) ?? 0) + count);
      }
      out.parameters = parameters;
      if (byType.size) out.quant = [...byType.entries()].sort((a, b) => b[1] - a[1])[0][0];
    } finally {
      await file.close();
    }
  } catch (err) {
    out.error = `unreadable safetensors header (${(err as Error).message})`;
  }
  return out;
}

async function ollamaModels(env: Env): Promise<LocalModel[]> {
  const dir = ollamaModelsDir(env);
  const out: LocalModel[] = [];
  for (const m of listOllamaManifests(dir)) {
    const ref = `${OLLAMA_PREFIX}${ollamaRefName(m.ref)}`;
    let blob: string;
    try {
      blob = ollamaBlob(dir, m.path);
    } catch (err) {
      out.push({ source: 'ollama', ref, path: m.path, format: 'gguf', bytes: 0, support: architectureSupport(undefined), error: (err as Error).message });
      continue;
    }
    out.push(await describeGguf({ source: 'ollama', ref, path: blob }));
  }
  return out;
}

async function lmStudioModels(env: Env): Promise<LocalModel[]> {
  const out: LocalModel[] = [];
  for (const root of lmStudioModelsDirs(env))
    for (const publisher of listDir(root))
      for (const repo of listDir(join(root, publisher))) {
        const ggufs = listDir(join(root, publisher, repo)).filter(isModelGguf);
        for (const f of ggufs) {
          const ref = `${LMSTUDIO_PREFIX}${publisher}/${repo}${ggufs.length > 1 ? `/${f}` : ''}`;
          out.push(await describeGguf({ source: 'lmstudio', ref, path: join(root, publisher, repo, f) }));
        }
      }
  return out;
}

/** The snapshot refs/main points to, else the only snapshot. */
function mainSnapshot(repoDir: string): string | undefined {
  try {
    const commit = readFileSync(join(repoDir, 'refs', 'main'), 'utf8').trim();
    if (SEGMENT.test(commit) && isDir(join(repoDir, 'snapshots', commit))) return join(repoDir, 'snapshots', commit);
  } catch {
    // no refs/main
  }
  const snaps = listDir(join(repoDir, 'snapshots'));
  return snaps.length === 1 ? join(repoDir, 'snapshots', snaps[0]) : undefined;
}

/** Files under `dir` (two levels: hub repos keep quants in subfolders), relative, sorted. */
function filesUnder(dir: string, depth = 2): string[] {
  const out: string[] = [];
  for (const e of listDir(dir)) {
    const p = join(dir, e);
    if (isDir(p)) {
      if (depth > 1) out.push(...filesUnder(p, depth - 1).map((f) => `${e}/${f}`));
    } else out.push(e);
  }
  return out;
}

async function hubCacheModels(env: Env): Promise<LocalModel[]> {
  const cache = hfHubCache(env);
  const out: LocalModel[] = [];
  for (const folder of listDir(cache)) {
    if (!folder.startsWith('models--')) continue;
    const repo = folder.slice('models--'.length).split('--').join('/');
    const snapshot = mainSnapshot(join(cache, folder));
    if (!snapshot) continue;
    const files = filesUnder(snapshot);
    if (files.includes('model.safetensors') && files.includes('config.json'))
      out.push(await describeSafetensors({ source: 'hf-cache', ref: repo, path: join(snapshot, 'model.safetensors') }, join(snapshot, 'config.json')));
    for (const f of files.filter((f) => isModelGguf(basename(f))))
      out.push(await describeGguf({ source: 'hf-cache', ref: `${repo}/${relative(snapshot, join(snapshot, f))}`, path: join(snapshot, f) }));
  }
  return out;
}

/** Every model found in Ollama's store, LM Studio's folders and the Hugging Face cache, in that order. */
export async function listLocalModels(env: Env = process.env): Promise<LocalModel[]> {
  return [...(await ollamaModels(env)), ...(await lmStudioModels(env)), ...(await hubCacheModels(env))];
}
