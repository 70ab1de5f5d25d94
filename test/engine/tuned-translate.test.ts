// The tuned lens's translation as a native op (native/lens/translate.cpp, through translateGroups):
// against an independent float64 computation written here, against the plain-TS translateRows (the
// readable reference), and every size check the op makes before ggml sees its inputs.
import { describe, expect, it } from 'vitest';
import { translateGroups, translateRows, type TunedLens } from '../../lib/index.js';
import { native } from '../../lib/model/native.js';
import { signedRandom } from '../helpers/random.js';

function randomLens(d: number, n: number, seed: number, bias: boolean): TunedLens {
  const rnd = signedRandom(seed);
  return {
    config: { baseModel: 'test', dModel: d, numLayers: n, bias },
    translators: Array.from({ length: n }, () => ({
      weight: Float32Array.from({ length: d * d }, () => rnd() / Math.sqrt(d)),
      bias: bias ? Float32Array.from({ length: d }, () => rnd() * 0.5) : null,
    })),
    source: 'test',
  };
}

/** h + A·h + b of every row, in float64, straight from the definition. */
function translate64(lens: TunedLens, t: number, rows: Float32Array): Float64Array {
  const d = lens.config.dModel;
  const { weight: A, bias: b } = lens.translators[t];
  const out = new Float64Array(rows.length);
  for (let r = 0; r < rows.length / d; r++) {
    for (let o = 0; o < d; o++) {
      let s = rows[r * d + o] + (b ? b[o] : 0);
      for (let j = 0; j < d; j++) s += A[o * d + j] * rows[r * d + j];
      out[r * d + o] = s;
    }
  }
  return out;
}

/** The largest relative L2 error of a row: ‖x − y‖ / ‖y‖ over the rows of width d. */
function worstRelative(x: ArrayLike<number>, y: ArrayLike<number>, d = 64): number {
  if (x.length !== y.length) throw new Error(`length ${x.length} vs ${y.length}`);
  let worst = 0;
  for (let r = 0; r < y.length / d; r++) {
    let num = 0;
    let den = 0;
    for (let j = r * d; j < (r + 1) * d; j++) {
      num += (x[j] - y[j]) ** 2;
      den += y[j] ** 2;
    }
    worst = Math.max(worst, Math.sqrt(num / den));
  }
  return worst;
}

function randomRows(count: number, d: number, seed: number): Float32Array {
  const rnd = signedRandom(seed);
  return Float32Array.from({ length: count * d }, () => rnd() * 3);
}

describe('the native translation', () => {
  for (const bias of [true, false]) {
    it(`matches float64 and translateRows for groups in any order, repeated, empty and batched (bias ${bias})`, async () => {
      // an odd width too: the op pads rows to a multiple of 16
      const d = bias ? 96 : 37;
      const lens = randomLens(d, 5, bias ? 1 : 2, bias);
      const groups = [
        { translator: 3, rows: randomRows(7, d, 10) },
        { translator: 0, rows: randomRows(1, d, 11) },
        { translator: 3, rows: randomRows(4, d, 12) },
        { translator: 4, rows: new Float32Array(0) },
        { translator: 1, rows: randomRows(26, d, 13) },
        // translators 1, 2, 3 with 26 rows each (an empty group between): one batched product
        { translator: 2, rows: randomRows(26, d, 14) },
        { translator: 0, rows: new Float32Array(0) },
        { translator: 3, rows: randomRows(26, d, 15) },
        { translator: 4, rows: randomRows(25, d, 16) },
      ];
      const out = await translateGroups(lens, groups, { threads: 2 });
      expect(out.map((x) => x.length)).toEqual(groups.map((g) => g.rows.length));
      groups.forEach((g, i) => {
        if (g.rows.length === 0) return;
        const want = translate64(lens, g.translator, g.rows);
        expect(worstRelative(out[i], want, d), `group ${i} vs float64`).toBeLessThan(1e-5);
        const ts = translateRows(lens.translators[g.translator], g.rows, g.rows.length / d, d);
        expect(worstRelative(out[i], ts, d), `group ${i} vs translateRows`).toBeLessThan(1e-5);
      });
      // the translation moves the rows (else the comparisons above could not fail)
      expect(worstRelative(out[4], groups[4].rows, d)).toBeGreaterThan(0.1);
      const viaReference = await translateGroups(lens, groups, { impl: 'reference' });
      viaReference.forEach((r, i) =>
        expect(Array.from(r)).toEqual(Array.from(translateRows(lens.translators[groups[i].translator], groups[i].rows, groups[i].rows.length / d, d))),
      );
    });
  }

  it('gives the same rows with 1, 2 or 7 threads (ranges split inside groups), and for one call or one call per group', async () => {
    const d = 64;
    const lens = randomLens(d, 3, 3, true);
    const groups = [0, 1, 2].map((t) => ({ translator: t, rows: randomRows(5, d, 20 + t) }));
    const [one, two, seven] = await Promise.all([1, 2, 7].map((threads) => translateGroups(lens, groups, { threads })));
    for (let i = 0; i < 3; i++) expect(worstRelative(two[i], one[i])).toBeLessThan(1e-6);
    for (let i = 0; i < 3; i++) expect(worstRelative(seven[i], one[i])).toBeLessThan(1e-6);
    const single = await Promise.all(groups.map((g) => translateGroups(lens, [g], { threads: 1 })));
    for (let i = 0; i < 3; i++) expect(worstRelative(single[i][0], one[i])).toBeLessThan(1e-6);
  });

  it('checks every size before ggml sees it', async () => {
    const { Translators } = native();
    const d = 8;
    const w = new Float32Array(d * d);
    expect(() => new Translators({ d, weights: [new Float32Array(d * d - 1)] })).toThrow(/weight 0 has 63 values, a \[8, 8\] matrix has 64/);
    expect(() => new Translators({ d, weights: [] })).toThrow(/expected 1\.\.65536 weight matrices, got 0/);
    expect(() => new Translators({ d: 0, weights: [w] })).toThrow(/d must be in 1\.\./);
    expect(() => new Translators({ d, weights: [w, w], biases: [new Float32Array(d)] })).toThrow(/1 biases for 2 weight matrices/);
    expect(() => new Translators({ d, weights: [w], biases: [new Float32Array(d + 1)] })).toThrow(/bias 0 has 9 values, expected 8/);
    expect(() => new Translators({ d, weights: [new Float64Array(d * d) as unknown as Float32Array] })).toThrow(TypeError);
    expect(() => new Translators({ d, weights: [w], extra: 1 } as never)).toThrow(/unknown option 'extra'/);
    const t = new Translators({ d, weights: [w, w] });
    expect(t.bytes).toBeGreaterThanOrEqual(2 * d * d * 4);
    const rows = new Float32Array(3 * d);
    await expect(t.translate({ rows, groups: Int32Array.of(2, 3) })).rejects.toThrow(/group 0 names translator 2; there are 2/);
    await expect(t.translate({ rows, groups: Int32Array.of(0, -1) })).rejects.toThrow(/group 0 has -1 rows/);
    await expect(t.translate({ rows, groups: Int32Array.of(0, 2) })).rejects.toThrow(/cover 2 rows of 8 values, but 24 values were given/);
    expect(() => t.translate({ rows, groups: Int32Array.of(0) })).toThrow(/pairs/);
    await expect(t.translate({ rows, groups: Int32Array.of(0, 1, 1, 2) })).resolves.toHaveLength(3 * d);
    t.dispose();
    expect(() => t.translate({ rows, groups: Int32Array.of(0, 3) })).toThrow(/disposed/);
    const lens = randomLens(d, 2, 4, true);
    await expect(translateGroups(lens, [{ translator: 2, rows }])).rejects.toThrow(/translator 2 is outside 0\.\.1/);
    await expect(translateGroups(lens, [{ translator: 0, rows: new Float32Array(d + 1) }])).rejects.toThrow(/whole rows of 8/);
  });
});
