// Downloads from a hub: a real HTTP server on 127.0.0.1 (test/helpers/hub-server.ts) that answers like
// huggingface.co's resolve endpoint, serving a synthetic tiny checkpoint. Every test gets its own
// cache directory (HF_HOME / HF_HUB_CACHE in a temp dir) and points HF_ENDPOINT at the server.
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HELP, main, parseCliArgs } from '../../lib/cli/main.js';
import { formatBytes, ProgressBar } from '../../lib/hub/download.js';
import { hfHubCache, HubError, placeholderCommit } from '../../lib/hub/hub.js';
import { decodeLayers, loadModel, releaseModels } from '../../lib/index.js';
import { pullModel, resolveModelFiles } from '../../lib/hub/resolve.js';
import { makeCheckpoint } from '../../scripts/make-checkpoint.mjs';
import { NOTEBOOK_PROMPT, repoRoot } from '../helpers/checkpoints.js';
import { testDevice } from '../helpers/device.js';
import { FakeHub, gitBlobSha1, sha256Hex } from '../helpers/hub-server.js';

const work = mkdtempSync(join(tmpdir(), 'layerlens-hub-'));
const src = join(work, 'checkpoint');
makeCheckpoint(src, { preset: 'tiny' });
const config = readFileSync(join(src, 'config.json'));
const weights = readFileSync(join(src, 'model.safetensors'));
const WEIGHTS_SHA = sha256Hex(weights);
const CONFIG_SHA1 = gitBlobSha1(config);
const COMMIT = createHash('sha1').update('org/tiny commit 1').digest('hex');
const tinyFiles = { 'config.json': config, 'model.safetensors': weights };

let hub: FakeHub;
beforeAll(async () => {
  hub = await FakeHub.start(
    {
      'org/tiny': { commit: COMMIT, files: tinyFiles },
      'org/private': { commit: COMMIT, files: tinyFiles, token: 'hf_secret' },
      'org/no-weights': { commit: COMMIT, files: { 'config.json': config } },
    },
    { renames: { 'tiny-old': 'org/tiny' } },
  );
});
afterAll(async () => {
  await releaseModels();
  await hub?.close();
  rmSync(work, { recursive: true, force: true });
});
beforeEach(() => hub.reset());

let homes = 0;
/** A fresh HF_HOME (cache in HF_HOME/hub) and HF_ENDPOINT at the fake hub; nothing from process.env. */
function freshEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv & { HF_HOME: string } {
  return { HF_HOME: join(work, `home-${homes++}`), HF_ENDPOINT: hub.url, ...extra };
}
const repoDirOf = (env: { HF_HOME: string }, folder = 'models--org--tiny') => join(env.HF_HOME, 'hub', folder);
const cdnGets = () => hub.requests.filter((r) => r.method === 'GET' && r.path.startsWith('/cdn/'));
const quiet = { quiet: true } as const;

describe('download from the hub', () => {
  it('downloads config.json and model.safetensors; loadModel and decodeLayers run on them', async () => {
    const env = freshEnv();
    const model = await loadModel('org/tiny', { env, device: testDevice(), ...quiet });
    try {
      expect(model.info).toMatchObject({ name: 'org/tiny', n_layer: 2, n_embd: 64, n_vocab: 50257 });
      expect(model.weightsPath).toBe(join(repoDirOf(env), 'snapshots', COMMIT, 'model.safetensors'));
      const result = await decodeLayers(NOTEBOOK_PROMPT, { model, topK: 3 });
      expect(result.hooks.map((h) => h.name)).toEqual(['embed', 'blocks.0.resid_mid', 'blocks.0.resid_post', 'blocks.1.resid_mid', 'blocks.1.resid_post']);
      expect(result.hooks[0].top).toHaveLength(3);
    } finally {
      model.dispose();
    }
    // One HEAD per file (the second at the commit the first announced), then the bytes: the LFS
    // file from the CDN location of the hub's 302, the regular file from the hub.
    expect(hub.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'HEAD /org/tiny/resolve/main/config.json',
      `HEAD /org/tiny/resolve/${COMMIT}/model.safetensors`,
      `GET /cdn/${WEIGHTS_SHA}`,
      'GET /org/tiny/resolve/main/config.json',
    ]);
    expect(hub.requests.every((r) => r.range === undefined && r.authorization === undefined)).toBe(true);

    // A second load, and decodeLayers with the hub id as a string (process.env), use the cache: no request.
    hub.reset();
    const saved = { HF_HOME: process.env.HF_HOME, HF_HUB_CACHE: process.env.HF_HUB_CACHE, HF_ENDPOINT: process.env.HF_ENDPOINT };
    process.env.HF_HOME = env.HF_HOME;
    process.env.HF_ENDPOINT = hub.url;
    delete process.env.HF_HUB_CACHE;
    try {
      const r = await decodeLayers('Hello world', { model: 'org/tiny' });
      expect(r.model.name).toBe('org/tiny');
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
      await releaseModels();
    }
    expect(hub.requests).toEqual([]);
  });

  it('writes the cache layout huggingface_hub writes (blobs, relative snapshot symlinks, refs/main)', async () => {
    const env = freshEnv();
    const files = await pullModel('org/tiny', { env, ...quiet });
    const repoDir = repoDirOf(env);
    expect(hfHubCache(env)).toBe(join(env.HF_HOME, 'hub'));
    expect(files.snapshot).toBe(join(repoDir, 'snapshots', COMMIT));
    expect(readFileSync(join(repoDir, 'refs', 'main'), 'utf8')).toBe(COMMIT); // no trailing newline, like Python
    expect(readdirSync(join(repoDir, 'blobs')).sort()).toEqual([CONFIG_SHA1, WEIGHTS_SHA].sort());
    expect(readdirSync(join(repoDir, 'snapshots', COMMIT)).sort()).toEqual(['config.json', 'model.safetensors']);
    for (const [file, etag, bytes] of [
      ['config.json', CONFIG_SHA1, config],
      ['model.safetensors', WEIGHTS_SHA, weights],
    ] as const) {
      const pointer = join(repoDir, 'snapshots', COMMIT, file);
      expect(lstatSync(pointer).isSymbolicLink()).toBe(true);
      expect(readlinkSync(pointer)).toBe(`../../blobs/${etag}`);
      expect(readFileSync(pointer).equals(bytes)).toBe(true);
    }
    expect(files).toMatchObject({ name: 'org/tiny', config: join(files.snapshot, 'config.json'), weights: join(files.snapshot, 'model.safetensors') });
  });

  it('uses HF_HUB_CACHE over HF_HOME', async () => {
    const cache = join(work, 'explicit-cache');
    const env = { ...freshEnv(), HF_HUB_CACHE: cache };
    const files = await pullModel('org/tiny', { env, ...quiet });
    expect(files.snapshot).toBe(join(cache, 'models--org--tiny', 'snapshots', COMMIT));
    expect(existsSync(join(env.HF_HOME, 'hub'))).toBe(false);
  });

  it('resumes an interrupted transfer with a Range request on the next call', async () => {
    const env = freshEnv();
    const N = 1_000_000;
    hub.behaviour.cutAfterBytes = N;
    hub.behaviour.cutTimes = 1;
    await expect(pullModel('org/tiny', { env, ...quiet, retries: 0 })).rejects.toThrow(
      new RegExp(
        `model "org/tiny" failed: the download of model\\.safetensors .* was interrupted .*; ${N} of ${weights.length} bytes are saved in .*${WEIGHTS_SHA}\\.incomplete, and the next attempt resumes`,
      ),
    );
    const blobs = join(repoDirOf(env), 'blobs');
    expect(statSync(join(blobs, `${WEIGHTS_SHA}.incomplete`)).size).toBe(N);
    expect(existsSync(join(blobs, WEIGHTS_SHA))).toBe(false); // never a whole-looking file
    expect(existsSync(join(repoDirOf(env), 'snapshots'))).toBe(false);

    const model = await loadModel('org/tiny', { env, device: testDevice(), ...quiet });
    model.dispose();
    expect(cdnGets().map((r) => r.range)).toEqual([undefined, `bytes=${N}-`]);
    expect(sha256Hex(readFileSync(join(blobs, WEIGHTS_SHA)))).toBe(WEIGHTS_SHA);
    expect(readdirSync(blobs).filter((f) => f.endsWith('.incomplete'))).toEqual([]);
  });

  it('resumes within one call when the connection drops, and restarts when the server ignores Range', async () => {
    const env = freshEnv();
    const N = 700_000;
    hub.behaviour.cutAfterBytes = N;
    hub.behaviour.cutTimes = 2;
    await pullModel('org/tiny', { env, ...quiet, retries: 3 });
    expect(cdnGets().map((r) => r.range)).toEqual([undefined, `bytes=${N}-`, `bytes=${2 * N}-`]);
    expect(sha256Hex(readFileSync(join(repoDirOf(env), 'blobs', WEIGHTS_SHA)))).toBe(WEIGHTS_SHA);

    const env2 = freshEnv();
    hub.reset();
    hub.behaviour.cutAfterBytes = N;
    hub.behaviour.cutTimes = 1;
    hub.behaviour.ignoreRange = true; // answers 200 with the whole file: the partial file is rewritten
    await pullModel('org/tiny', { env: env2, ...quiet, retries: 1 });
    expect(cdnGets().map((r) => r.range)).toEqual([undefined, `bytes=${N}-`]);
    expect(sha256Hex(readFileSync(join(repoDirOf(env2), 'blobs', WEIGHTS_SHA)))).toBe(WEIGHTS_SHA);
  });

  it('a stalled transfer times out (HF_HUB_DOWNLOAD_TIMEOUT) and keeps what arrived for resuming', async () => {
    const env = freshEnv({ HF_HUB_DOWNLOAD_TIMEOUT: '0.3' });
    const N = 300_000;
    hub.behaviour.cutAfterBytes = N;
    hub.behaviour.cutTimes = 1;
    hub.behaviour.stallInsteadOfCut = true;
    await expect(pullModel('org/tiny', { env, ...quiet, retries: 0 })).rejects.toThrow(
      /interrupted \(no answer from 127\.0\.0\.1:\d+ within 0\.3 s \(ETIMEDOUT\)\); 300000 of/,
    );
    expect(statSync(join(repoDirOf(env), 'blobs', `${WEIGHTS_SHA}.incomplete`)).size).toBe(N);
    await pullModel('org/tiny', { env, ...quiet });
    expect(cdnGets().map((r) => r.range)).toEqual([undefined, `bytes=${N}-`]);
  });

  it('rejects a checksum mismatch and caches nothing', async () => {
    const env = freshEnv();
    hub.behaviour.wrongSha256 = true;
    const err = await pullModel('org/tiny', { env, ...quiet }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HubError);
    expect((err as HubError).kind).toBe('integrity');
    expect((err as Error).message).toMatch(
      new RegExp(
        `model\\.safetensors .*SHA-256 of the downloaded file is ${WEIGHTS_SHA}, but the server announced [0-9a-f]{64}; the download was deleted and nothing was cached`,
      ),
    );
    const repoDir = repoDirOf(env);
    expect(existsSync(join(repoDir, 'snapshots'))).toBe(false);
    expect(existsSync(join(repoDir, 'refs'))).toBe(false);
    expect(readdirSync(join(repoDir, 'blobs'))).toEqual([]); // no blob, no .incomplete
  });

  it('explains 404s (repo, file, revision) and creates nothing', async () => {
    const env = freshEnv();
    await expect(loadModel('org/nope', { env, ...quiet })).rejects.toThrow(
      /^model "org\/nope" was not found: .*models--org--nope.*the hub has no repository "org\/nope" \(404 from http:\/\/127\.0\.0\.1:\d+\/org\/nope\/resolve\/main\/config\.json\)/s,
    );
    await expect(pullModel('org/no-weights', { env, ...quiet })).rejects.toThrow(
      /has no file model\.safetensors at revision main \(404 from .*\); layerlens needs config\.json and model\.safetensors/,
    );
    await expect(pullModel('org/tiny', { env, ...quiet, revision: 'v9' })).rejects.toThrow(/at revision v9 .*has no revision "v9" \(404/s);
    expect(existsSync(join(env.HF_HOME, 'hub'))).toBe(false);
  });

  it('explains a 401 (private or gated: HF_TOKEN) and sends HF_TOKEN as a Bearer token', async () => {
    const env = freshEnv();
    const err = await pullModel('org/private', { env, ...quiet }).catch((e: unknown) => e);
    expect((err as HubError).kind).toBe('unauthorized');
    expect((err as Error).message).toMatch(/"org\/private".*\(401 from .*\)\. Check the name; If it is private or gated, .*set HF_TOKEN/s);

    const wrong = await pullModel('org/private', { env: { ...env, HF_TOKEN: 'hf_wrong' }, ...quiet }).catch((e: unknown) => e);
    expect((wrong as Error).message).toMatch(/401.*The token in HF_TOKEN was sent/s);

    hub.reset();
    const files = await pullModel('org/private', { env: { ...env, HF_TOKEN: 'hf_secret' }, ...quiet });
    expect(readFileSync(files.weights).equals(weights)).toBe(true);
    expect(hub.requests.filter((r) => r.path.startsWith('/org/')).every((r) => r.authorization === 'Bearer hf_secret')).toBe(true);
  });

  it('sends the token only to the hub, never to a CDN on another origin', async () => {
    const split = await FakeHub.start({ 'org/private': { commit: COMMIT, files: tinyFiles, token: 'hf_secret' } }, { separateCdn: true });
    try {
      const env = { ...freshEnv(), HF_ENDPOINT: split.url, HF_TOKEN: 'hf_secret' };
      await pullModel('org/private', { env, ...quiet });
      const cdn = split.requests.filter((r) => r.server === 'cdn');
      expect(cdn).toHaveLength(1);
      expect(cdn[0].authorization).toBeUndefined();
      expect(split.requests.filter((r) => r.server === 'hub').every((r) => r.authorization === 'Bearer hf_secret')).toBe(true);
    } finally {
      await split.close();
    }
  });

  it('follows a renamed repo (relative redirect) and caches under the name asked for', async () => {
    const env = freshEnv();
    const files = await pullModel('tiny-old', { env, ...quiet });
    expect(files.snapshot).toBe(join(repoDirOf(env, 'models--tiny-old'), 'snapshots', COMMIT));
    expect(hub.requests.slice(0, 2).map((r) => `${r.method} ${r.path}`)).toEqual([
      'HEAD /tiny-old/resolve/main/config.json',
      'HEAD /org/tiny/resolve/main/config.json',
    ]);
  });

  it('without X-Repo-Commit uses the commit given as revision, else a documented placeholder', async () => {
    hub.behaviour.omitCommit = true;
    const env = freshEnv();
    const files = await pullModel('org/tiny', { env, ...quiet });
    const placeholder = placeholderCommit('org/tiny', 'main');
    expect(placeholder).toBe(createHash('sha1').update('layerlens-placeholder-commit\0org/tiny\0main').digest('hex'));
    expect(files.snapshot).toBe(join(repoDirOf(env), 'snapshots', placeholder));
    expect(readFileSync(join(repoDirOf(env), 'refs', 'main'), 'utf8')).toBe(placeholder);

    const env2 = freshEnv();
    const atCommit = await pullModel('org/tiny', { env: env2, revision: COMMIT, ...quiet });
    expect(atCommit.snapshot).toBe(join(repoDirOf(env2), 'snapshots', COMMIT));
    expect(existsSync(join(repoDirOf(env2), 'refs'))).toBe(false); // a commit needs no ref
  });

  it('shares one transfer between concurrent loads of the same model', async () => {
    const env = freshEnv();
    const [a, b] = await Promise.all([pullModel('org/tiny', { env, ...quiet }), pullModel('org/tiny', { env, ...quiet })]);
    expect(a.snapshot).toBe(b.snapshot);
    expect(cdnGets()).toHaveLength(1);
  });
});

describe('the local cache comes first', () => {
  /** A cache written the way huggingface_hub writes it, by hand. */
  function pythonCache(folder: string): string {
    const cache = join(work, `py-cache-${homes++}`);
    const repoDir = join(cache, folder);
    mkdirSync(join(repoDir, 'blobs'), { recursive: true });
    mkdirSync(join(repoDir, 'snapshots', COMMIT), { recursive: true });
    mkdirSync(join(repoDir, 'refs'), { recursive: true });
    writeFileSync(join(repoDir, 'blobs', CONFIG_SHA1), config);
    writeFileSync(join(repoDir, 'blobs', WEIGHTS_SHA), weights);
    symlinkSync(`../../blobs/${CONFIG_SHA1}`, join(repoDir, 'snapshots', COMMIT, 'config.json'));
    symlinkSync(`../../blobs/${WEIGHTS_SHA}`, join(repoDir, 'snapshots', COMMIT, 'model.safetensors'));
    writeFileSync(join(repoDir, 'refs', 'main'), COMMIT);
    return cache;
  }

  it('reuses an existing Hugging Face cache without any request', async () => {
    const cache = pythonCache('models--org--tiny');
    const model = await loadModel('org/tiny', { env: { HF_HUB_CACHE: cache, HF_ENDPOINT: hub.url }, device: testDevice() });
    expect(model.info.name).toBe('org/tiny');
    expect(model.weightsPath).toBe(join(cache, 'models--org--tiny', 'snapshots', COMMIT, 'model.safetensors'));
    model.dispose();
    expect(hub.requests).toHaveLength(0);
  });

  it('finds gpt2-family names under their organisation too (distilgpt2 = distilbert/distilgpt2)', async () => {
    const cache = pythonCache('models--distilbert--distilgpt2');
    const files = await resolveModelFiles('distilgpt2', { env: { HF_HUB_CACHE: cache, HF_ENDPOINT: hub.url } });
    expect(files.name).toBe('distilgpt2');
    expect(files.weights).toBe(join(cache, 'models--distilbert--distilgpt2', 'snapshots', COMMIT, 'model.safetensors'));
    expect(hub.requests).toHaveLength(0);
  });

  it('an explicit existing path wins and is never looked up on the hub', async () => {
    const files = await resolveModelFiles(src, { env: freshEnv() });
    expect(files).toMatchObject({ config: join(src, 'config.json'), weights: join(src, 'model.safetensors') });
    expect(hub.requests).toHaveLength(0);
  });

  it('HF_HUB_OFFLINE=1 with nothing cached: a clear error naming the files and the cache path, no request', async () => {
    const env = freshEnv({ HF_HUB_OFFLINE: '1' });
    const where = join(env.HF_HOME, 'hub', 'models--org--tiny');
    const err = await loadModel('org/tiny', { env }).catch((e: unknown) => e);
    expect((err as HubError).kind).toBe('offline');
    expect((err as Error).message).toContain(
      `model "org/tiny" was not found: it is not a local path, and the Hugging Face cache has no snapshot of it (looked in ${where}/snapshots/<refs/main>/ for config.json and model.safetensors), and HF_HUB_OFFLINE=1 forbids downloading it.`,
    );
    expect((err as Error).message).toMatch(/layerlens pull org\/tiny/);
    expect(hub.requests).toHaveLength(0);

    // A snapshot that lacks one file: the message names that file.
    const repoDir = join(env.HF_HOME, 'hub', 'models--org--tiny');
    mkdirSync(join(repoDir, 'snapshots', COMMIT), { recursive: true });
    mkdirSync(join(repoDir, 'refs'));
    writeFileSync(join(repoDir, 'refs', 'main'), COMMIT);
    writeFileSync(join(repoDir, 'snapshots', COMMIT, 'config.json'), config);
    await expect(loadModel('org/tiny', { env })).rejects.toThrow(`its cached snapshot ${join(repoDir, 'snapshots', COMMIT)} has no model.safetensors`);
    // download: false behaves the same without HF_HUB_OFFLINE.
    await expect(resolveModelFiles('org/tiny', { env: freshEnv(), download: false })).rejects.toThrow(/downloading was turned off/);
    expect(hub.requests).toHaveLength(0);
  });

  it('no network (connection refused, timeout): a clear error naming the hub, the file and the cache', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const env = freshEnv({ HF_ENDPOINT: `http://127.0.0.1:${port}` });
    const err = await loadModel('org/tiny', { env }).catch((e: unknown) => e);
    expect((err as HubError).kind).toBe('network');
    expect((err as Error).message).toMatch(
      new RegExp(
        `^model "org/tiny" was not found: .*models--org--tiny/snapshots/<refs/main>/.*could not reach the Hugging Face hub at http://127\\.0\\.0\\.1:${port} to fetch config\\.json of "org/tiny": 127\\.0\\.0\\.1:${port} refused the connection \\(ECONNREFUSED\\).*layerlens pull org/tiny`,
        's',
      ),
    );

    hub.behaviour.hangHead = true;
    const t0 = Date.now();
    await expect(pullModel('org/tiny', { env: freshEnv({ HF_HUB_ETAG_TIMEOUT: '0.3' }), ...quiet })).rejects.toThrow(
      /no answer from 127\.0\.0\.1:\d+ within 0\.3 s \(ETIMEDOUT\)/,
    );
    expect(Date.now() - t0).toBeLessThan(5000);
  });
});

describe('progress bar', () => {
  it('draws bytes, rate and ETA on a TTY, nothing otherwise or with quiet', async () => {
    let tty = '';
    await pullModel('org/tiny', { env: freshEnv(), progress: { isTTY: true, write: (s: string) => (tty += s) } });
    expect(tty).toMatch(/\rmodel\.safetensors +100% \[#{20}\] 13\.\d MB \/ 13\.\d MB +\S+ [kMG]?B\/s +ETA \d+:\d\d\x1b\[K\n/);
    expect(tty).toMatch(/config\.json +100%/);
    expect(tty.endsWith('\n')).toBe(true);

    let other = '';
    await pullModel('org/tiny', { env: freshEnv(), progress: { isTTY: false, write: (s: string) => (other += s) } });
    await pullModel('org/tiny', { env: freshEnv(), quiet: true, progress: { isTTY: true, write: (s: string) => (other += s) } });
    await pullModel('org/tiny', { env: freshEnv({ HF_HUB_DISABLE_PROGRESS_BARS: '1' }), progress: { isTTY: true, write: (s: string) => (other += s) } });
    expect(other).toBe('');
  });

  it('formats sizes and an unknown total', () => {
    expect([formatBytes(999), formatBytes(1500), formatBytes(12_900_000), formatBytes(1_520_000_000)]).toEqual(['999 B', '1.50 kB', '12.9 MB', '1.52 GB']);
    expect(new ProgressBar(undefined, 'f', undefined, 2000).render()).toMatch(/^f 2\.00 kB {2}.*\/s$/);
  });
});

describe('layerlens pull', () => {
  async function cli(argv: string[], env: Record<string, string | undefined>) {
    let out = '';
    let err = '';
    const code = await main(argv, { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, env });
    return { code, out, err };
  }

  it('parses pull and the new flags', () => {
    expect(parseCliArgs(['pull', 'org/x', '--revision', 'v1', '--quiet'])).toEqual({ command: 'pull', name: 'org/x', revision: 'v1', quiet: true });
    expect(parseCliArgs(['pull', 'gpt2-medium'])).toEqual({ command: 'pull', name: 'gpt2-medium' });
    expect(parseCliArgs(['pull', '--help'])).toEqual({ command: 'help' });
    expect(parseCliArgs(['--revision', 'v1', '--quiet', 'hi'])).toMatchObject({ command: 'run', revision: 'v1', quiet: true, prompt: 'hi' });
    expect(parseCliArgs(['--', 'pull'])).toMatchObject({ command: 'run', prompt: 'pull' });
    expect(() => parseCliArgs(['pull'])).toThrow(/pull: missing the model name/);
    expect(() => parseCliArgs(['pull', 'a', 'b'])).toThrow(/expected one model name, got 2/);
    expect(() => parseCliArgs(['pull', './models/gpt2'])).toThrow(/not a hub model name/);
    expect(() => parseCliArgs(['pull', 'x', '--revision', '../../etc'])).toThrow(/--revision: .*not a valid/);
    expect(() => parseCliArgs(['pull', 'x', '--top-k', '3'])).toThrow(/Unknown option '--top-k'/);
    for (const s of ['pull NAME', '--revision R', '--quiet', 'HF_ENDPOINT', 'HF_HOME', 'HF_HUB_CACHE', 'HF_HUB_OFFLINE', 'HF_TOKEN']) expect(HELP).toContain(s);
  });

  it("docs/cli.md's help section is the help text, exactly", () => {
    const readme = readFileSync(join(repoRoot, 'docs', 'cli.md'), 'utf8');
    const block = /This is `layerlens --help`:\n\n```\n([\s\S]*?)```\n/.exec(readme);
    expect(block?.[1]).toBe(HELP);
  });

  it('downloads and prints the snapshot directory; a second pull makes no request', async () => {
    const env = freshEnv();
    const r = await cli(['pull', 'org/tiny'], env);
    expect(r).toEqual({ code: 0, out: join(repoDirOf(env), 'snapshots', COMMIT) + '\n', err: '' });
    hub.reset();
    const again = await cli(['pull', 'org/tiny', '--quiet'], env);
    expect(again.out).toBe(r.out);
    expect(hub.requests).toHaveLength(0);
  });

  it('exit codes: 2 for usage errors, 1 when the model cannot be had', async () => {
    const env = freshEnv();
    expect(await cli(['pull'], env)).toMatchObject({ code: 2, out: '' });
    const bad = await cli(['pull', 'org/nope'], env);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/^layerlens: model "org\/nope" was not found: .*404/s);
    const offline = await cli(['pull', 'org/tiny'], { ...env, HF_HUB_OFFLINE: '1' });
    expect(offline.code).toBe(1);
    expect(offline.err).toMatch(/HF_HUB_OFFLINE=1 forbids downloading it/);
  });

  it('the prompt command downloads a hub model too (--revision, --quiet)', async () => {
    const env = freshEnv();
    const r = await cli(['--model', 'org/tiny', '--revision', COMMIT, '--quiet', '--device', testDevice(), '--json', 'Hello'], env);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).model.name).toBe('org/tiny');
    expect(existsSync(join(repoDirOf(env), 'snapshots', COMMIT, 'model.safetensors'))).toBe(true);
  });
});
