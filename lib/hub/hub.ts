// The Hugging Face hub and its cache, following huggingface_hub's conventions so that layerlens and
// Python tools share one cache:
//   files:  ${HF_ENDPOINT:-https://huggingface.co}/{repo}/resolve/{revision}/{file}
//   cache:  ${HF_HUB_CACHE:-${HF_HOME:-${XDG_CACHE_HOME:-~/.cache}/huggingface}/hub}/models--{org}--{name}/
//             blobs/<etag>                  the file's bytes (etag = sha256 for LFS files, git blob sha1 otherwise)
//             blobs/<etag>.incomplete       a transfer in progress (resumed with HTTP Range)
//             snapshots/<commit>/<file>     relative symlink ../../blobs/<etag> (a copy where symlinks fail)
//             refs/<revision>               the commit hash the revision pointed to (no trailing newline)
// A Space (repoType 'space', e.g. the tuned-lens package's published lenses) is the same with
// `{endpoint}/spaces/{repo}/resolve/…` and a `spaces--{org}--{name}` cache folder.
// See docs/architecture.md, "Hub and cache", for the decisions.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import type { IncomingHttpHeaders } from 'node:http';
import { homedir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { IntegrityError, NetworkError, TransferInterruptedError, isRedirect, requestFollowing, transferToFile, type ProgressStream } from './download.js';

export const DEFAULT_ENDPOINT = 'https://huggingface.co';
export const DEFAULT_REVISION = 'main';
/** The files layerlens needs from a model repo. */
export const MODEL_FILES = ['config.json', 'model.safetensors'] as const;

/**
 * The canonical GPT-2 names moved to organisations on the hub. The hub redirects the old names, and
 * huggingface_hub caches under the name that was asked for, so a user's cache may hold either form.
 */
export const HUB_ALIASES: Readonly<Record<string, string>> = Object.freeze({
  gpt2: 'openai-community/gpt2',
  'gpt2-medium': 'openai-community/gpt2-medium',
  'gpt2-large': 'openai-community/gpt2-large',
  'gpt2-xl': 'openai-community/gpt2-xl',
  distilgpt2: 'distilbert/distilgpt2',
});

const COMMIT_RE = /^[0-9a-f]{40}$/i;
const SHA256_RE = /^[0-9a-f]{64}$/i;

type Env = NodeJS.ProcessEnv | Record<string, string | undefined>;

/** What kind of hub repository: a model (the default) or a Space. */
export type HubRepoType = 'model' | 'space';

function expandHome(p: string): string {
  return p === '~' || p.startsWith('~/') ? join(homedir(), p.slice(1)) : p;
}

/** The hub cache directory, as huggingface_hub computes it. */
export function hfHubCache(env: Env = process.env): string {
  if (env.HF_HUB_CACHE) return expandHome(env.HF_HUB_CACHE);
  if (env.HF_HOME) return join(expandHome(env.HF_HOME), 'hub');
  const xdg = env.XDG_CACHE_HOME ? expandHome(env.XDG_CACHE_HOME) : join(homedir(), '.cache');
  return join(xdg, 'huggingface', 'hub');
}

/** `models--org--name` (ids without an organisation, like gpt2-medium, live under the bare name); `spaces--org--name` for a Space. */
export function hubCacheFolder(repoId: string, repoType: HubRepoType = 'model'): string {
  return `${repoType === 'space' ? 'spaces' : 'models'}--${repoId.split('/').join('--')}`;
}

/** A hub repo id: `name` or `org/name` (letters, digits, `_`, `-`, `.`), not a .safetensors file name. */
export function isHubId(s: string): boolean {
  return /^[A-Za-z0-9][\w.-]*(\/[A-Za-z0-9][\w.-]*)?$/.test(s) && !s.endsWith('.safetensors') && !s.includes('..');
}

/** Checks a revision (branch, tag or commit; `refs/pr/1` style names allowed) and returns it. */
export function checkRevision(revision: unknown): string {
  if (typeof revision !== 'string' || revision.length === 0)
    throw new TypeError(`revision must be a non-empty string (a branch, tag or commit), got ${JSON.stringify(revision)}`);
  const ok = revision.split('/').every((seg) => /^[\w.-]+$/.test(seg) && seg !== '.' && seg !== '..');
  if (!ok) throw new TypeError(`revision ${JSON.stringify(revision)} is not a valid branch, tag or commit name`);
  return revision;
}

/** The hub endpoint: $HF_ENDPOINT without a trailing slash, else https://huggingface.co. */
export function hubEndpoint(env: Env = process.env): string {
  const raw = (env.HF_ENDPOINT ?? '').trim() || DEFAULT_ENDPOINT;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new HubError('config', `HF_ENDPOINT=${JSON.stringify(raw)} is not a URL (expected something like ${DEFAULT_ENDPOINT})`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new HubError('config', `HF_ENDPOINT=${JSON.stringify(raw)} must be an http or https URL`);
  return raw.replace(/\/+$/, '');
}

function isTrue(v: string | undefined): boolean {
  return ['1', 'on', 'yes', 'true'].includes((v ?? '').trim().toLowerCase());
}

/** HF_HUB_OFFLINE is set to 1/ON/YES/TRUE (huggingface_hub's rule): no network at all. */
export function isHubOffline(env: Env = process.env): boolean {
  return isTrue(env.HF_HUB_OFFLINE);
}

/** The token: $HF_TOKEN, else the file `huggingface-cli login` writes ($HF_TOKEN_PATH, else $HF_HOME/token). */
export function hubToken(env: Env = process.env): string | undefined {
  const direct = env.HF_TOKEN?.trim();
  if (direct) return direct;
  const home = env.HF_HOME ? expandHome(env.HF_HOME) : join(env.XDG_CACHE_HOME ? expandHome(env.XDG_CACHE_HOME) : join(homedir(), '.cache'), 'huggingface');
  const path = env.HF_TOKEN_PATH ? expandHome(env.HF_TOKEN_PATH) : join(home, 'token');
  try {
    return readFileSync(path, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

function seconds(v: string | undefined, fallback: number): number {
  const n = Number(v);
  return v !== undefined && v.trim() !== '' && Number.isFinite(n) && n > 0 ? n : fallback;
}

/** The URL of one file of a repo at a revision. */
export function hubFileUrl(endpoint: string, repoId: string, revision: string, file: string, repoType: HubRepoType = 'model'): URL {
  return new URL(
    `${endpoint}/${repoType === 'space' ? 'spaces/' : ''}${repoId}/resolve/${encodeURIComponent(revision)}/${file.split('/').map(encodeURIComponent).join('/')}`,
  );
}

function readRef(repoDir: string, revision: string): string | undefined {
  try {
    const commit = readFileSync(join(repoDir, 'refs', revision), 'utf8').trim();
    return /^[\w.-]+$/.test(commit) && commit !== '..' && commit !== '.' ? commit : undefined;
  } catch {
    return undefined;
  }
}

/** The commit a revision names in a cached repo: its ref, or the revision itself when it is a commit. */
function cachedCommit(repoDir: string, revision: string): string | undefined {
  return readRef(repoDir, revision) ?? (COMMIT_RE.test(revision) ? revision : undefined);
}

/** The cache folders that may hold `repoId`: its own, then its alias (gpt2-medium ↔ openai-community/gpt2-medium). */
export function hubCacheCandidates(repoId: string, env: Env = process.env, repoType: HubRepoType = 'model'): string[] {
  const cache = hfHubCache(env);
  if (repoType === 'space') return [join(cache, hubCacheFolder(repoId, repoType))];
  const alias = HUB_ALIASES[repoId] ?? Object.keys(HUB_ALIASES).find((k) => HUB_ALIASES[k] === repoId);
  return [repoId, ...(alias ? [alias] : [])].map((id) => join(cache, hubCacheFolder(id)));
}

/**
 * The snapshot directory of `repoId` at `revision` in the local cache (via refs/<revision>, or the
 * revision itself when it is a commit), when it holds every file in `files`; else undefined.
 */
export function findInHubCache(
  repoId: string,
  revision = DEFAULT_REVISION,
  env: Env = process.env,
  files: readonly string[] = MODEL_FILES,
  repoType: HubRepoType = 'model',
): string | undefined {
  for (const repoDir of hubCacheCandidates(repoId, env, repoType)) {
    const commit = cachedCommit(repoDir, revision);
    if (!commit) continue;
    const snapshot = join(repoDir, 'snapshots', commit);
    if (files.every((f) => existsSync(join(snapshot, f)))) return snapshot;
  }
  return undefined;
}

/** What the cache has of `repoId` at `revision`, in words, for error messages. */
export function describeCacheMiss(
  repoId: string,
  revision = DEFAULT_REVISION,
  env: Env = process.env,
  files: readonly string[] = MODEL_FILES,
  repoType: HubRepoType = 'model',
): string {
  const [own] = hubCacheCandidates(repoId, env, repoType);
  const commit = cachedCommit(own, revision);
  if (commit) {
    const snapshot = join(own, 'snapshots', commit);
    const missing = files.filter((f) => !existsSync(join(snapshot, f)));
    return `its cached snapshot ${snapshot} has no ${missing.join(' and no ')}`;
  }
  return `looked in ${own}/snapshots/<refs/${revision}>/ for ${files.join(' and ')}`;
}

/** Why a hub operation failed. */
export type HubErrorKind =
  | 'offline' // HF_HUB_OFFLINE forbids the network
  | 'network' // no connection, DNS failure, timeout
  | 'repo-not-found'
  | 'revision-not-found'
  | 'file-not-found'
  | 'unauthorized' // 401/403: private, gated, or a bad token
  | 'http' // another HTTP status
  | 'integrity' // size or SHA-256 mismatch: nothing cached
  | 'interrupted' // the transfer was cut; the partial file is kept for resuming
  | 'cache' // the cache directory cannot be written
  | 'config'; // a bad HF_ENDPOINT

export class HubError extends Error {
  override name = 'HubError';
  constructor(
    readonly kind: HubErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

function header(h: IncomingHttpHeaders, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

/** huggingface_hub's etag normalisation: drop a weak `W/` prefix and the quotes. */
function normalizeEtag(v: string | undefined): string | undefined {
  if (!v) return undefined;
  const e = v
    .trim()
    .replace(/^W\//, '')
    .replace(/^"(.*)"$/, '$1');
  // It becomes a file name: only accept what cannot escape the blobs directory.
  return /^[\w.-]+$/.test(e) && e !== '.' && e !== '..' && !e.endsWith('.incomplete') ? e : undefined;
}

/** The commit hash written when the server sends none and the revision is not a commit (documented). */
export function placeholderCommit(repoId: string, revision: string): string {
  return createHash('sha1').update(`layerlens-placeholder-commit\0${repoId}\0${revision}`).digest('hex');
}

interface Ctx {
  repoId: string;
  repoType: HubRepoType;
  revision: string;
  endpoint: string;
  auth?: { origin: string; header: string };
  hasToken: boolean;
  headers: Record<string, string>;
  etagTimeoutMs: number;
  downloadTimeoutMs: number;
}

function httpError(ctx: Ctx, file: string, status: number, h: IncomingHttpHeaders, url: URL): HubError {
  const code = header(h, 'x-error-code');
  const serverMsg = header(h, 'x-error-message');
  const said = serverMsg ? ` The hub says: ${serverMsg}` : '';
  const where = `${url.origin}${url.pathname}`;
  const token = ctx.hasToken
    ? 'The token in HF_TOKEN was sent; check that it can read this repository (and, for a gated model, that access was granted on its page).'
    : 'If it is private or gated, accept its terms on the model page and set HF_TOKEN to an access token that can read it.';
  if (code === 'GatedRepo') {
    return new HubError('unauthorized', `"${ctx.repoId}" is a gated model: access to ${file} was denied (${status} from ${where}). ${token}${said}`);
  }
  if (status === 401 || status === 403) {
    const what =
      code === 'RepoNotFound' ? `the hub has no repository "${ctx.repoId}" that these credentials can see` : `access to ${file} of "${ctx.repoId}" was denied`;
    return new HubError('unauthorized', `${what} (${status} from ${where}). Check the name; ${token}${said}`);
  }
  if (status === 404) {
    if (code === 'EntryNotFound') {
      const needs = ctx.repoType === 'model' ? '; layerlens needs config.json and model.safetensors (pytorch_model.bin and .h5 weights are not read)' : '';
      return new HubError(
        'file-not-found',
        `the hub ${ctx.repoType === 'space' ? 'space' : 'repository'} "${ctx.repoId}" has no file ${file} at revision ${ctx.revision} (404 from ${where})${needs}${said}`,
      );
    }
    if (code === 'RevisionNotFound') {
      return new HubError(
        'revision-not-found',
        `the hub repository "${ctx.repoId}" has no revision ${JSON.stringify(ctx.revision)} (404 from ${where}); give a branch, tag or commit that exists${said}`,
      );
    }
    if (code === 'RepoNotFound') {
      return new HubError(
        'repo-not-found',
        `the hub has no repository "${ctx.repoId}" (404 from ${where}). Check the name (org/name); if it is private or gated, set HF_TOKEN.${said}`,
      );
    }
    return new HubError(
      'repo-not-found',
      `the hub has no repository "${ctx.repoId}" with a file ${file} at revision ${ctx.revision} (404 from ${where}). Check the name (org/name); if it is private or gated, set HF_TOKEN.${said}`,
    );
  }
  return new HubError('http', `the hub answered ${status} for ${file} of "${ctx.repoId}" (${where}); try again later${said}`);
}

function networkError(ctx: Ctx, file: string, err: NetworkError | Error): HubError {
  if (err instanceof NetworkError) {
    return new HubError('network', `could not reach the Hugging Face hub at ${ctx.endpoint} to fetch ${file} of "${ctx.repoId}": ${err.message}`, {
      cause: err,
    });
  }
  return new HubError('http', `fetching ${file} of "${ctx.repoId}" from ${ctx.endpoint} failed: ${err.message}`, { cause: err });
}

interface FileMeta {
  file: string;
  /** Where to GET the bytes: the CDN location of an LFS file, else the resolve URL. */
  url: URL;
  commit?: string;
  etag?: string;
  size?: number;
}

/** HEAD on the resolve URL; redirects without file metadata (renamed repos) are followed, the 302 to the CDN is not. */
async function fileMetadata(ctx: Ctx, revision: string, file: string): Promise<FileMeta> {
  const start = hubFileUrl(ctx.endpoint, ctx.repoId, revision, file, ctx.repoType);
  const hasMeta = (h: IncomingHttpHeaders) => header(h, 'x-repo-commit') !== undefined || header(h, 'x-linked-etag') !== undefined;
  let r;
  try {
    r = await requestFollowing(start, {
      method: 'HEAD',
      headers: { ...ctx.headers, 'accept-encoding': 'identity' },
      auth: ctx.auth,
      timeoutMs: ctx.etagTimeoutMs,
      stop: (res) => hasMeta(res.headers),
    });
  } catch (err) {
    throw networkError(ctx, file, err as Error);
  }
  r.res.resume();
  const status = r.res.statusCode ?? 0;
  const last = r.hops[r.hops.length - 1];
  if (!(status >= 200 && status < 300) && !isRedirect(status)) throw httpError(ctx, file, status, last.headers, r.url);
  const first = (name: string) => r.hops.map((h) => header(h.headers, name)).find((v) => v !== undefined);
  const commitRaw = first('x-repo-commit')?.trim();
  const commit = commitRaw && /^[0-9a-f]{40,64}$/i.test(commitRaw) ? commitRaw.toLowerCase() : undefined;
  const linked = first('x-linked-etag');
  const ownEtag = status < 300 || hasMeta(last.headers) ? header(last.headers, 'etag') : undefined;
  const etag = normalizeEtag(linked ?? ownEtag);
  const sizeRaw = first('x-linked-size') ?? (status < 300 ? header(last.headers, 'content-length') : undefined);
  const size = sizeRaw !== undefined && /^\d+$/.test(sizeRaw.trim()) ? Number(sizeRaw.trim()) : undefined;
  let url = r.url;
  if (isRedirect(status)) {
    const loc = header(last.headers, 'location');
    if (!loc) throw new HubError('http', `the hub answered ${status} without a Location for ${file} of "${ctx.repoId}" (${r.url.href})`);
    url = new URL(loc, r.url);
  }
  return { file, url, commit, etag, size };
}

export interface HubDownloadOptions {
  /** Branch, tag or commit (default "main"). */
  revision?: string;
  /** A model repository (default) or a Space. */
  repoType?: HubRepoType;
  /** HF_ENDPOINT, HF_HOME, HF_HUB_CACHE, HF_HUB_OFFLINE, HF_TOKEN, …; default process.env. */
  env?: Env;
  /** No progress bar. The bar is drawn only when `progress` (default process.stderr) is a TTY. */
  quiet?: boolean;
  progress?: ProgressStream;
  /** Further attempts after a dropped connection, each resuming with Range (default 3). */
  retries?: number;
  /** Base delay between those attempts in ms (default 500, doubling). */
  retryDelayMs?: number;
}

export interface HubSnapshot {
  repoId: string;
  revision: string;
  commit: string;
  /** The repo's cache folder (models--org--name). */
  repoDir: string;
  /** snapshots/<commit>/ */
  snapshot: string;
  /** file → its path in the snapshot. */
  files: Record<string, string>;
  /** The files whose bytes were transferred by this call. */
  transferred: string[];
}

/** One download per blob at a time in this process (concurrent loads of one model share it). */
const inFlight = new Map<string, Promise<void>>();

function cacheError(dir: string, err: unknown): HubError {
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'ENOSPC') return new HubError('cache', `not enough disk space in the Hugging Face cache at ${dir} (ENOSPC)`, { cause: err });
  return new HubError(
    'cache',
    `cannot write the Hugging Face cache at ${dir} (${e?.code ?? e?.message}); set HF_HUB_CACHE (or HF_HOME) to a writable directory`,
    { cause: err },
  );
}

/** snapshots/<commit>/<file> → relative symlink to the blob (written under a temp name, then renamed); a copy where symlinks fail. */
async function linkPointer(blob: string, pointer: string): Promise<void> {
  await mkdir(dirname(pointer), { recursive: true });
  const tmp = `${pointer}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await symlink(relative(dirname(pointer), blob), tmp);
  } catch {
    await copyFile(blob, tmp);
  }
  await rename(tmp, pointer);
}

async function writeRef(repoDir: string, revision: string, commit: string): Promise<void> {
  const ref = join(repoDir, 'refs', revision);
  try {
    if ((await readFile(ref, 'utf8')) === commit) return;
  } catch {
    // absent
  }
  await mkdir(dirname(ref), { recursive: true });
  const tmp = `${ref}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, commit); // no newline, as huggingface_hub writes it
  await rename(tmp, ref);
}

/**
 * Downloads `files` of `repoId` at `revision` into the cache (only what the cache lacks) and returns
 * the snapshot. Always asks the hub which commit the revision is (one HEAD per file); the bytes of a
 * file are transferred only when its blob is not cached. A snapshot directory gets its links only
 * once every file is downloaded and verified.
 */
export async function downloadHubFiles(repoId: string, files: readonly string[] = MODEL_FILES, options: HubDownloadOptions = {}): Promise<HubSnapshot> {
  const env = options.env ?? process.env;
  const revision = checkRevision(options.revision ?? DEFAULT_REVISION);
  const repoType = options.repoType ?? 'model';
  if (!isHubId(repoId)) throw new TypeError(`${JSON.stringify(repoId)} is not a hub repo id (expected name or org/name)`);
  if (files.length === 0) throw new TypeError('no files to download');
  if (isHubOffline(env)) {
    throw new HubError(
      'offline',
      `HF_HUB_OFFLINE=${env.HF_HUB_OFFLINE} forbids downloading ${files.join(' and ')} of "${repoId}" (${describeCacheMiss(repoId, revision, env, files, repoType)})`,
    );
  }
  const endpoint = hubEndpoint(env);
  const token = hubToken(env);
  const ctx: Ctx = {
    repoId,
    repoType,
    revision,
    endpoint,
    hasToken: token !== undefined,
    ...(token ? { auth: { origin: new URL(endpoint).origin, header: `Bearer ${token}` } } : {}),
    headers: { 'user-agent': `layerlens; node/${process.versions.node}` },
    etagTimeoutMs: seconds(env.HF_HUB_ETAG_TIMEOUT, 10) * 1000,
    downloadTimeoutMs: seconds(env.HF_HUB_DOWNLOAD_TIMEOUT, 10) * 1000,
  };
  const quiet = options.quiet || isTrue(env.HF_HUB_DISABLE_PROGRESS_BARS);
  const out = options.progress ?? process.stderr;
  const progress = !quiet && out.isTTY ? out : undefined;

  // Metadata first, for every file, so that a missing file fails before gigabytes are moved. The
  // first file fixes the commit; the others are asked for at that commit, so all come from one.
  const metas: FileMeta[] = [await fileMetadata(ctx, revision, files[0])];
  const commit = metas[0].commit ?? (COMMIT_RE.test(revision) ? revision.toLowerCase() : placeholderCommit(repoId, revision));
  for (const f of files.slice(1)) metas.push(await fileMetadata(ctx, metas[0].commit ?? revision, f));

  const repoDir = join(hfHubCache(env), hubCacheFolder(repoId, repoType));
  const blobs = join(repoDir, 'blobs');
  const snapshot = join(repoDir, 'snapshots', commit);
  try {
    await mkdir(blobs, { recursive: true });
  } catch (err) {
    throw cacheError(repoDir, err);
  }

  // Largest first: if the big transfer fails, nothing else has been written.
  const transferred: string[] = [];
  const blobOf = new Map<string, string>();
  for (const m of [...metas].sort((a, b) => (b.size ?? 0) - (a.size ?? 0))) {
    if (existsSync(join(snapshot, m.file))) continue;
    const blob = await fetchBlob(ctx, m, blobs, progress, options);
    blobOf.set(m.file, blob.path);
    if (blob.transferred) transferred.push(m.file);
  }

  try {
    for (const m of metas) {
      const pointer = join(snapshot, m.file);
      const blob = blobOf.get(m.file);
      if (blob !== undefined && !existsSync(pointer)) await linkPointer(blob, pointer);
    }
    if (revision !== commit) await writeRef(repoDir, revision, commit);
  } catch (err) {
    throw cacheError(repoDir, err);
  }
  return { repoId, revision, commit, repoDir, snapshot, files: Object.fromEntries(metas.map((m) => [m.file, join(snapshot, m.file)])), transferred };
}

/** blobs/<etag>, downloading it through blobs/<etag>.incomplete when absent. */
async function fetchBlob(
  ctx: Ctx,
  m: FileMeta,
  blobs: string,
  progress: ProgressStream | undefined,
  options: HubDownloadOptions,
): Promise<{ path: string; transferred: boolean }> {
  if (m.etag) {
    const path = join(blobs, m.etag);
    if (existsSync(path)) return { path, transferred: false };
    let p = inFlight.get(path);
    if (!p) {
      p = (async () => {
        const incomplete = `${path}.incomplete`;
        await transfer(ctx, m, incomplete, progress, options, SHA256_RE.test(m.etag!) ? m.etag!.toLowerCase() : undefined);
        await rename(incomplete, path).catch((err) => {
          throw cacheError(blobs, err);
        });
      })();
      inFlight.set(path, p);
      p.finally(() => inFlight.delete(path)).catch(() => undefined);
    }
    await p;
    return { path, transferred: true };
  }
  // No etag (not the hub, or a proxy that strips headers): name the blob by its SHA-256. Without a
  // stable name there is nothing to resume, so a failed transfer leaves nothing behind.
  const incomplete = join(blobs, `.layerlens-${randomBytes(8).toString('hex')}.incomplete`);
  try {
    const { sha256 } = await transfer(ctx, m, incomplete, progress, options, undefined, true);
    const path = join(blobs, sha256!);
    await rename(incomplete, path);
    return { path, transferred: true };
  } catch (err) {
    await rm(incomplete, { force: true });
    throw err;
  }
}

async function transfer(
  ctx: Ctx,
  m: FileMeta,
  incomplete: string,
  progress: ProgressStream | undefined,
  options: HubDownloadOptions,
  sha256: string | undefined,
  computeSha256 = false,
): Promise<{ size: number; sha256?: string }> {
  try {
    return await transferToFile({
      url: m.url,
      headers: ctx.headers,
      auth: ctx.auth,
      timeoutMs: ctx.downloadTimeoutMs,
      incomplete,
      ...(m.size === undefined ? {} : { expectedSize: m.size }),
      ...(sha256 === undefined ? {} : { sha256 }),
      computeSha256,
      retries: options.retries ?? 3,
      retryDelayMs: options.retryDelayMs ?? 500,
      progress,
      label: m.file,
      httpError: (status, h, url) => httpError(ctx, m.file, status, h, url),
    });
  } catch (err) {
    if (err instanceof HubError) throw err;
    if (err instanceof IntegrityError)
      throw new HubError('integrity', `downloading ${m.file} of "${ctx.repoId}" from ${m.url.origin} failed its check: ${err.message}`, { cause: err });
    if (err instanceof TransferInterruptedError) {
      const of = err.expectedSize === undefined ? '' : ` of ${err.expectedSize}`;
      throw new HubError(
        'interrupted',
        `the download of ${m.file} of "${ctx.repoId}" from ${m.url.origin} was interrupted (${err.message}); ${err.bytesSaved}${of} bytes are saved in ${incomplete}, and the next attempt resumes from there`,
        { cause: err },
      );
    }
    const e = err as NodeJS.ErrnoException;
    if (e?.code && ['EACCES', 'EPERM', 'EROFS', 'ENOSPC'].includes(e.code)) throw cacheError(dirname(incomplete), err);
    throw networkError(ctx, m.file, err as Error);
  }
}
