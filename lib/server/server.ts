// `layerlens serve`: a small node:http server (no framework) around one loaded model.
//
//   GET  /           the viewer page (lib/render/report/page.ts in server mode: prompt box, hook kind, colouring,
//                    target; drawn by the same client code as the HTML report)
//   GET  /api/info   the model's shape and the request limits
//   POST /api/lens   {prompt, hooks?, topK?, target?, positions?, ablate?, lens?} → the report JSON (lib/render/report/data.ts):
//                    toJSON(decodeLayers(...)) with metrics, every position by default, plus attention;
//                    with `ablate` (hooks zeroed at every position): the ablated run plus `compare`, the clean one;
//                    with a tuned lens loaded (--tuned-lens), `lens` 'tuned' answers the tuned lens and 'both'
//                    the logit lens with the tuned lens of the same run as `tuned` (default 'logit');
//                    with control vectors loaded (--control-vector …), `steer` (default true) answers the
//                    steered run plus `compare`, the unsteered one (both ablated alike with `ablate`); false
//                    answers as if none were loaded
//
// The model is loaded once, before the server listens; requests are run one at a time (the engine is
// single-stream anyway) with a short queue. Bad requests get a 4xx JSON {error}. Bound to a loopback
// address, only Host headers naming loopback are accepted (DNS-rebinding protection); POST bodies must
// be application/json (so a cross-site HTML form cannot post to it).

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { tokenizePrompt } from '../lens/decode.js';
import { checkHookSpec, resolveHooks, type HookKind, type HookSpec } from '../hooks.js';
import type { ModelTokenizer } from '../tokens/model-tokenizer.js';
import { loadModel, Model, resolvePositions, type LoadOptions, type PositionSpec } from '../model/model.js';
import { resolveAblation } from '../interp/compare.js';
import { checkParameter, InvalidParameterError, invalidParameterError, is } from '../is.js';
import { renderPage } from '../render/report/page.js';
import { resolveTarget } from '../lens/target.js';
import { checkTunedLens, type TunedLens } from '../lens/tuned/tuned-lens.js';
import { loadTunedLensByName } from '../lens/tuned/resolve.js';
import type { SteeringOptions } from '../interp/steering.js';
import { resolveSteering, type ResolvedSteering } from '../render/report/steering.js';
import { LENS_VIEWS, type LensView } from '../render/report/lenses.js';
import { pairRunsReportData, runsReportData, viewRuns, viewRunsBothLenses } from '../render/report/view-runs.js';

export interface ServerOptions {
  /** A loaded Model (never disposed by the server), or a path / hub id to load (disposed on close). Default: the default model. */
  model?: Model | string;
  /** Options for loadModel when `model` is not a Model. */
  load?: LoadOptions;
  /** TCP port; 0 picks a free one. Default 8080. */
  port?: number;
  /** Interface to listen on. Default 127.0.0.1 (this machine only). */
  host?: string;
  /** A warning shown at the top of the page (e.g. "synthetic weights"). */
  banner?: string;
  /**
   * A tuned lens (a folder, a published lens name such as "gpt2", resolved with `load.env`, or a loaded
   * TunedLens): requests may then ask for `lens: 'tuned'` or `'both'`, and the page gets the lens switch.
   */
  tunedLens?: string | TunedLens;
  /**
   * Control vectors (files or in memory, scaled) and their block range, as decodeLayers takes them: read
   * and checked against the model once, at start. Requests then get the steered run with the unsteered
   * one as `compare`, unless they ask for `steer: false`.
   */
  controlVectors?: SteeringOptions['controlVectors'];
  controlVectorLayerRange?: SteeringOptions['controlVectorLayerRange'];
  /** Largest POST body in bytes (default 65536). */
  maxBodyBytes?: number;
  /** Largest topK a request may ask for (default 100). */
  maxTopK?: number;
  /** Requests allowed to wait behind the running one before the server answers 503 (default 8). */
  maxQueue?: number;
  /** Called with one line per request (method, path, status, milliseconds). */
  log?: (line: string) => void;
}

export interface LayerlensServer {
  /** `http://host:port/` */
  url: string;
  host: string;
  port: number;
  model: Model;
  /** The tuned lens the server answers `lens: 'tuned'` with, when it has one. */
  tunedLens?: TunedLens;
  /** The control vectors requests are steered with, when the server has them. */
  steering?: ResolvedSteering;
  server: Server;
  /** Stops listening, waits for running requests, frees the model if the server loaded it. */
  close(): Promise<void>;
}

/** A request error other than a bad parameter (those are InvalidParameterErrors, answered with 400): the status and a message for the JSON body. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** The fields of POST /api/lens, validated. */
export interface LensRequest {
  prompt: string;
  hooks: HookSpec;
  topK: number;
  target?: string | number;
  positions: PositionSpec;
  /** Hook names zeroed at every position (resolved from names, kinds or blocks.L; d-wide hooks and mlp_post). */
  ablate?: string[];
  /** Which lens: 'logit' (the default, when absent), 'tuned', or 'both' (the logit lens with the tuned lens as `tuned`); the last two need a tuned lens loaded. */
  lens?: LensView;
  /** With control vectors loaded: whether this request is steered (default true); absent without them. */
  steer?: boolean;
}

const LENS_FIELDS = ['prompt', 'hooks', 'topK', 'target', 'positions', 'ablate', 'lens', 'steer'];
const DEFAULT_TOP_K = 10;
/** Most entries a request's "hooks" or "ablate" list may have. */
const MAX_LIST = 256;

/** A field's name as messages show it: the JSON key, quoted. */
const field = (name: string): string => JSON.stringify(name);

/**
 * Checks a parsed POST /api/lens body against the model: throws InvalidParameterError naming the field
 * (the server answers it with 400). Defaults: hooks 'default', topK 10, positions 'all'.
 */
export function parseLensRequest(
  body: unknown,
  info: { n_layer: number; n_ctx: number; n_vocab: number; hookKinds?: readonly HookKind[] },
  maxTopK = 100,
  tokenizer?: ModelTokenizer,
  hasTunedLens = false,
  hasSteering = false,
): LensRequest {
  if (!is.plainObject(body)) throw invalidParameterError('the body', 'a JSON object like {"prompt": "..."}', body);
  for (const k of Object.keys(body))
    if (!LENS_FIELDS.includes(k)) throw new InvalidParameterError(`unknown field ${field(k)}; the fields are ${LENS_FIELDS.join(', ')}`);

  const prompt = body.prompt;
  if (!is.string(prompt)) throw invalidParameterError(field('prompt'), 'a string', prompt);
  if (prompt.length === 0) throw new InvalidParameterError(`${field('prompt')} is empty`);
  // The model's own tokenizer when given (a llama.cpp model's differs from GPT-2's), for the positions check.
  const nTokens = checkParameter(field('prompt'), () => {
    const n = tokenizer ? tokenizer.encode(prompt).length : tokenizePrompt(prompt, info.n_ctx).length;
    if (n > info.n_ctx) throw new RangeError(`the prompt is ${n} tokens long; the model's context holds at most ${info.n_ctx}`);
    return n;
  });

  let hooks: HookSpec = 'default';
  if (body.hooks !== undefined) {
    const h = body.hooks;
    if (h !== 'all' && h !== 'default' && !(is.stringArray(h) && h.length <= MAX_LIST)) {
      throw invalidParameterError(field('hooks'), `"all", "default" or an array of hook names, kinds or blocks.L (at most ${MAX_LIST})`, h);
    }
    hooks = h;
    checkParameter(field('hooks'), () => {
      checkHookSpec(hooks);
      resolveHooks(hooks, info.n_layer, info.hookKinds);
    });
  }

  let topK = DEFAULT_TOP_K;
  if (body.topK !== undefined) {
    if (!is.integerIn(body.topK, 1, maxTopK)) throw invalidParameterError(field('topK'), `an integer in 1..${maxTopK}`, body.topK);
    topK = body.topK;
  }

  let target: string | number | undefined;
  const t = body.target;
  if (is.defined(t) && t !== '') {
    if (!is.string(t) && typeof t !== 'number') throw invalidParameterError(field('target'), 'the text of one token or a token id', t);
    checkParameter(field('target'), () => resolveTarget(t, info.n_vocab, tokenizer));
    target = t;
  }

  let positions: PositionSpec = 'all';
  if (body.positions !== undefined) {
    const p = body.positions;
    if (p !== 'all' && p !== 'last' && !(Array.isArray(p) && p.length > 0 && p.length <= info.n_ctx)) {
      throw invalidParameterError(field('positions'), '"all", "last" or a non-empty array of token indices', p);
    }
    positions = p as PositionSpec;
    checkParameter(field('positions'), () => resolvePositions(positions, nTokens));
  }

  let ablate: string[] | undefined;
  const a = body.ablate;
  if (is.defined(a) && !(Array.isArray(a) && a.length === 0)) {
    if (!(is.stringArray(a) && a.length <= MAX_LIST && a.every(is.nonEmptyString))) {
      throw invalidParameterError(field('ablate'), `an array of hook names or kinds (at most ${MAX_LIST}), such as ["blocks.1.mlp_out"]`, a);
    }
    const names = resolveAblation(a, info.n_layer, field('ablate'));
    if (names.length) ablate = names;
  }

  const lens = body.lens;
  if (lens !== undefined && !is.inArray(lens, LENS_VIEWS)) throw invalidParameterError(field('lens'), '"logit", "tuned" or "both"', lens);
  if ((lens === 'tuned' || lens === 'both') && !hasTunedLens)
    throw new InvalidParameterError(
      `${field('lens')} is "${lens}" but this server has no tuned lens loaded; start it with --tuned-lens PATH|NAME (e.g. --tuned-lens gpt2), or ask for "logit"`,
    );
  const steer = body.steer;
  if (steer !== undefined && typeof steer !== 'boolean') throw invalidParameterError(field('steer'), 'true or false', steer);
  if (steer === true && !hasSteering)
    throw new InvalidParameterError(
      `${field('steer')} is true but this server has no control vectors loaded; start it with --control-vector FILE (or --control-vector-scaled FILE SCALE)`,
    );
  return {
    prompt,
    hooks,
    topK,
    ...(target === undefined ? {} : { target }),
    positions,
    ...(ablate === undefined ? {} : { ablate }),
    ...(lens === undefined ? {} : { lens }),
    ...(hasSteering ? { steer: steer ?? true } : {}),
  };
}

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '::1', '[::1]']);

function isLoopbackHost(host: string): boolean {
  return LOOPBACK_NAMES.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** The host name of a Host header, without the port. */
function hostName(header: string): string {
  if (header.startsWith('[')) return header.slice(0, header.indexOf(']') + 1);
  const i = header.lastIndexOf(':');
  return i >= 0 ? header.slice(0, i) : header;
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    'content-type': type,
    'content-length': String(Buffer.byteLength(body)),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    ...headers,
  });
  res.end(body);
}

function sendJSON(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(value), headers);
}

/** Reads the body up to `limit` bytes; HttpError 413 beyond it. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      req.resume();
      reject(new HttpError(413, `the body is ${declared} bytes; the limit is ${limit}`, { connection: 'close' }));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (c: Buffer) => {
      if (failed) return;
      size += c.length;
      if (size > limit) {
        failed = true;
        chunks.length = 0;
        reject(new HttpError(413, `the body is larger than the limit of ${limit} bytes`, { connection: 'close' }));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (!failed) resolve(Buffer.concat(chunks));
    });
    req.on('error', (err) => {
      if (!failed) reject(err);
    });
  });
}

/** Starts the viewer server. Resolves once the model is loaded and the server listens. */
export async function startServer(options: ServerOptions = {}): Promise<LayerlensServer> {
  const port = options.port ?? 8080;
  if (!is.integerIn(port, 0, 65535)) throw invalidParameterError('port', 'an integer in 0..65535', port);
  const host = options.host ?? '127.0.0.1';
  const maxBody = options.maxBodyBytes ?? 65536;
  const maxTopK = options.maxTopK ?? 100;
  const maxQueue = options.maxQueue ?? 8;

  const owned = !(options.model instanceof Model);
  const model = options.model instanceof Model ? options.model : await loadModel(options.model, options.load);
  const info = model.info;
  let tunedLens: TunedLens | undefined;
  let steering: ResolvedSteering | undefined;
  try {
    if (options.controlVectors !== undefined || options.controlVectorLayerRange !== undefined)
      steering = await resolveSteering({ controlVectors: options.controlVectors, controlVectorLayerRange: options.controlVectorLayerRange }, model);
    if (typeof options.tunedLens === 'string') tunedLens = await loadTunedLensByName(options.tunedLens, options.load?.env ? { env: options.load.env } : {});
    else if (options.tunedLens !== undefined) tunedLens = options.tunedLens;
    if (tunedLens) checkTunedLens(tunedLens, info);
  } catch (err) {
    if (owned) model.dispose();
    throw err;
  }
  const page = renderPage({
    mode: 'server',
    title: `layerlens: ${info.name}`,
    subtitle: `${info.name}: ${info.n_layer} layers, n_embd ${info.n_embd}, ${info.n_head} heads, context ${info.n_ctx} tokens, ${info.dtype}`,
    ...(options.banner === undefined ? {} : { banner: options.banner }),
    ...(tunedLens
      ? { tunedLens: tunedLens.config.baseModel ? `${tunedLens.source} (trained on ${tunedLens.config.baseModel})` : tunedLens.source, lens: 'both' as const }
      : {}),
    ...(steering ? { steering: steering.label } : {}),
  });

  // One request at a time, in arrival order.
  let chain: Promise<unknown> = Promise.resolve();
  let waiting = 0;
  const serialized = <T>(fn: () => Promise<T>): Promise<T> => {
    if (waiting > maxQueue) return Promise.reject(new HttpError(503, 'busy: too many requests are waiting; try again shortly', { 'retry-after': '1' }));
    waiting++;
    const run = chain.then(() => {
      waiting--;
      return fn();
    });
    chain = run.catch(() => undefined);
    return run;
  };

  const loopbackOnly = isLoopbackHost(host);
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<number> => {
    const method = req.method ?? 'GET';
    if (loopbackOnly) {
      const h = req.headers.host;
      if (!h || !isLoopbackHost(hostName(h))) throw new HttpError(403, 'this server only answers requests addressed to localhost');
    }
    let path: string;
    try {
      path = new URL(req.url ?? '/', 'http://localhost').pathname;
    } catch {
      throw new HttpError(400, 'malformed request target');
    }
    if (path === '/' || path === '/index.html') {
      if (method !== 'GET' && method !== 'HEAD') throw new HttpError(405, `${method} is not allowed on ${path}; use GET`, { allow: 'GET, HEAD' });
      send(res, 200, 'text/html; charset=utf-8', page, { 'x-frame-options': 'DENY' });
      return 200;
    }
    if (path === '/api/info') {
      if (method !== 'GET' && method !== 'HEAD') throw new HttpError(405, `${method} is not allowed on ${path}; use GET`, { allow: 'GET, HEAD' });
      sendJSON(res, 200, {
        model: { ...info },
        limits: { maxBodyBytes: maxBody, maxTopK, maxPromptTokens: info.n_ctx },
        tunedLens: tunedLens ? { source: tunedLens.source, baseModel: tunedLens.config.baseModel } : null,
        steering: steering ? { label: steering.label, blocks: steering.blocks } : null,
      });
      return 200;
    }
    if (path === '/api/lens') {
      if (method !== 'POST') throw new HttpError(405, `${method} is not allowed on ${path}; use POST with a JSON body`, { allow: 'POST' });
      const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
      if (type !== 'application/json') {
        req.resume();
        throw new HttpError(415, 'the body must be JSON, sent with "Content-Type: application/json"');
      }
      const raw = await readBody(req, maxBody);
      const body = checkParameter('the body is not valid JSON', () => JSON.parse(raw.toString('utf8')) as unknown);
      const r = parseLensRequest(body, info, maxTopK, model.tokenizer, tunedLens !== undefined, steering !== undefined);
      const data = await serialized(async () => {
        const common = {
          model,
          hooks: r.hooks,
          topK: r.topK,
          positions: r.positions,
          metrics: true,
          ...(r.target === undefined ? {} : { target: r.target }),
        };
        const steered = r.steer && steering ? steering : undefined;
        const what = { ...(steered ? { steering: steered } : {}), ...(r.ablate ? { ablated: r.ablate } : {}) };
        if (r.lens === 'both') return pairRunsReportData(await viewRunsBothLenses(r.prompt, { ...common, tunedLens: tunedLens! }, what));
        const options = r.lens === 'tuned' ? { ...common, tunedLens: tunedLens!, lens: 'tuned' as const } : common;
        return runsReportData(await viewRuns(r.prompt, options, what));
      });
      sendJSON(res, 200, data);
      return 200;
    }
    req.resume();
    throw new HttpError(404, `no such page: ${path} (the viewer is at /, the API at POST /api/lens)`);
  };

  const server = createServer((req, res) => {
    const t0 = Date.now();
    handle(req, res)
      .catch((err: unknown) => {
        const status = err instanceof HttpError ? err.status : err instanceof InvalidParameterError ? 400 : 500;
        const message = err instanceof Error ? err.message : String(err);
        if (!res.headersSent)
          sendJSON(res, status, { error: status === 500 ? `internal error: ${message}` : message }, err instanceof HttpError ? err.headers : {});
        else res.destroy();
        return status;
      })
      .then((status) => options.log?.(`${req.method} ${req.url} ${status} ${Date.now() - t0} ms`));
  });
  server.headersTimeout = 20_000;
  server.requestTimeout = 120_000;

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    if (owned) model.dispose();
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE') throw new Error(`port ${port} on ${host} is already in use; choose another with --port (0 picks a free one)`, { cause: err });
    if (e.code === 'EADDRNOTAVAIL') throw new Error(`cannot listen on ${host}: no such local address`, { cause: err });
    if (e.code === 'EACCES') throw new Error(`not allowed to listen on ${host}:${port} (ports below 1024 need privileges)`, { cause: err });
    throw err;
  }
  const addr = server.address() as AddressInfo;
  const shownHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${shownHost}:${addr.port}/`,
    host: addr.address,
    port: addr.port,
    model,
    ...(tunedLens ? { tunedLens } : {}),
    ...(steering ? { steering } : {}),
    server,
    close() {
      closing ??= (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
        });
        await chain;
        if (owned) model.dispose();
      })();
      return closing;
    },
  };
}
