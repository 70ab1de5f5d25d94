// GGUF files from a hub repo chosen by quant (org/name:Q8_0) or by file (org/name/file.gguf), against
// the local fake hub (test/helpers/hub-server.ts): its tree API lists the files, the file lands in the
// Hugging Face cache like any download, and a cached file is used without the network.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { chooseGgufByQuant, parseHubGgufRef, resolveModelFiles } from '../../lib/index.js';
import { FakeHub } from '../helpers/hub-server.js';

const work = mkdtempSync(join(tmpdir(), 'layerlens-hub-gguf-'));
const COMMIT = createHash('sha1').update('org/Model-GGUF').digest('hex');
const bytes = (s: string) => Buffer.from(`GGUF fake ${s}`);
const files = {
  'README.md': bytes('readme'),
  'model-Q4_K_M.gguf': bytes('q4km'),
  'model-Q4_K_S.gguf': bytes('q4ks'),
  'model-Q8_0.gguf': bytes('q8'),
  'mmproj-model-Q8_0.gguf': bytes('mmproj'),
  'fp/model-F16.gguf': bytes('f16'),
};

let hub: FakeHub;
beforeAll(async () => {
  hub = await FakeHub.start({ 'org/Model-GGUF': { commit: COMMIT, files } });
});
afterAll(async () => {
  await hub?.close();
  rmSync(work, { recursive: true, force: true });
});
beforeEach(() => hub.reset());

let homes = 0;
const freshEnv = () => ({ HF_HOME: join(work, `home-${homes++}`), HF_ENDPOINT: hub.url });

describe('hub GGUF references', () => {
  it('parses org/name:QUANT and org/name/file.gguf, and nothing else', () => {
    expect(parseHubGgufRef('org/name:Q8_0')).toEqual({ repo: 'org/name', quant: 'Q8_0' });
    expect(parseHubGgufRef('org/name/sub/file.gguf')).toEqual({ repo: 'org/name', file: 'sub/file.gguf' });
    for (const s of ['org/name', 'gpt2', 'org/name/file.bin', 'org/name:', './x/y/z.gguf', 'org/../x/y.gguf', 'http://x/y:z'])
      expect(parseHubGgufRef(s), s).toBeUndefined();
  });

  it('chooses the one file whose name holds the quant, preferring the quant standing alone', () => {
    const list = Object.keys(files);
    expect(chooseGgufByQuant(list, 'q8_0', 'r')).toBe('model-Q8_0.gguf');
    expect(chooseGgufByQuant(list, 'Q4_K_M', 'r')).toBe('model-Q4_K_M.gguf');
    expect(chooseGgufByQuant(list, 'F16', 'r')).toBe('fp/model-F16.gguf');
    expect(chooseGgufByQuant(['a-Q4_K.gguf', 'a-Q4_K_M.gguf'], 'Q4_K', 'r')).toBe('a-Q4_K.gguf');
    expect(() => chooseGgufByQuant(list, 'Q4_K', 'r')).toThrow(
      /several GGUF files of "r" match the quant Q4_K: model-Q4_K_M\.gguf, model-Q4_K_S\.gguf; name one as r\/model-Q4_K_M\.gguf/,
    );
    expect(() => chooseGgufByQuant(list, 'Q2_K', 'r')).toThrow(
      /no GGUF file of "r" matches the quant Q2_K; its GGUF files: model-Q4_K_M\.gguf, model-Q4_K_S\.gguf, model-Q8_0\.gguf, fp\/model-F16\.gguf/,
    );
  });

  it('org/name:Q8_0 lists the repo (paginated tree API), downloads that file into the cache, then works offline', async () => {
    const env = freshEnv();
    const got = await resolveModelFiles('org/Model-GGUF:Q8_0', { env, quiet: true });
    const snapshot = join(env.HF_HOME, 'hub', 'models--org--Model-GGUF', 'snapshots', COMMIT);
    expect(got).toEqual({ name: 'org/Model-GGUF:Q8_0', weights: join(snapshot, 'model-Q8_0.gguf'), snapshot });
    expect(readFileSync(got.weights)).toEqual(files['model-Q8_0.gguf']);
    const treeCalls = hub.requests.filter((r) => r.path.startsWith('/api/models/org/Model-GGUF/tree/main'));
    expect(treeCalls.length).toBeGreaterThan(1); // more than one page
    expect(hub.requests.filter((r) => r.method === 'GET' && r.path.startsWith('/cdn/'))).toHaveLength(1);

    hub.reset();
    const again = await resolveModelFiles('org/Model-GGUF:q8_0', { env: { ...env, HF_HUB_OFFLINE: '1' } });
    expect(again.weights).toBe(got.weights);
    expect(hub.requests).toEqual([]);
  });

  it('org/name/file.gguf downloads exactly that file, also from a subfolder', async () => {
    const env = freshEnv();
    const got = await resolveModelFiles('org/Model-GGUF/fp/model-F16.gguf', { env, quiet: true });
    expect(readFileSync(got.weights)).toEqual(files['fp/model-F16.gguf']);
    expect(hub.requests.some((r) => r.path.startsWith('/api/'))).toBe(false);
  });

  it('an ambiguous or unknown quant, or an unknown repo, is a clear error; offline without a cache too', async () => {
    const env = freshEnv();
    await expect(resolveModelFiles('org/Model-GGUF:Q4_K', { env, quiet: true })).rejects.toThrow(/several GGUF files .* match the quant Q4_K/);
    await expect(resolveModelFiles('org/Model-GGUF:IQ1_S', { env, quiet: true })).rejects.toThrow(/no GGUF file of "org\/Model-GGUF" matches the quant IQ1_S/);
    await expect(resolveModelFiles('org/Nothing:Q8_0', { env, quiet: true })).rejects.toThrow(/the hub has no repository "org\/Nothing"/);
    await expect(resolveModelFiles('org/Model-GGUF:Q8_0', { env: { ...freshEnv(), HF_HUB_OFFLINE: '1' } })).rejects.toThrow(
      /"org\/Model-GGUF:Q8_0" is not in the Hugging Face cache .* HF_HUB_OFFLINE=1 forbids the network/,
    );
  });
});

describe('layerlens pull of a hub GGUF', () => {
  it('downloads the chosen file and prints its path', async () => {
    const { runCli } = await import('../helpers/cli.js');
    const env = freshEnv();
    const r = await runCli(['pull', 'org/Model-GGUF:Q4_K_S', '--quiet'], { env });
    expect(r).toMatchObject({ code: 0, err: '' });
    expect(r.out).toBe(join(env.HF_HOME, 'hub', 'models--org--Model-GGUF', 'snapshots', COMMIT, 'model-Q4_K_S.gguf') + '\n');
    expect(readFileSync(r.out.trim())).toEqual(files['model-Q4_K_S.gguf']);
  });
});
