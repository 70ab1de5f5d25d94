// The viewer's HTTP server (lib/server/server.ts) and `layerlens serve` (lib/cli/serve.ts) on the tiny checkpoint.
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { decodeLayers, type Model } from '../../lib/index.js';
import { parseLensRequest, startServer, type LayerlensServer } from '../../lib/server/server.js';
import { InvalidParameterError } from '../../lib/is.js';
import { parseServeArgs, SERVE_HELP, serveCommand } from '../../lib/cli/serve.js';
import type { ReportData } from '../../lib/render/report/data.js';
import { checkpoint, NOTEBOOK_IDS, NOTEBOOK_PROMPT } from '../helpers/checkpoints.js';
import { testDevice } from '../helpers/device.js';
import { useTinyModel } from '../helpers/fixtures.js';
import { getInfo, postLens } from '../helpers/viewer-api.js';

const tiny = useTinyModel({ threads: 2 });
let model: Model;
let srv: LayerlensServer;
beforeAll(async () => {
  model = tiny.model;
  srv = await startServer({ model, port: 0 });
});
afterAll(async () => {
  await srv?.close();
});

const post = (body: unknown, headers?: Record<string, string>) => postLens(srv, body, headers);

async function expectError(res: Response, status: number, message: RegExp): Promise<void> {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  const j = (await res.json()) as { error: string };
  expect(j.error).toMatch(message);
}

/** A raw request with a chosen Host header (fetch does not let us set it). */
function rawGet(path: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: srv.port, path, headers: { host } }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('startServer', () => {
  it('listens on 127.0.0.1 with a free port and serves the viewer page', async () => {
    expect(srv.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const res = await fetch(srv.url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = await res.text();
    expect(html).toContain('<form id="ll-form"');
    expect(html).toContain('tiny-f32: 2 layers');
    const info = await getInfo<{ model: { n_layer: number }; limits: { maxTopK: number } }>(srv);
    expect(info.model.n_layer).toBe(2);
    expect(info.limits.maxTopK).toBe(100);
  });

  it('POST /api/lens answers the lens of every position with metrics and attention, as decodeLayers computes it', async () => {
    const res = await post({ prompt: NOTEBOOK_PROMPT, target: ' Paris', topK: 4, hooks: ['embed', 'resid_post'] });
    expect(res.status).toBe(200);
    const d = (await res.json()) as ReportData;
    expect(d.tokens.map((t) => t.id)).toEqual(NOTEBOOK_IDS);
    expect(d.positions).toEqual(NOTEBOOK_IDS.map((_, i) => i));
    expect(d.target).toEqual({ id: 6342, token: ' Paris' });
    const lensed = d.hooks.filter((h) => h.top);
    expect(lensed).toHaveLength(3 * 26);
    expect(lensed.every((h) => h.top!.length === 4 && h.target && typeof h.entropy === 'number' && typeof h.kl === 'number')).toBe(true);
    expect(d.attention!.layers.map((l) => l.layer)).toEqual([0, 1]);
    expect(d.attention!.positions).toHaveLength(26);
    const direct = await decodeLayers(NOTEBOOK_PROMPT, { model, hooks: ['embed', 'resid_post'], positions: 'all', topK: 4 });
    expect(lensed.map((h) => h.top!.map((t) => t.id))).toEqual(direct.hooks.map((h) => h.top!.map((t) => t.id)));
  });

  it('defaults: hooks "default", topK 10, every position', async () => {
    const d = (await (await post({ prompt: 'A: B' })).json()) as ReportData;
    expect(d.positions).toEqual([0, 1, 2]);
    expect([...new Set(d.hooks.filter((h) => h.top).map((h) => h.name))]).toEqual([
      'embed',
      'blocks.0.resid_mid',
      'blocks.0.resid_post',
      'blocks.1.resid_mid',
      'blocks.1.resid_post',
    ]);
    expect(d.hooks.find((h) => h.top)!.top).toHaveLength(10);
  });

  it('rejects bad requests with a 4xx JSON error that says what is wrong', async () => {
    await expectError(await post('{"prompt": '), 400, /not valid JSON/);
    await expectError(await post('[1]'), 400, /JSON object/);
    await expectError(await post({}), 400, /^Expected a string for "prompt" but received undefined of type undefined$/);
    await expectError(await post({ prompt: 3 }), 400, /^Expected a string for "prompt" but received 3 of type number$/);
    await expectError(await post({ prompt: '' }), 400, /"prompt" is empty/);
    await expectError(await post({ prompt: 'x', top_k: 3 }), 400, /unknown field "top_k"/);
    await expectError(await post({ prompt: 'word '.repeat(70) }), 400, /71 tokens long.*at most 64/);
    await expectError(await post({ prompt: 'x', topK: 0 }), 400, /^Expected an integer in 1\.\.100 for "topK" but received 0 of type number$/);
    await expectError(await post({ prompt: 'x', topK: 101 }), 400, /1\.\.100/);
    await expectError(await post({ prompt: 'x', topK: 2.5 }), 400, /topK/);
    await expectError(await post({ prompt: 'x', target: 'Warsaw' }), 400, /"target": target "Warsaw" is 2 tokens/);
    await expectError(await post({ prompt: 'x', target: 50257 }), 400, /"target": target id 50257/);
    await expectError(
      await post({ prompt: 'x', target: {} }),
      400,
      /^Expected the text of one token or a token id for "target" but received \{\} of type object$/,
    );
    await expectError(await post({ prompt: 'x y', positions: [5] }), 400, /"positions": position 5 is outside the prompt's 2 tokens/);
    await expectError(await post({ prompt: 'x', positions: 'first' }), 400, /Expected .* for "positions" but received "first" of type string/);
    await expectError(await post({ prompt: 'x', hooks: ['blocks.9.resid_post'] }), 400, /"hooks":.*block 9 is out of range/);
    await expectError(await post({ prompt: 'x', hooks: 'some' }), 400, /Expected .* for "hooks" but received "some" of type string/);
    await expectError(await post({ prompt: 'x' }, { 'content-type': 'text/plain' }), 415, /application\/json/);
    await expectError(await post({ prompt: 'x'.repeat(70_000) }), 413, /limit is 65536/);
  });

  it('"ablate": the ablated run plus the clean one as "compare"; bad hooks are 400', async () => {
    await expectError(
      await post({ prompt: 'x', ablate: 'blocks.1.mlp_out' }),
      400,
      /Expected an array of hook names .* for "ablate" but received "blocks\.1\.mlp_out" of type string/,
    );
    await expectError(await post({ prompt: 'x', ablate: [3] }), 400, /Expected an array of hook names .* for "ablate" but received \[3\] of type array/);
    await expectError(await post({ prompt: 'x', ablate: ['blocks.7.mlp_out'] }), 400, /"ablate":.*block 7 is out of range/);
    await expectError(await post({ prompt: 'x', ablate: ['blocks.0.attn_pattern'] }), 400, /"ablate": blocks\.0\.attn_pattern cannot be ablated/);
    await expectError(await post({ prompt: 'x', ablate: ['blocks.1'] }), 400, /"ablate": blocks\.1\.attn_pattern cannot be ablated/);
    await expectError(await post({ prompt: 'x', ablate: ['nonsense'] }), 400, /"ablate":/);

    const res = await post({ prompt: NOTEBOOK_PROMPT, topK: 3, hooks: ['resid_post'], ablate: ['blocks.1.mlp_out', 'blocks.0.mlp_post'] });
    expect(res.status).toBe(200);
    const d = (await res.json()) as ReportData;
    expect(d.label).toBe('after (ablated: blocks.0.mlp_post, blocks.1.mlp_out)');
    expect(d.compare!.label).toBe('before (clean run)');
    expect(d.compare!.compare).toBeUndefined();
    expect(d.attention && d.compare!.attention).toBeTruthy();
    const interventions = [
      { hook: 'blocks.0.mlp_post', op: 'zero' as const },
      { hook: 'blocks.1.mlp_out', op: 'zero' as const },
    ];
    const after = await decodeLayers(NOTEBOOK_PROMPT, { model, hooks: ['resid_post'], positions: 'all', topK: 3, interventions });
    const before = await decodeLayers(NOTEBOOK_PROMPT, { model, hooks: ['resid_post'], positions: 'all', topK: 3 });
    const ids = (hooks: { top?: { id: number }[] }[]) => hooks.filter((h) => h.top).map((h) => h.top!.map((t) => t.id));
    expect(ids(d.hooks)).toEqual(ids(after.hooks));
    expect(ids(d.compare!.hooks)).toEqual(ids(before.hooks));
    expect(ids(d.hooks)).not.toEqual(ids(d.compare!.hooks));
    // an empty list is no ablation
    expect('compare' in ((await (await post({ prompt: 'A: B', ablate: [] })).json()) as object)).toBe(false);
  });

  it('answers 404 for unknown paths, 405 for wrong methods, 403 for foreign Host headers', async () => {
    await expectError(await fetch(new URL('nope', srv.url)), 404, /no such page: \/nope/);
    const get = await fetch(new URL('api/lens', srv.url));
    expect(get.headers.get('allow')).toBe('POST');
    await expectError(get, 405, /GET is not allowed on \/api\/lens/);
    const postRoot = await fetch(srv.url, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    expect(postRoot.headers.get('allow')).toBe('GET, HEAD');
    await expectError(postRoot, 405, /POST is not allowed/);
    expect((await rawGet('/', 'evil.example:80')).status).toBe(403);
    expect((await rawGet('/', `localhost:${srv.port}`)).status).toBe(200);
    expect((await rawGet('/', `[::1]:${srv.port}`)).status).toBe(200);
  });

  it('runs requests one at a time', async () => {
    let running = 0;
    let most = 0;
    const original = model.run.bind(model);
    const spy = vi.spyOn(model, 'run').mockImplementation(async (...args: Parameters<Model['run']>) => {
      running++;
      most = Math.max(most, running);
      try {
        await new Promise((r) => setTimeout(r, 20));
        return await original(...args);
      } finally {
        running--;
      }
    });
    try {
      const results = await Promise.all([1, 2, 3, 4].map((k) => post({ prompt: `A${k}: B`, hooks: ['resid_post'] })));
      expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200]);
      expect(spy).toHaveBeenCalledTimes(4);
      expect(most).toBe(1);
    } finally {
      spy.mockRestore();
    }
  });

  it('loads a model given by path once and frees it on close; a passed Model is left alone', async () => {
    const own = await startServer({ model: checkpoint('tiny-f32'), load: { device: testDevice(), threads: 1 }, port: 0, banner: 'synthetic <b>' });
    const html = await (await fetch(own.url)).text();
    expect(html).toContain('synthetic &lt;b&gt;');
    await own.close();
    expect(own.model.disposed).toBe(true);
    expect(model.disposed).toBe(false);
    await expect(startServer({ model, port: srv.port })).rejects.toThrow(/already in use/);
    expect(model.disposed).toBe(false);
  });
});

describe('parseLensRequest', () => {
  const info = { n_layer: 2, n_ctx: 64, n_vocab: 50257 };
  it('fills the defaults and keeps valid fields', () => {
    expect(parseLensRequest({ prompt: 'a b' }, info)).toEqual({ prompt: 'a b', hooks: 'default', topK: 10, positions: 'all' });
    expect(parseLensRequest({ prompt: 'a b', hooks: 'all', topK: 3, target: 'id', positions: [-1] }, info)).toEqual({
      prompt: 'a b',
      hooks: 'all',
      topK: 3,
      target: 'id',
      positions: [-1],
    });
    expect(parseLensRequest({ prompt: 'a', target: '' }, info).target).toBeUndefined();
    expect(parseLensRequest({ prompt: 'a', ablate: ['mlp_out', 'embed', 'blocks.0.mlp_out'] }, info).ablate).toEqual([
      'embed',
      'blocks.0.mlp_out',
      'blocks.1.mlp_out',
    ]);
  });
  it('throws InvalidParameterError (answered with 400) naming the field', () => {
    for (const body of [
      null,
      [],
      { prompt: 1 },
      { prompt: 'a', topK: '3' },
      { prompt: 'a', hooks: ['blocks.5.embed'] },
      { prompt: 'a', ablate: ['blocks.0.attn_head_out'] },
    ]) {
      expect(() => parseLensRequest(body, info), JSON.stringify(body)).toThrow(InvalidParameterError);
    }
    expect(() => parseLensRequest(null, info)).toThrow('Expected a JSON object like {"prompt": "..."} for the body but received null of type null');
  });
});

describe('layerlens serve', () => {
  it('parses its flags', () => {
    expect(parseServeArgs([])).toEqual({ help: false, port: 8080, host: '127.0.0.1', device: 'auto' });
    expect(parseServeArgs(['--port', '0', '--host', '::1', '--model', 'm', '--threads', '2', '--device', 'cpu', '--banner', 'b'])).toEqual({
      help: false,
      port: 0,
      host: '::1',
      model: 'm',
      threads: 2,
      device: 'cpu',
      banner: 'b',
    });
    expect(() => parseServeArgs(['--port', '70000'])).toThrow(/^Expected an integer in 0\.\.65535 for --port but received "70000" of type string$/);
    expect(() => parseServeArgs(['--device', 'tpu'])).toThrow(/--device/);
    expect(parseServeArgs(['--device', 'rpc://127.0.0.1:50052']).device).toBe('rpc://127.0.0.1:50052');
    expect(() => parseServeArgs(['--device', 'rpc://127.0.0.1'])).toThrow(/--device/);
    expect(() => parseServeArgs(['--nope'])).toThrow(/serve: Unknown option '--nope'/);
    expect(() => parseServeArgs(['prompt'])).toThrow(/serve:/);
    expect(SERVE_HELP).toMatch(/^Usage: layerlens serve/);
  });

  it('prints help, reports usage errors with exit code 2 and start failures with 1', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const io = { stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => err.push(s) }, env: {} };
    expect(await serveCommand(['--help'], io)).toBe(0);
    expect(out.join('')).toBe(SERVE_HELP);
    expect(await serveCommand(['--port', 'x'], io)).toBe(2);
    expect(err.join('')).toMatch(/layerlens: Expected an integer in 0\.\.65535 for --port/);
    expect(await serveCommand(['--port', '0', '--model', '/nonexistent/model/dir'], io)).toBe(1);
  });

  it('serves until its signal is aborted, then exits 0', async () => {
    const out: string[] = [];
    const ac = new AbortController();
    let url = '';
    const done = serveCommand(['--port', '0', '--model', checkpoint('tiny-f32'), '--device', testDevice(), '--threads', '1'], {
      stdout: { write: (s: string) => out.push(s) },
      stderr: { write: () => undefined },
      env: {},
      signal: ac.signal,
      onListening: (u) => {
        url = u;
        void postLens({ url: u }, { prompt: 'Hi' })
          .then((r) => r.json())
          .then((j) => {
            expect((j as ReportData).tokens).toHaveLength(1);
            ac.abort();
          });
      },
    });
    expect(await done).toBe(0);
    expect(out.join('')).toMatch(/serving tiny-f32 \(2 layers, \w+\) at http:\/\/127\.0\.0\.1:\d+\//);
    await expect(fetch(url)).rejects.toThrow();
  });
});
