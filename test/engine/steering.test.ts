// Steering vectors and control vectors against the independent float64 reference
// (test/reference/gpt2-f64.ts): the directions are recomputed here from the reference's residuals
// (PCA by a Jacobi eigendecomposition, not power iteration), and the steered forward is the reference
// with the same additions as plain interventions. Synthetic checkpoint with random weights (4 blocks).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeLayers, generate, steeringVector, writeControlVector, type ControlVector, type Model } from '../../lib/index.js';
import { encode } from '../../lib/tokens/tokenizer.js';
import { checkpoint } from '../helpers/checkpoints.js';
import { useTestModel } from '../helpers/fixtures.js';
import { argmax, forwardReference, relativeL2Error, type RefIntervention, type RefModel } from '../reference/gpt2-f64.js';

const wide = useTestModel(() => checkpoint('l4-d128-prefix', { layers: 4, embd: 128, heads: 8, ctx: 64, prefix: true, seed: 7 }));
let model: Model;
let ref: RefModel;
beforeAll(() => ({ model, ref } = wide));

const tmp = mkdtempSync(join(tmpdir(), 'layerlens-steer-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const POSITIVE = ['I love this, it is wonderful', 'What a great day', 'She was happy and kind', 'The food was delicious'];
const NEGATIVE = ['I hate this, it is awful', 'What a terrible day', 'She was sad and cruel', 'The food was disgusting'];
const D = 128;

/** The reference's blocks.L.resid_post rows of a prompt's tokens (all positions). */
function refResid(ids: number[], layer: number): Float64Array[] {
  const acts = forwardReference(ref, ids, { logits: 'none' });
  return ids.map((_, p) => acts.row(`blocks.${layer}.resid_post`, p));
}

function sub(a: ArrayLike<number>, b: ArrayLike<number>): number[] {
  return Array.from({ length: a.length }, (_, j) => a[j] - b[j]);
}

function mean(rows: number[][]): number[] {
  return rows[0].map((_, j) => rows.reduce((s, r) => s + r[j], 0) / rows.length);
}

function norm(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  return Math.sqrt(s);
}

/** Eigenvector of the largest eigenvalue of a small symmetric matrix, by cyclic Jacobi rotations. */
function topEigenvector(a: number[][]): number[] {
  const n = a.length;
  const m = a.map((r) => [...r]);
  const v: number[][] = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += m[p][q] ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        if (m[p][q] === 0) continue;
        const theta = (m[q][q] - m[p][p]) / (2 * m[p][q]);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const mkp = m[k][p];
          const mkq = m[k][q];
          m[k][p] = c * mkp - s * mkq;
          m[k][q] = s * mkp + c * mkq;
        }
        for (let k = 0; k < n; k++) {
          const mpk = m[p][k];
          const mqk = m[q][k];
          m[p][k] = c * mpk - s * mqk;
          m[q][k] = s * mpk + c * mqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k][p];
          const vkq = v[k][q];
          v[k][p] = c * vkp - s * vkq;
          v[k][q] = s * vkp + c * vkq;
        }
      }
    }
  }
  let best = 0;
  for (let i = 1; i < n; i++) if (m[i][i] > m[best][best]) best = i;
  return v.map((row) => row[best]);
}

describe('steeringVector', () => {
  it("method 'mean', last token: the mean of the paired blocks.N.resid_post differences, for direction.N", async () => {
    const cv = await steeringVector({ model, positive: POSITIVE, negative: NEGATIVE, layers: [3, 1] });
    expect(cv.modelHint).toBe('gpt2');
    expect([...cv.directions.keys()]).toEqual([1, 3]);
    for (const n of [1, 3]) {
      const diffs = POSITIVE.map((p, i) => {
        const a = refResid(encode(p), n);
        const b = refResid(encode(NEGATIVE[i]), n);
        return sub(a[a.length - 1], b[b.length - 1]);
      });
      const expected = mean(diffs);
      expect(relativeL2Error(cv.directions.get(n)!, expected), `direction.${n}`).toBeLessThan(1e-4);
    }
  });

  it("method 'pca': the unit top principal direction of the uncentred differences, pointing from negative to positive", async () => {
    const cv = await steeringVector({ model, positive: POSITIVE, negative: NEGATIVE, layers: [2], method: 'pca' });
    const diffs = POSITIVE.map((p, i) => {
      const a = refResid(encode(p), 2);
      const b = refResid(encode(NEGATIVE[i]), 2);
      return sub(a[a.length - 1], b[b.length - 1]);
    });
    // top right singular vector of D from the Gram matrix D Dᵀ's top eigenvector u: Dᵀu / ‖Dᵀu‖
    const gram = diffs.map((r) => diffs.map((s) => r.reduce((acc, x, j) => acc + x * s[j], 0)));
    const u = topEigenvector(gram);
    let expected = Array.from({ length: D }, (_, j) => diffs.reduce((acc, r, i) => acc + r[j] * u[i], 0));
    const len = norm(expected);
    expected = expected.map((x) => x / len);
    const m = mean(diffs);
    if (expected.reduce((acc, x, j) => acc + x * m[j], 0) < 0) expected = expected.map((x) => -x);
    const got = cv.directions.get(2)!;
    expect(norm(got)).toBeCloseTo(1, 6);
    expect(relativeL2Error(got, expected)).toBeLessThan(1e-4);
  });

  it("position 'all', readFrom 'previous-block', normalize: cvector-generator's recipe (padding with ' ', zero rows dropped)", async () => {
    const positive = ['The cat sat on the mat', 'Yes'];
    const negative = ['The cat ran', 'No, never'];
    const cv = await steeringVector({ model, positive, negative, layers: [2], position: 'all', readFrom: 'previous-block', normalize: true });
    const rows: number[][] = [];
    positive.forEach((p, i) => {
      const a = encode(p);
      const b = encode(negative[i]);
      const len = Math.max(a.length, b.length);
      while (a.length < len) a.push(220);
      while (b.length < len) b.push(220);
      const ra = refResid(a, 1);
      const rb = refResid(b, 1);
      for (let t = 0; t < len; t++) {
        const d = sub(ra[t], rb[t]);
        if (d.some((x) => Math.abs(x) > 1e-6)) rows.push(d);
      }
    });
    // "The cat" is shared: its two positions are dropped, the rest (4 + 2) kept
    expect(rows.length).toBe(encode(positive[0]).length - 2 + Math.max(encode(positive[1]).length, encode(negative[1]).length));
    const m = mean(rows);
    const len = norm(m);
    expect(
      relativeL2Error(
        cv.directions.get(2)!,
        m.map((x) => x / len),
      ),
    ).toBeLessThan(1e-4);
  });

  it('refuses block 0, unpaired prompts and unknown methods', async () => {
    await expect(steeringVector({ model, positive: ['a'], negative: ['b'], layers: [0] })).rejects.toThrow(/block 0 cannot be steered/);
    await expect(steeringVector({ model, positive: ['a'], negative: ['b'], layers: [4] })).rejects.toThrow(/1\.\.3/);
    await expect(steeringVector({ model, positive: ['a', 'b'], negative: ['c'] })).rejects.toThrow(/negative/);
    await expect(steeringVector({ model, positive: ['a'], negative: ['b'], method: 'svd' as 'pca' })).rejects.toThrow(/method/);
    await expect(steeringVector({ model, positive: ['same'], negative: ['same'] })).rejects.toThrow(/no difference/);
  });
});

describe('controlVectors', () => {
  const PROMPT = 'The weather today is';
  let a: ControlVector;
  let fileB: string;
  let b: ControlVector;
  beforeAll(async () => {
    a = await steeringVector({ model, positive: POSITIVE, negative: NEGATIVE, method: 'pca' });
    b = {
      modelHint: 'gpt2',
      directions: new Map([
        [1, Float32Array.from({ length: D }, (_, j) => Math.sin(j))],
        [3, Float32Array.from({ length: D }, (_, j) => Math.cos(j * 0.7))],
        [9, Float32Array.from({ length: D }, () => 100)], // beyond the model's blocks: ignored, as in llama.cpp
      ]),
    };
    fileB = join(tmp, 'b.gguf');
    await writeControlVector(fileB, b);
  });

  /** The reference's edits: Σ scale · direction.N at blocks.N.resid_post, every position, N in [lo, hi] ∩ 1..3. */
  function refEdits(scaleA: number, scaleB: number, lo: number, hi: number): RefIntervention[] {
    const out: RefIntervention[] = [];
    for (let n = Math.max(1, lo); n <= Math.min(3, hi); n++) {
      const v = new Float64Array(D);
      for (const [cv, s] of [
        [a, scaleA],
        [b, scaleB],
      ] as const) {
        const dir = cv.directions.get(n);
        if (dir) for (let j = 0; j < D; j++) v[j] += s * dir[j];
      }
      out.push({ hook: `blocks.${n}.resid_post`, op: 'add', vector: v });
    }
    return out;
  }

  it('adds the scaled sum at blocks.N.resid_post for N in the layer range: every hook matches the reference', async () => {
    const ids = encode(PROMPT);
    for (const range of [undefined, [2, 3] as [number, number]]) {
      const r = await decodeLayers(PROMPT, {
        model,
        hooks: 'all',
        positions: 'all',
        vectors: true,
        controlVectors: [
          { vector: a, scale: 4 },
          { path: fileB, scale: -0.5 },
        ],
        ...(range ? { controlVectorLayerRange: range } : {}),
      });
      const expected = forwardReference(ref, ids, { interventions: refEdits(4, -0.5, range?.[0] ?? 1, range?.[1] ?? 4) });
      let checked = 0;
      for (const row of r.hooks) {
        if (!row.vector || row.kind === 'attn_head_out') continue;
        expect(relativeL2Error(row.vector, expected.row(row.name, row.position)), `${row.name} at ${row.position}`).toBeLessThan(1e-4);
        checked++;
      }
      expect(checked).toBeGreaterThan(ids.length * 20);
      // the lens of the last block is the steered model's own prediction
      const last = r.get('resid_post', 3, ids.length - 1);
      const logits = expected.row('logits', ids.length - 1);
      expect(r.prediction.id).toBe(argmax(logits));
      for (const t of last.top!) expect(t.logit).toBeCloseTo(logits[t.id], 3);
    }
  });

  it('a control vector changes the run (the check above can fail)', async () => {
    const clean = await decodeLayers(PROMPT, { model, hooks: ['blocks.3.resid_post'], vectors: true });
    const steered = await decodeLayers(PROMPT, { model, hooks: ['blocks.3.resid_post'], vectors: true, controlVectors: [{ vector: a, scale: 4 }] });
    expect(relativeL2Error(steered.hooks[0].vector!, clean.hooks[0].vector!)).toBeGreaterThan(1e-2);
  });

  it('generate steers the generated tokens too, as a full forward of each prefix with the additions does', async () => {
    const ids = encode(PROMPT);
    const edits = refEdits(30, 2, 1, 4);
    const expected: number[] = [];
    const promptOnly: number[] = [];
    for (const [out, steerNew] of [
      [expected, true],
      [promptOnly, false],
    ] as const) {
      const seq = [...ids];
      for (let s = 0; s < 8; s++) {
        const list = steerNew ? edits : edits.map((e) => ({ ...e, positions: ids.map((_, p) => p) }));
        const next = argmax(forwardReference(ref, seq, { logits: 'last', interventions: list }).row('logits', seq.length - 1));
        out.push(next);
        seq.push(next);
      }
    }
    const r = await generate(PROMPT, {
      model,
      maxNewTokens: 8,
      stopAtEndOfText: false,
      controlVectors: [
        { vector: a, scale: 30 },
        { path: fileB, scale: 2 },
      ],
    });
    expect(r.tokens.map((t) => t.id)).toEqual(expected);
    // only meaningful if steering the new tokens themselves matters here
    expect(promptOnly).not.toEqual(expected);
  });

  it('checks its options', async () => {
    await expect(decodeLayers('x', { model, controlVectors: [{ vector: a }], controlVectorLayerRange: [3, 1] })).rejects.toThrow(/A ≤ B/);
    await expect(decodeLayers('x', { model, controlVectorLayerRange: [1, 2] })).rejects.toThrow(/controlVectors/);
    await expect(decodeLayers('x', { model, controlVectors: [{ path: join(tmp, 'missing.gguf') }] })).rejects.toThrow(/ENOENT/);
    const narrow: ControlVector = { modelHint: 'gpt2', directions: new Map([[1, new Float32Array(64)]]) };
    await expect(decodeLayers('x', { model, controlVectors: [{ vector: narrow }] })).rejects.toThrow(/64 values, the model's residual 128/);
    await expect(decodeLayers('x', { model, controlVectors: [{ vector: a, scale: NaN }] })).rejects.toThrow(/scale/);
  });
});
