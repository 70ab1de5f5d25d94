// HTTP transfer for the hub client (lib/hub/hub.ts), on node:http / node:https with no dependency:
// - one request at a time, redirects followed by hand (at most 5), the Authorization header sent only
//   to the origin it belongs to;
// - a download streams into a `.incomplete` file and resumes an interrupted one with HTTP Range;
//   the final size and, when known, the SHA-256 are checked before the caller renames it into place;
// - a progress bar (bytes, rate, ETA) on a terminal.
// Every connection-level failure becomes a NetworkError with a code (ECONNREFUSED, ENOTFOUND,
// ETIMEDOUT, ECONNRESET, …) so that callers can say "no network" instead of dumping a stack.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';

/** The connection failed, timed out or was cut: no usable HTTP answer. */
export class NetworkError extends Error {
  override name = 'NetworkError';
  constructor(
    message: string,
    /** ECONNREFUSED, ENOTFOUND, EAI_AGAIN, ETIMEDOUT, ECONNRESET, EPROTO, a TLS code, … */
    readonly code: string,
    readonly url: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME']);

/** A short human description of a connection-level failure, naming the host and the code. */
export function describeNetworkError(code: string, host: string, timeoutMs?: number): string {
  if (DNS_CODES.has(code)) return `cannot resolve ${host} (DNS lookup failed: ${code})`;
  if (code === 'ECONNREFUSED') return `${host} refused the connection (ECONNREFUSED)`;
  if (code === 'ETIMEDOUT') return `no answer from ${host}${timeoutMs ? ` within ${timeoutMs / 1000} s` : ''} (ETIMEDOUT)`;
  if (code === 'ECONNRESET' || code === 'EPIPE') return `the connection to ${host} was cut (${code})`;
  if (code === 'ENETUNREACH' || code === 'EHOSTUNREACH') return `${host} is unreachable (${code})`;
  if (/CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO/.test(code)) {
    return `the TLS certificate of ${host} was not accepted (${code}; behind a TLS-inspecting proxy, point NODE_EXTRA_CA_CERTS at its CA file)`;
  }
  return `the connection to ${host} failed (${code})`;
}

function toNetworkError(err: unknown, url: URL, timeoutMs: number): NetworkError {
  if (err instanceof NetworkError) return err;
  const e = err as NodeJS.ErrnoException;
  const code = e?.code ?? 'ECONNRESET';
  return new NetworkError(describeNetworkError(code, url.host, timeoutMs), code, url.href, { cause: err });
}

export interface RequestOptions {
  method: 'HEAD' | 'GET';
  headers: Record<string, string>;
  /** Socket idle timeout: no connection, no answer or no body bytes for this long → ETIMEDOUT. */
  timeoutMs: number;
}

/** One HTTP request. Resolves with the response (body unread) or rejects with a NetworkError. */
export function request(url: URL, options: RequestOptions): Promise<IncomingMessage> {
  const mod = url.protocol === 'https:' ? https : url.protocol === 'http:' ? http : undefined;
  if (!mod) return Promise.reject(new Error(`cannot download from ${url.href}: only http and https URLs are supported`));
  return new Promise((resolve, reject) => {
    let response: IncomingMessage | undefined;
    const req = mod.request(url, { method: options.method, headers: options.headers }, (res) => {
      response = res;
      resolve(res);
    });
    // One idle timeout for connecting, waiting for the answer and each wait for body bytes.
    req.setTimeout(options.timeoutMs, () => {
      const err = new NetworkError(describeNetworkError('ETIMEDOUT', url.host, options.timeoutMs), 'ETIMEDOUT', url.href);
      response?.destroy(err); // a stalled body reports the timeout, not a generic reset
      req.destroy(err);
    });
    req.on('error', (err) => reject(toNetworkError(err, url, options.timeoutMs)));
    req.end();
  });
}

export function isRedirect(status: number): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308;
}

export interface Hop {
  url: URL;
  status: number;
  headers: IncomingHttpHeaders;
}

export interface FollowOptions extends RequestOptions {
  /** Sent as `Authorization` only to URLs of exactly this origin (scheme, host and port). */
  auth?: { origin: string; header: string };
  /** Redirects followed at most (default 5); one more is an error. */
  maxRedirects?: number;
  /** Return this redirect response instead of following it (its Location is then the caller's). */
  stop?: (res: IncomingMessage) => boolean;
}

/**
 * A request whose redirects are followed by hand, so that the headers of every hop can be read (the
 * hub puts a file's metadata on its 302 to the CDN) and credentials never leave the hub's origin.
 */
export async function requestFollowing(start: URL, options: FollowOptions): Promise<{ res: IncomingMessage; url: URL; hops: Hop[] }> {
  const max = options.maxRedirects ?? 5;
  const hops: Hop[] = [];
  let url = start;
  for (let hop = 0; ; hop++) {
    const headers = { ...options.headers };
    if (options.auth && url.origin === options.auth.origin) headers.authorization = options.auth.header;
    const res = await request(url, { ...options, headers });
    const status = res.statusCode ?? 0;
    hops.push({ url, status, headers: res.headers });
    const location = res.headers.location;
    if (!isRedirect(status) || !location || options.stop?.(res)) return { res, url, hops };
    res.resume(); // discard the redirect's body
    if (hop >= max) throw new Error(`too many redirects (more than ${max}) starting from ${start.href}, last to ${location}`);
    try {
      url = new URL(location, url);
    } catch {
      throw new Error(`${url.href} redirected to an invalid location ${JSON.stringify(location)}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Progress bar

export interface ProgressStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** Bytes with SI units: 512 B, 13.4 MB, 1.52 GB. */
export function formatBytes(n: number): string {
  if (n < 1000) return `${Math.round(n)} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = -1;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} ${units[i]}`;
}

function formatDuration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '--:--';
  const t = Math.round(s);
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const sec = String(t % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

/** A one-line progress bar redrawn with \r, at most 10 times a second. Draws nothing when off. */
export class ProgressBar {
  readonly #out: ProgressStream | undefined;
  readonly #label: string;
  #total: number | undefined;
  #done: number;
  readonly #startBytes: number;
  readonly #startTime = Date.now();
  #lastDraw = 0;
  #drawn = false;

  constructor(out: ProgressStream | undefined, label: string, total: number | undefined, initial = 0) {
    this.#out = out;
    this.#label = label;
    this.#total = total;
    this.#done = initial;
    this.#startBytes = initial;
  }

  setTotal(total: number | undefined): void {
    this.#total = total;
  }

  update(done: number, force = false): void {
    this.#done = done;
    if (!this.#out) return;
    const now = Date.now();
    if (!force && now - this.#lastDraw < 100) return;
    this.#lastDraw = now;
    this.#drawn = true;
    this.#out.write('\r' + this.render(now) + '\x1b[K');
  }

  /** The bar's text (exposed for tests). */
  render(now = Date.now()): string {
    const elapsed = Math.max((now - this.#startTime) / 1000, 1e-3);
    const rate = (this.#done - this.#startBytes) / elapsed;
    const total = this.#total;
    let line: string;
    if (total !== undefined && total > 0) {
      const frac = Math.min(this.#done / total, 1);
      const width = 20;
      const filled = Math.round(frac * width);
      const eta = rate > 0 ? (total - this.#done) / rate : Infinity;
      line = `${this.#label} ${String(Math.floor(frac * 100)).padStart(3)}% [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${formatBytes(this.#done)} / ${formatBytes(total)}  ${formatBytes(rate)}/s  ETA ${formatDuration(eta)}`;
    } else {
      line = `${this.#label} ${formatBytes(this.#done)}  ${formatBytes(rate)}/s`;
    }
    const cols = this.#out?.columns;
    return cols && cols > 10 && line.length >= cols ? line.slice(0, cols - 1) : line;
  }

  /** Draws the final state (`done` bytes) and ends the line. */
  finish(done: number = this.#done): void {
    if (!this.#out) return;
    this.update(done, true);
    this.#out.write('\n');
  }

  /** Ends the line if anything was drawn (after an error). */
  abort(): void {
    if (this.#out && this.#drawn) this.#out.write('\n');
  }
}

// ---------------------------------------------------------------------------------------------
// Resumable transfer

export interface TransferOptions {
  /** Where the bytes are (the hub URL or the CDN location it redirected to). */
  url: URL;
  headers: Record<string, string>;
  auth?: { origin: string; header: string };
  timeoutMs: number;
  /** The partial file (huggingface_hub's `blobs/<etag>.incomplete`); the caller renames it when done. */
  incomplete: string;
  /** Announced size (x-linked-size / content-length); else taken from the GET's headers when given. */
  expectedSize?: number;
  /** Announced SHA-256 (lower-case hex) that the finished file must have. */
  sha256?: string;
  /** Also compute the SHA-256 when there is none to check against (returned). */
  computeSha256?: boolean;
  /** Further attempts after a connection error, each resuming where the file ends (default 3). */
  retries?: number;
  /** Base delay between attempts in ms (doubled each time, at most 8 s; default 500). */
  retryDelayMs?: number;
  /** Progress bar stream, or undefined for none. */
  progress?: ProgressStream;
  label: string;
  /** Turns a non-2xx answer into the error to throw (it knows the repo and file). */
  httpError: (status: number, headers: IncomingHttpHeaders, url: URL) => Error;
}

/** The transfer stopped part-way; the partial file is kept for the next attempt to resume. */
export class TransferInterruptedError extends Error {
  override name = 'TransferInterruptedError';
  constructor(
    message: string,
    readonly bytesSaved: number,
    readonly expectedSize: number | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The downloaded bytes are not what was announced; the partial file has been deleted. */
export class IntegrityError extends Error {
  override name = 'IntegrityError';
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Parses `bytes start-end/total` (total may be `*`). */
function parseContentRange(v: string | undefined): { start: number; end: number; total?: number } | undefined {
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec((v ?? '').trim());
  if (!m) return undefined;
  return { start: Number(m[1]), end: Number(m[2]), total: m[3] === '*' ? undefined : Number(m[3]) };
}

function parseLength(v: string | undefined): number | undefined {
  if (v === undefined || !/^\d+$/.test(v.trim())) return undefined;
  return Number(v.trim());
}

/** Pause the socket when this much is waiting to be written to disk (bounds memory on slow disks). */
const WRITE_HIGH_WATER = 64 << 20;

/**
 * One GET from `offset` (Range when > 0), appended to the partial file. Resolves when the body ended;
 * rejects with NetworkError when the connection fails or is cut. Every byte received before a cut is
 * on disk when this settles, so the next attempt's Range starts exactly there.
 */
async function fetchInto(o: TransferOptions, offset: number, bar: ProgressBar): Promise<{ total?: number }> {
  const headers: Record<string, string> = { ...o.headers, 'accept-encoding': 'identity' };
  if (offset > 0) headers.range = `bytes=${offset}-`;
  const { res, url } = await requestFollowing(o.url, { method: 'GET', headers, auth: o.auth, timeoutMs: o.timeoutMs });
  const status = res.statusCode ?? 0;
  let start = offset;
  let total: number | undefined;
  if (status === 206) {
    const range = parseContentRange(res.headers['content-range']);
    if (!range || range.start !== offset) {
      res.destroy();
      throw new NetworkError(
        `${url.host} answered the range request bytes=${offset}- with ${res.headers['content-range'] ?? 'no Content-Range'}`,
        'EPROTO',
        url.href,
      );
    }
    total = range.total;
  } else if (status === 200) {
    start = 0; // no range support, or a full answer: start again
    total = parseLength(res.headers['content-length']);
  } else if (status === 416 && offset > 0) {
    // The partial file is not a prefix the server recognises: start over.
    res.resume();
    await rm(o.incomplete, { force: true });
    return fetchInto(o, 0, bar);
  } else {
    res.resume();
    throw o.httpError(status, res.headers, url);
  }
  const bodyLength = parseLength(res.headers['content-length']);
  if (total !== undefined) bar.setTotal(total);

  const ws = createWriteStream(o.incomplete, { flags: start > 0 ? 'a' : 'w' });
  let received = 0;
  let failure: unknown;
  await new Promise<void>((resolve) => {
    let settled = false;
    const settle = (err?: unknown) => {
      if (settled) return;
      settled = true;
      if (err !== undefined) failure = err;
      resolve();
    };
    res.on('data', (chunk: Buffer) => {
      received += chunk.length;
      bar.update(start + received);
      if (!ws.write(chunk) && ws.writableLength > WRITE_HIGH_WATER) {
        res.pause();
        ws.once('drain', () => res.resume());
      }
    });
    res.on('end', () =>
      settle(
        bodyLength !== undefined && received < bodyLength
          ? new NetworkError(`the body ended after ${received} of ${bodyLength} bytes`, 'ECONNRESET', url.href)
          : undefined,
      ),
    );
    res.on('error', (err) => settle(toNetworkError(err, url, o.timeoutMs)));
    res.on('close', () => {
      if (!res.complete) settle(new NetworkError(describeNetworkError('ECONNRESET', url.host), 'ECONNRESET', url.href));
      else settle();
    });
    ws.on('error', (err) => {
      res.destroy();
      settle(err);
    });
  });
  // Flush everything received to disk before reporting, so the partial file is exact.
  await new Promise<void>((resolve) => {
    if (ws.destroyed) resolve();
    else ws.end(() => resolve());
  });
  if (failure !== undefined) throw failure;
  return { total };
}

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Downloads `o.url` into `o.incomplete`, resuming from what is already there, and checks it.
 * Returns the final size (and SHA-256 when it was checked or asked for). On a size or checksum
 * mismatch the partial file is deleted and an IntegrityError thrown; when the connection keeps
 * failing a TransferInterruptedError is thrown and the partial file kept for resuming.
 */
export async function transferToFile(o: TransferOptions): Promise<{ size: number; sha256?: string }> {
  const retries = o.retries ?? 3;
  let expected = o.expectedSize;
  let initial = await sizeOf(o.incomplete);
  if (expected !== undefined && initial > expected) {
    await rm(o.incomplete, { force: true });
    initial = 0;
  }
  const bar = new ProgressBar(o.progress, o.label, expected, initial);
  let attempt = 0;
  for (;;) {
    let offset = await sizeOf(o.incomplete);
    if (expected !== undefined && offset > expected) {
      await rm(o.incomplete, { force: true });
      offset = 0;
    }
    if (expected === undefined || offset < expected) {
      try {
        const got = await fetchInto(o, offset, bar);
        if (got.total !== undefined) {
          if (expected !== undefined && got.total !== expected) {
            await rm(o.incomplete, { force: true });
            bar.abort();
            throw new IntegrityError(`${o.label}: the server sent ${got.total} bytes but ${expected} were announced; the partial download was deleted`);
          }
          expected = got.total;
        }
      } catch (err) {
        if (!(err instanceof NetworkError)) {
          bar.abort();
          throw err;
        }
        const saved = await sizeOf(o.incomplete);
        if (attempt < retries) {
          attempt++;
          await delay(Math.min((o.retryDelayMs ?? 500) * 2 ** (attempt - 1), 8000));
          continue;
        }
        bar.abort();
        throw new TransferInterruptedError(err.message, saved, expected, { cause: err });
      }
    }
    const size = await sizeOf(o.incomplete);
    if (expected !== undefined && size < expected) {
      // The body ended cleanly but short (a server without Content-Length): resume.
      if (attempt < retries) {
        attempt++;
        continue;
      }
      bar.abort();
      throw new TransferInterruptedError(`the transfer stopped after ${size} of ${expected} bytes`, size, expected);
    }
    bar.finish(size);
    if (expected !== undefined && size !== expected) {
      await rm(o.incomplete, { force: true });
      throw new IntegrityError(`${o.label}: received ${size} bytes but ${expected} were announced; the partial download was deleted`);
    }
    let sha: string | undefined;
    if (o.sha256 !== undefined || o.computeSha256) {
      sha = await sha256File(o.incomplete);
      if (o.sha256 !== undefined && sha !== o.sha256.toLowerCase()) {
        await rm(o.incomplete, { force: true });
        throw new IntegrityError(
          `${o.label}: the SHA-256 of the downloaded file is ${sha}, but the server announced ${o.sha256}; the download was deleted and nothing was cached`,
        );
      }
    }
    return { size, ...(sha === undefined ? {} : { sha256: sha }) };
  }
}
