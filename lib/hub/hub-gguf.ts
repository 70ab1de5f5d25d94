// GGUF files from a hub repository, chosen by file or by quant:
//   org/name/file.gguf   that file (also in a subfolder: org/name/Q8_0/file.gguf)
//   org/name:Q8_0        the one .gguf whose name holds the quant, case-insensitive
// The file goes into the Hugging Face cache like any hub download, and a cached snapshot is used
// without any network. To choose by quant, the repo's files are listed: from the cached snapshot first,
// else from the hub's tree API (GET {endpoint}/api/models/{repo}/tree/{revision}?recursive=true).
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  DEFAULT_REVISION,
  HubError,
  checkRevision,
  downloadHubFiles,
  findInHubCache,
  hubCacheCandidates,
  hubEndpoint,
  hubToken,
  isHubId,
  isHubOffline,
  type HubDownloadOptions,
} from './hub.js';

type Env = NodeJS.ProcessEnv | Record<string, string | undefined>;

export type HubGgufRef = { repo: string; file: string; quant?: undefined } | { repo: string; quant: string; file?: undefined };

const QUANT = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** `org/name:QUANT` or `org/name/path/file.gguf` as a repo and a choice; undefined for anything else. */
export function parseHubGgufRef(s: string): HubGgufRef | undefined {
  const colon = s.lastIndexOf(':');
  if (colon > 0 && !s.includes('://')) {
    const repo = s.slice(0, colon);
    const quant = s.slice(colon + 1);
    return isHubId(repo) && QUANT.test(quant) && !quant.toLowerCase().endsWith('.gguf') ? { repo, quant } : undefined;
  }
  const parts = s.split('/');
  if (parts.length < 3 || !s.toLowerCase().endsWith('.gguf')) return undefined;
  const repo = parts.slice(0, 2).join('/');
  const file = parts.slice(2).join('/');
  const ok = isHubId(repo) && parts.slice(2).every((p) => /^[\w][\w.+-]*$/.test(p));
  return ok ? { repo, file } : undefined;
}

/** A model .gguf, not a vision projector (mmproj-*.gguf), which GGUF repos often ship beside the model. */
function isModelGguf(path: string): boolean {
  const base = path.slice(path.lastIndexOf('/') + 1).toLowerCase();
  return base.endsWith('.gguf') && !base.startsWith('mmproj');
}

/**
 * The one .gguf among `files` whose name contains `quant` (case-insensitive). When several do, the ones
 * where the quant stands alone (`-Q4_K.gguf`, not `-Q4_K_M.gguf`) are preferred. Throws listing the
 * candidates when none or several remain.
 */
export function chooseGgufByQuant(files: readonly string[], quant: string, repo: string): string {
  const ggufs = files.filter(isModelGguf);
  const q = quant.toLowerCase();
  let matches = ggufs.filter((f) => f.toLowerCase().includes(q));
  if (matches.length > 1) {
    const esc = q.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const alone = new RegExp(`(^|[^a-z0-9])${esc}($|[^a-z0-9_])`);
    const exact = matches.filter((f) => alone.test(f.toLowerCase()));
    if (exact.length > 0) matches = exact;
  }
  if (matches.length === 1) return matches[0];
  const list = (fs: readonly string[]) => (fs.length ? fs.join(', ') : 'none');
  if (matches.length === 0) throw new HubError('file-not-found', `no GGUF file of "${repo}" matches the quant ${quant}; its GGUF files: ${list(ggufs)}`);
  throw new HubError('file-not-found', `several GGUF files of "${repo}" match the quant ${quant}: ${list(matches)}; name one as ${repo}/${matches[0]}`);
}

/** The files of the cached snapshot of `repo` at `revision` (relative paths, two folder levels deep). */
function cachedFiles(repo: string, revision: string, env: Env): { snapshot: string; files: string[] } | undefined {
  const snapshot = findInHubCache(repo, revision, env, []);
  if (!snapshot) return undefined;
  const walk = (dir: string, depth: number): string[] => {
    let entries: string[];
    try {
      entries = readdirSync(dir).sort();
    } catch {
      return [];
    }
    return entries.flatMap((e) => {
      const p = join(dir, e);
      try {
        if (statSync(p).isDirectory()) return depth > 1 ? walk(p, depth - 1).map((f) => `${e}/${f}`) : [];
      } catch {
        return [];
      }
      return [e];
    });
  };
  return { snapshot, files: walk(snapshot, 3) };
}

/** The repo's file paths from the hub's tree API (following its pagination). */
export async function listHubFiles(repo: string, revision: string, env: Env): Promise<string[]> {
  const endpoint = hubEndpoint(env);
  const token = hubToken(env);
  const headers: Record<string, string> = { 'user-agent': `layerlens; node/${process.versions.node}` };
  if (token) headers.authorization = `Bearer ${token}`;
  let url: string | undefined = `${endpoint}/api/models/${repo}/tree/${encodeURIComponent(revision)}?recursive=true`;
  const files: string[] = [];
  for (let page = 0; url !== undefined && page < 100; page++) {
    let res: Response;
    try {
      res = await fetch(url, { headers, signal: AbortSignal.timeout(10_000) });
    } catch (err) {
      throw new HubError('network', `could not list the files of "${repo}" at ${endpoint}: ${(err as Error).message}`, { cause: err });
    }
    if (res.status === 401 || res.status === 403)
      throw new HubError('unauthorized', `listing the files of "${repo}" was denied (${res.status}); if it is private or gated, set HF_TOKEN`);
    if (res.status === 404) {
      const code = res.headers.get('x-error-code');
      if (code === 'RevisionNotFound') throw new HubError('revision-not-found', `the hub repository "${repo}" has no revision ${JSON.stringify(revision)}`);
      throw new HubError('repo-not-found', `the hub has no repository "${repo}" (404 from ${endpoint}/api/models/${repo}/tree)`);
    }
    if (!res.ok) throw new HubError('http', `the hub answered ${res.status} when listing the files of "${repo}"`);
    const body = (await res.json()) as unknown;
    if (!Array.isArray(body)) throw new HubError('http', `the hub's file list of "${repo}" is not a JSON array`);
    for (const e of body) if (e?.type === 'file' && typeof e.path === 'string') files.push(e.path);
    const next = /<([^>]+)>;\s*rel="next"/.exec(res.headers.get('link') ?? '');
    url = next ? new URL(next[1], url).href : undefined;
  }
  return files;
}

export interface HubGgufOptions extends Omit<HubDownloadOptions, 'env'> {
  env?: Env;
  /** Download what the cache lacks (default true). */
  download?: boolean;
}

/** A hub GGUF choice → the file in the local cache, downloading it when needed. */
export async function resolveHubGguf(ref: HubGgufRef, options: HubGgufOptions = {}): Promise<{ name: string; weights: string; snapshot: string }> {
  const env = options.env ?? process.env;
  const revision = checkRevision(options.revision ?? DEFAULT_REVISION);
  const name = ref.file !== undefined ? `${ref.repo}/${ref.file}` : `${ref.repo}:${ref.quant}`;
  let file = ref.file;
  const cached = cachedFiles(ref.repo, revision, env);
  if (file === undefined && cached) {
    try {
      file = chooseGgufByQuant(cached.files, ref.quant!, ref.repo);
    } catch {
      // not decidable from the cache: ask the hub
    }
  }
  if (file !== undefined && cached?.files.includes(file)) return { name, weights: join(cached.snapshot, file), snapshot: cached.snapshot };

  const offline = options.download === false || isHubOffline(env);
  if (offline) {
    const why = options.download === false ? 'downloading was turned off' : `HF_HUB_OFFLINE=${env.HF_HUB_OFFLINE} forbids the network`;
    const where = hubCacheCandidates(ref.repo, env)[0];
    throw new HubError('offline', `"${name}" is not in the Hugging Face cache (${where}, revision ${revision}) and ${why}`);
  }
  file ??= chooseGgufByQuant(await listHubFiles(ref.repo, revision, env), ref.quant!, ref.repo);
  const { download: _download, ...rest } = options;
  const snap = await downloadHubFiles(ref.repo, [file], { ...rest, env, revision });
  return { name, weights: snap.files[file], snapshot: snap.snapshot };
}
