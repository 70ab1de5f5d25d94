// A small HTTP server on 127.0.0.1 that behaves like the Hugging Face hub's resolve endpoint, for the
// download tests (test/hub.test.ts):
//   HEAD|GET /{repo}/resolve/{revision}/{file}
//     - a regular file (config.json): 200, ETag "<git blob sha1>", X-Repo-Commit, Content-Length;
//     - an LFS file (*.safetensors, *.gguf, *.pt): 302 to {cdn}/cdn/<sha256>?X-Amz-Signature=… with X-Repo-Commit,
//       X-Linked-Etag "<sha256>", X-Linked-Size, like the hub's redirect to its CDN;
//     - 404 with X-Error-Code RepoNotFound / RevisionNotFound / EntryNotFound; 401 for a private repo
//       without its token; 307 with a relative Location for a renamed repo.
//   A Space's files are served the same way under /spaces/{repo}/resolve/…: register the repo as "spaces/{repo}".
//   HEAD|GET /cdn/<sha256>: the bytes, with Range support (206 + Content-Range, 416).
//   GET /api/models/{repo}/tree/{revision}?recursive=true: the repo's files as the hub's tree API lists
//     them ([{type: "file", path, size}], folders as {type: "directory"}), two pages when there are
//     more than 2 entries (a Link rel="next" header, as the hub paginates).
// Every request is recorded (method, path, Range, Authorization). Behaviour switches let a test cut a
// connection (or stall) after N body bytes, announce a wrong SHA-256, omit X-Repo-Commit, ignore Range, or hang.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type OutgoingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeRepo {
  /** 40-hex commit the repo's main branch points to. */
  commit: string;
  files: Record<string, Buffer>;
  /** Bearer token a private repo requires (401 without it). */
  token?: string;
}

export interface RecordedRequest {
  server: 'hub' | 'cdn';
  method: string;
  path: string;
  range?: string;
  authorization?: string;
}

export interface FakeHubBehaviour {
  /** CDN GETs send this many body bytes and then destroy the socket … */
  cutAfterBytes?: number;
  /** … for this many requests (each cut decrements it). */
  cutTimes: number;
  /** Instead of destroying the socket, keep it open and send nothing more (a stalled transfer). */
  stallInsteadOfCut: boolean;
  /** Announce a SHA-256 (X-Linked-Etag) that is not the file's. */
  wrongSha256: boolean;
  /** Send no X-Repo-Commit. */
  omitCommit: boolean;
  /** Ignore Range headers (always 200 with the whole file). */
  ignoreRange: boolean;
  /** Never answer HEAD requests (to test timeouts). */
  hangHead: boolean;
}

export function sha256Hex(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** The git blob id the hub uses as ETag of a regular (non-LFS) file. */
export function gitBlobSha1(b: Buffer): string {
  return createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');
}

const isLfs = (file: string) => file.endsWith('.safetensors') || file.endsWith('.gguf') || file.endsWith('.pt');

function defaults(): FakeHubBehaviour {
  return { cutTimes: 0, stallInsteadOfCut: false, wrongSha256: false, omitCommit: false, ignoreRange: false, hangHead: false };
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
  });
}

export class FakeHub {
  readonly requests: RecordedRequest[] = [];
  behaviour: FakeHubBehaviour = defaults();
  url = '';
  cdnUrl = '';
  readonly #repos: Record<string, FakeRepo>;
  /** Old name → new name: answered with a 307 to the new name's URL (a relative Location). */
  readonly #renames: Record<string, string>;
  readonly #blobs = new Map<string, Buffer>();
  readonly #hub: Server;
  readonly #cdn: Server | undefined;

  private constructor(repos: Record<string, FakeRepo>, renames: Record<string, string>, separateCdn: boolean) {
    this.#repos = repos;
    this.#renames = renames;
    for (const r of Object.values(repos)) for (const [f, b] of Object.entries(r.files)) if (isLfs(f)) this.#blobs.set(sha256Hex(b), b);
    this.#hub = createServer((req, res) => this.#handle('hub', req, res));
    this.#cdn = separateCdn ? createServer((req, res) => this.#handle('cdn', req, res)) : undefined;
  }

  /** Starts the hub (and, with separateCdn, a CDN on another port: another origin). */
  static async start(repos: Record<string, FakeRepo>, options: { renames?: Record<string, string>; separateCdn?: boolean } = {}): Promise<FakeHub> {
    const hub = new FakeHub(repos, options.renames ?? {}, options.separateCdn ?? false);
    hub.url = await listen(hub.#hub);
    hub.cdnUrl = hub.#cdn ? await listen(hub.#cdn) : hub.url;
    return hub;
  }

  /** Forgets the recorded requests and restores the default behaviour. */
  reset(): void {
    this.requests.length = 0;
    this.behaviour = defaults();
  }

  async close(): Promise<void> {
    for (const s of [this.#hub, this.#cdn]) {
      if (!s) continue;
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    }
  }

  #handle(server: 'hub' | 'cdn', req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const rec: RecordedRequest = { server, method: req.method ?? '', path: url.pathname };
    if (req.headers.range !== undefined) rec.range = req.headers.range;
    if (req.headers.authorization !== undefined) rec.authorization = req.headers.authorization;
    this.requests.push(rec);
    if (req.method === 'HEAD' && this.behaviour.hangHead) return; // never answer

    const cdn = /^\/cdn\/([0-9a-f]{64})$/.exec(url.pathname);
    if (cdn) {
      const blob = this.#blobs.get(cdn[1]);
      if (!blob || !url.searchParams.has('X-Amz-Signature')) return this.#error(res, 403, 'AccessDenied', 'bad signature');
      return this.#serve(req, res, blob, {}, true);
    }
    if (server === 'cdn') return this.#error(res, 404, 'NotFound', 'no such object');

    const tree = /^\/api\/models\/(.+?)\/tree\/([^/]+)$/.exec(url.pathname);
    if (tree) return this.#tree(req, res, tree[1], decodeURIComponent(tree[2]), url);

    const m = /^\/(.+?)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    if (!m) return this.#error(res, 404, 'NotFound', 'not a resolve URL');
    const repoId = m[1];
    const revision = decodeURIComponent(m[2]);
    const file = m[3].split('/').map(decodeURIComponent).join('/');
    const renamed = this.#renames[repoId];
    if (renamed) {
      res.writeHead(307, { location: `/${renamed}/resolve/${m[2]}/${m[3]}`, 'content-length': 0 });
      return void res.end();
    }
    const repo = this.#repos[repoId];
    if (!repo) return this.#error(res, 404, 'RepoNotFound', 'Repository not found');
    if (repo.token !== undefined && req.headers.authorization !== `Bearer ${repo.token}`) {
      return this.#error(res, 401, 'RepoNotFound', 'Invalid username or password.');
    }
    if (revision !== 'main' && revision !== repo.commit) return this.#error(res, 404, 'RevisionNotFound', `Invalid rev id: ${revision}`);
    const body = repo.files[file];
    if (!body) return this.#error(res, 404, 'EntryNotFound', `${file} does not exist on "${revision}"`);
    const meta: OutgoingHttpHeaders = this.behaviour.omitCommit ? {} : { 'x-repo-commit': repo.commit };

    if (isLfs(file)) {
      const sha = sha256Hex(body);
      const announced = this.behaviour.wrongSha256 ? sha256Hex(Buffer.from('something else')) : sha;
      res.writeHead(302, {
        ...meta,
        location: `${this.cdnUrl}/cdn/${sha}?X-Amz-Signature=fake&Expires=1`,
        'x-linked-etag': `"${announced}"`,
        'x-linked-size': String(body.length),
        etag: `"${announced}"`,
        'content-length': 0,
      });
      return void res.end();
    }
    this.#serve(req, res, body, { ...meta, etag: `"${gitBlobSha1(body)}"` }, false);
  }

  /** The tree API: files and the folders above them, paginated two entries a page via ?cursor=N. */
  #tree(req: IncomingMessage, res: ServerResponse, repoId: string, revision: string, url: URL): void {
    const repo = this.#repos[repoId];
    if (!repo) return this.#error(res, 404, 'RepoNotFound', 'Repository not found');
    if (repo.token !== undefined && req.headers.authorization !== `Bearer ${repo.token}`) return this.#error(res, 401, 'RepoNotFound', 'Invalid credentials');
    if (revision !== 'main' && revision !== repo.commit) return this.#error(res, 404, 'RevisionNotFound', `Invalid rev id: ${revision}`);
    const dirs = new Set(
      Object.keys(repo.files).flatMap((f) =>
        f
          .split('/')
          .slice(0, -1)
          .map((_, i, a) => a.slice(0, i + 1).join('/')),
      ),
    );
    const entries = [
      ...[...dirs].map((path) => ({ type: 'directory', path })),
      ...Object.entries(repo.files).map(([path, b]) => ({ type: 'file', path, size: b.length })),
    ];
    const cursor = Number(url.searchParams.get('cursor') ?? 0);
    const page = entries.slice(cursor, cursor + 2);
    const headers: OutgoingHttpHeaders = { 'content-type': 'application/json' };
    if (cursor + 2 < entries.length) {
      const next = new URL(url.href.replace(/^http:\/\/x/, this.url));
      next.searchParams.set('cursor', String(cursor + 2));
      headers.link = `<${next.href}>; rel="next"`;
    }
    const body = JSON.stringify(page);
    res.writeHead(200, { ...headers, 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }

  #error(res: ServerResponse, status: number, code: string, message: string): void {
    const body = JSON.stringify({ error: message });
    res.writeHead(status, { 'x-error-code': code, 'x-error-message': message, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }

  /** 200 or 206 with Range support; CDN GETs may be cut after N bytes. */
  #serve(req: IncomingMessage, res: ServerResponse, body: Buffer, extra: OutgoingHttpHeaders, cuttable: boolean): void {
    let start = 0;
    let status = 200;
    const headers: OutgoingHttpHeaders = { ...extra, 'accept-ranges': 'bytes', 'content-type': 'application/octet-stream' };
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (range && !this.behaviour.ignoreRange) {
      start = Number(range[1]);
      if (start >= body.length) {
        res.writeHead(416, { 'content-range': `bytes */${body.length}`, 'content-length': 0 });
        return void res.end();
      }
      status = 206;
      headers['content-range'] = `bytes ${start}-${body.length - 1}/${body.length}`;
    }
    const part = body.subarray(start);
    headers['content-length'] = part.length;
    res.writeHead(status, headers);
    if (req.method === 'HEAD') return void res.end();
    const b = this.behaviour;
    if (cuttable && b.cutTimes > 0 && b.cutAfterBytes !== undefined && b.cutAfterBytes < part.length) {
      b.cutTimes--;
      // Hand the first N bytes to the kernel, then drop the connection mid-body (or go silent).
      const stall = b.stallInsteadOfCut;
      res.write(part.subarray(0, b.cutAfterBytes), () => {
        if (!stall) res.socket?.destroy();
      });
      return;
    }
    res.end(part);
  }
}
