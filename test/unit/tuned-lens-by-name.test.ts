// A tuned lens by name: the tuned-lens package's published lenses (the Hugging Face space
// AlignmentResearch/tuned-lens, lens/<name>/config.json + params.pt) fetched through lib/hub from a
// local stand-in of the hub, cached under spaces--AlignmentResearch--tuned-lens, offline mode, tokens,
// and the message for a lens that does not exist. Plus decodeLayers' lens / lensImpl option rules.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadTunedLensByName, resolveTunedLensFolder } from '../../lib/lens/tuned/resolve.js';
import { lensChoice } from '../../lib/lens/lens-choice.js';
import { FakeHub } from '../helpers/hub-server.js';
import { signedRandom } from '../helpers/random.js';
import { writeTunedLensFolder, type TunedLensSpec } from '../helpers/tuned-lens-writer.js';
import { warningsDuring } from '../helpers/warnings.js';

const work = mkdtempSync(join(tmpdir(), 'layerlens-lens-name-'));
const COMMIT = 'c0ffee0000000000000000000000000000000001';
let hub: FakeHub;
let cache = '';
let n = 0;

function spec(d: number, layers: number, seed: number): TunedLensSpec {
  const rnd = signedRandom(seed);
  return {
    baseModel: 'gpt2',
    d,
    translators: Array.from({ length: layers }, () => ({ weight: Float32Array.from({ length: d * d }, rnd), bias: Float32Array.from({ length: d }, rnd) })),
  };
}

/** The two files of a lens folder as the space holds them under lens/<name>/. */
function published(name: string, s: TunedLensSpec): Record<string, Buffer> {
  const dir = writeTunedLensFolder(join(work, `src-${n++}`), s);
  return {
    [`lens/${name}/config.json`]: readFileSync(join(dir, 'config.json')),
    [`lens/${name}/params.pt`]: readFileSync(join(dir, 'params.pt')),
  };
}

const gpt2 = spec(4, 3, 1);
const pythia = spec(6, 2, 2);

beforeAll(async () => {
  hub = await FakeHub.start({
    'spaces/AlignmentResearch/tuned-lens': { commit: COMMIT, files: { ...published('gpt2', gpt2), ...published('EleutherAI/pythia-tiny', pythia) } },
    'spaces/someone/private-lenses': { commit: COMMIT, files: published('gpt2', gpt2), token: 'hf_secret' },
  });
});
afterAll(async () => {
  await hub.close();
  rmSync(work, { recursive: true, force: true });
});
beforeEach(() => {
  hub.reset();
  cache = mkdtempSync(join(work, 'cache-'));
});

const env = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({ HF_ENDPOINT: hub.url, HF_HUB_CACHE: cache, ...extra });

describe('a tuned lens by name', () => {
  it('downloads lens/<name>/ of the space into the HF cache (spaces--…), then loads it from there without the network', async () => {
    const lens = await loadTunedLensByName('gpt2', { env: env(), quiet: true });
    expect(lens.config).toMatchObject({ baseModel: 'gpt2', dModel: 4, numLayers: 3 });
    lens.translators.forEach((t, i) => {
      expect(Array.from(t.weight)).toEqual(Array.from(gpt2.translators[i].weight));
      expect(Array.from(t.bias!)).toEqual(Array.from(gpt2.translators[i].bias!));
    });
    // the first file at main fixes the commit, the second is asked for at that commit; params.pt comes from the CDN (LFS)
    const resolved = hub.requests.filter((r) => r.path.includes('/resolve/')).map((r) => r.path.replace(COMMIT, '<commit>'));
    expect(new Set(resolved)).toEqual(
      new Set([
        '/spaces/AlignmentResearch/tuned-lens/resolve/main/lens/gpt2/config.json',
        '/spaces/AlignmentResearch/tuned-lens/resolve/<commit>/lens/gpt2/params.pt',
      ]),
    );
    const snapshot = join(cache, 'spaces--AlignmentResearch--tuned-lens', 'snapshots', COMMIT);
    expect(lens.source).toBe(join(snapshot, 'lens', 'gpt2'));
    expect(existsSync(join(snapshot, 'lens', 'gpt2', 'params.pt'))).toBe(true);
    expect(readFileSync(join(cache, 'spaces--AlignmentResearch--tuned-lens', 'refs', 'main'), 'utf8')).toBe(COMMIT);

    hub.reset();
    const again = await resolveTunedLensFolder('gpt2', { env: env({ HF_HUB_OFFLINE: '1' }) });
    expect(again).toBe(join(snapshot, 'lens', 'gpt2'));
    expect(hub.requests).toEqual([]);
  });

  it('an org/name lens lives in lens/org/name/', async () => {
    const lens = await loadTunedLensByName('EleutherAI/pythia-tiny', { env: env(), quiet: true });
    expect(lens.config).toMatchObject({ dModel: 6, numLayers: 2 });
    expect(lens.source).toBe(join(cache, 'spaces--AlignmentResearch--tuned-lens', 'snapshots', COMMIT, 'lens', 'EleutherAI', 'pythia-tiny'));
    expect(Array.from(lens.translators[1].weight)).toEqual(Array.from(pythia.translators[1].weight));
  });

  it('a name the space does not have: a clear error with what to do', async () => {
    const err = await resolveTunedLensFolder('gpt3', { env: env(), quiet: true }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    const msg = (err as Error).message;
    expect(msg).toMatch(
      /^no published tuned lens "gpt3": the Hugging Face space AlignmentResearch\/tuned-lens \(lens\/gpt3\/\) has no lens\/gpt3\/config\.json or lens\/gpt3\/params\.pt/,
    );
    expect(msg).toContain(`What to do: check the name against the published lenses at ${hub.url}/spaces/AlignmentResearch/tuned-lens/tree/main/lens`);
    expect(msg).toContain('give a local folder that holds config.json and params.pt');
    expect(msg).toContain('layerlens train-lens');
    expect(existsSync(join(cache, 'spaces--AlignmentResearch--tuned-lens', 'snapshots'))).toBe(false);
  });

  it('offline (HF_HUB_OFFLINE) or download: false with nothing cached: no request, and the message says why', async () => {
    await expect(resolveTunedLensFolder('gpt2', { env: env({ HF_HUB_OFFLINE: '1' }) })).rejects.toThrow(
      /tuned lens "gpt2" is not a local folder, and the Hugging Face cache has no copy of .*; HF_HUB_OFFLINE=1 forbids downloading it/,
    );
    await expect(resolveTunedLensFolder('gpt2', { env: env(), download: false })).rejects.toThrow(/downloading was turned off/);
    expect(hub.requests).toEqual([]);
  });

  it('TUNED_LENS_REPO_ID points at another space, and HF_TOKEN is sent to the hub for a private one', async () => {
    await expect(resolveTunedLensFolder('gpt2', { env: env({ TUNED_LENS_REPO_ID: 'someone/private-lenses' }), quiet: true })).rejects.toThrow(/401/);
    const dir = await resolveTunedLensFolder('gpt2', { env: env({ TUNED_LENS_REPO_ID: 'someone/private-lenses', HF_TOKEN: 'hf_secret' }), quiet: true });
    expect(dir).toBe(join(cache, 'spaces--someone--private-lenses', 'snapshots', COMMIT, 'lens', 'gpt2'));
    expect(hub.requests.filter((r) => r.server === 'hub' && r.authorization === 'Bearer hf_secret').length).toBeGreaterThan(0);
  });

  it('a folder holding a lens is used as it is; a path is never looked up on the hub', async () => {
    const dir = writeTunedLensFolder(join(work, 'local'), spec(4, 3, 3));
    expect(await resolveTunedLensFolder(dir, { env: env() })).toBe(dir);
    expect(await resolveTunedLensFolder('./no/such/lens', { env: env() })).toBe('./no/such/lens');
    await expect(resolveTunedLensFolder('not a name!', { env: env() })).rejects.toThrow(/there is no such folder, and it is not a published lens name/);
    expect(hub.requests).toEqual([]);
  });
});

describe("decodeLayers' lens options", () => {
  it("lens says which lens, lensImpl which implementation; tunedLens alone means 'tuned', lens: 'logit' ignores it", () => {
    expect(lensChoice({})).toEqual({ lens: 'logit', impl: 'native' });
    expect(lensChoice({ tunedLens: 'gpt2' })).toEqual({ lens: 'tuned', impl: 'native' });
    expect(lensChoice({ tunedLens: 'gpt2', lens: 'logit' })).toEqual({ lens: 'logit', impl: 'native' });
    expect(lensChoice({ tunedLens: 'gpt2', lens: 'tuned', lensImpl: 'reference' })).toEqual({ lens: 'tuned', impl: 'reference' });
    expect(() => lensChoice({ lens: 'tuned' })).toThrow(/lens: 'tuned' needs tunedLens/);
    expect(() => lensChoice({ lens: 'raw' })).toThrow(/Expected 'logit' or 'tuned' .* for lens but received "raw"/);
    expect(() => lensChoice({ lensImpl: 'gpu' })).toThrow(/Expected 'native' or 'reference' for lensImpl/);
  });

  it("lens: 'native' | 'reference' still selects the implementation, with one LAYERLENS_LENS_IMPL warning", async () => {
    const warnings = await warningsDuring(() => {
      expect(lensChoice({ lens: 'reference' })).toEqual({ lens: 'logit', impl: 'reference' });
      expect(lensChoice({ lens: 'native', tunedLens: 'gpt2' })).toEqual({ lens: 'tuned', impl: 'native' });
    });
    expect(warnings.map((w) => (w as Error & { code?: string }).code)).toEqual(['LAYERLENS_LENS_IMPL']);
    expect(warnings[0].message).toMatch(/lensImpl/);
    expect(() => lensChoice({ lens: 'native', lensImpl: 'reference' })).toThrow(/disagree; give lensImpl only/);
  });
});
