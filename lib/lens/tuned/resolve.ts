// A tuned lens by folder or by name. A name that is not an existing folder is one of the tuned-lens
// package's published lenses: the Hugging Face Space AlignmentResearch/tuned-lens holds them as
// lens/<name>/config.json + lens/<name>/params.pt, where <name> is the model's hub id as the package is
// given it ("gpt2", "EleutherAI/pythia-160m-deduped"). Like the package, TUNED_LENS_REPO_ID and
// TUNED_LENS_REPO_TYPE point at another repository. Files go through lib/hub (the shared HF cache under
// spaces--AlignmentResearch--tuned-lens, HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE).
import { existsSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import type { ProgressStream } from '../../hub/download.js';
import {
  checkRevision,
  DEFAULT_ENDPOINT,
  DEFAULT_REVISION,
  describeCacheMiss,
  downloadHubFiles,
  findInHubCache,
  HubError,
  isHubId,
  isHubOffline,
  type HubRepoType,
} from '../../hub/hub.js';
import { loadTunedLens, type TunedLens } from './tuned-lens.js';

/** Where the tuned-lens package publishes its lenses. */
export const TUNED_LENS_REPO = 'AlignmentResearch/tuned-lens';
const TUNED_LENS_REPO_TYPE: HubRepoType = 'space';
/** The files of one published lens, under lens/<name>/. */
const PUBLISHED_LENS_FILES = ['config.json', 'params.pt'] as const;

export interface TunedLensResolveOptions {
  /** HF_ENDPOINT, HF_HOME, HF_HUB_CACHE, HF_HUB_OFFLINE, HF_TOKEN, TUNED_LENS_REPO_ID, TUNED_LENS_REPO_TYPE; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Revision of the lens repository (default "main"). */
  revision?: string;
  /** Download a published lens that is not cached (default true). */
  download?: boolean;
  /** No progress bar (it is drawn only when stderr is a TTY anyway). */
  quiet?: boolean;
  progress?: ProgressStream;
}

/** The repository published lenses come from: the package's Space, or TUNED_LENS_REPO_ID / TUNED_LENS_REPO_TYPE. */
function tunedLensRepo(env: NodeJS.ProcessEnv = process.env): { repoId: string; repoType: HubRepoType } {
  const repoId = env.TUNED_LENS_REPO_ID?.trim() || TUNED_LENS_REPO;
  const type = (env.TUNED_LENS_REPO_TYPE?.trim() || TUNED_LENS_REPO_TYPE).replace(/s$/, '');
  if (type !== 'model' && type !== 'space')
    throw new Error(`TUNED_LENS_REPO_TYPE=${JSON.stringify(env.TUNED_LENS_REPO_TYPE)}: layerlens reads lenses from a "space" or a "model" repository`);
  if (!isHubId(repoId)) throw new Error(`TUNED_LENS_REPO_ID=${JSON.stringify(repoId)} is not a hub repository id (org/name)`);
  return { repoId, repoType: type };
}

/** A published lens's name: one or two hub-id segments (`gpt2`, `EleutherAI/pythia-160m-deduped`). */
function isPublishedLensName(name: string): boolean {
  return isHubId(name) && !name.endsWith('.pt') && !name.endsWith('.json');
}

/** The folder a published lens lives in, inside its repository. */
function publishedLensFolder(name: string): string {
  return `lens/${name}`;
}

/** A folder that holds a lens's files (config.json and params.pt or params.safetensors). */
function isLensFolder(dir: string): boolean {
  return existsSync(join(dir, 'config.json')) && (existsSync(join(dir, 'params.pt')) || existsSync(join(dir, 'params.safetensors')));
}

function browseUrl(repoId: string, repoType: HubRepoType, env: NodeJS.ProcessEnv): string {
  const endpoint = (env.HF_ENDPOINT?.trim() || DEFAULT_ENDPOINT).replace(/\/+$/, '');
  return `${endpoint}/${repoType === 'space' ? 'spaces/' : ''}${repoId}/tree/main/lens`;
}

/** The three ways out of a lens that could not be found. */
function whatToDo(repoId: string, repoType: HubRepoType, env: NodeJS.ProcessEnv): string {
  return (
    `What to do: check the name against the published lenses at ${browseUrl(repoId, repoType, env)} (a lens is named by its model's hub id, ` +
    `e.g. "gpt2" or "EleutherAI/pythia-160m-deduped"); or give a local folder that holds config.json and params.pt (or params.safetensors); ` +
    `or train one with \`layerlens train-lens --data FILE --out DIR\`.`
  );
}

/**
 * The folder of a tuned lens: `nameOrPath` itself when it exists; else the published lens of that name,
 * from the local Hugging Face cache or (unless offline or `download: false`) downloaded into it.
 */
export async function resolveTunedLensFolder(nameOrPath: string, options: TunedLensResolveOptions = {}): Promise<string> {
  if (typeof nameOrPath !== 'string' || nameOrPath.trim() === '')
    throw new TypeError(`tunedLens must be a folder or a lens name, got ${JSON.stringify(nameOrPath)}`);
  // As the package decides: a folder with the lens files wins over a name (a model folder named "gpt2" does not).
  if (isLensFolder(nameOrPath)) return nameOrPath;
  const env = options.env ?? process.env;
  const { repoId, repoType } = tunedLensRepo(env);
  const pathLike = isAbsolute(nameOrPath) || nameOrPath.startsWith('.') || nameOrPath.startsWith('~') || nameOrPath.includes('\\');
  // A path (or something that exists but holds no lens, or cannot be a name): loadTunedLens says what is missing.
  if (pathLike || (existsSync(nameOrPath) && !isPublishedLensName(nameOrPath))) return nameOrPath;
  if (!isPublishedLensName(nameOrPath)) {
    throw new Error(
      `tuned lens ${JSON.stringify(nameOrPath)} was not found: there is no such folder, and it is not a published lens name (org/name). ${whatToDo(repoId, repoType, env)}`,
    );
  }
  const revision = checkRevision(options.revision ?? DEFAULT_REVISION);
  const folder = publishedLensFolder(nameOrPath);
  const files = PUBLISHED_LENS_FILES.map((f) => `${folder}/${f}`);
  const cached = findInHubCache(repoId, revision, env, files, repoType);
  if (cached) return join(cached, folder);

  const where = `the ${repoType === 'space' ? 'Hugging Face space' : 'hub repository'} ${repoId} (${folder}/)`;
  const missing = `tuned lens "${nameOrPath}" is not a local folder, and the Hugging Face cache has no copy of ${where}: ${describeCacheMiss(repoId, revision, env, files, repoType)}`;
  if (options.download === false) throw new HubError('offline', `${missing}; downloading was turned off. ${whatToDo(repoId, repoType, env)}`);
  if (isHubOffline(env))
    throw new HubError(
      'offline',
      `${missing}; HF_HUB_OFFLINE=${env.HF_HUB_OFFLINE} forbids downloading it (unset it to download). ${whatToDo(repoId, repoType, env)}`,
    );
  try {
    const snap = await downloadHubFiles(repoId, files, {
      revision,
      env,
      repoType,
      ...(options.quiet === undefined ? {} : { quiet: options.quiet }),
      ...(options.progress === undefined ? {} : { progress: options.progress }),
    });
    return join(snap.snapshot, folder);
  } catch (err) {
    if (!(err instanceof HubError)) throw err;
    if (err.kind === 'file-not-found' || err.kind === 'repo-not-found')
      throw new HubError(
        err.kind,
        `no published tuned lens "${nameOrPath}": ${where} has no ${files.join(' or ')} (${err.message}). ${whatToDo(repoId, repoType, env)}`,
        {
          cause: err,
        },
      );
    throw new HubError(err.kind, `tuned lens "${nameOrPath}" is not a local folder, and downloading it from ${where} failed: ${err.message}`, { cause: err });
  }
}

/** loadTunedLens of a folder, or of a published lens by name (see resolveTunedLensFolder). */
export async function loadTunedLensByName(nameOrPath: string, options: TunedLensResolveOptions = {}): Promise<TunedLens> {
  return loadTunedLens(await resolveTunedLensFolder(nameOrPath, options));
}
